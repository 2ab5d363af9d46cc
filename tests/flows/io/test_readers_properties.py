"""Property-based tests (hypothesis): for any bytes, encoding, line ending and record shape, nothing is lost.

Reader level: every file read without an exception escaping; every non-blank line of a line-based
file is one document or one quarantine row naming file:line; every row is storable (valid UTF-8,
strict-JSON meta). Run level: a real shard stage per file (the Prefect task's function, in-process)
and the run summary: read = kept + dropped + quarantined per file, equal to the rows on disk.
Bounded (max_examples, deadline=None) so the module stays well under a minute on a loaded 2-core box.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flows.io.readers import read_input_file
from flows.io.recipe import InputSpec

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "gb18030", "big5", "shift_jis"]
ASCII_COMPATIBLE = {"utf-8", "utf-8-sig", "gb18030", "big5", "shift_jis"}  # no trail byte is ever \n or \r
NEWLINES = ["\n", "\r\n", "\r"]
FORMATS = ["jsonl", "csv", "text-line", "text-paragraph", "text-file", "json"]

# Hand-picked hostile JSON lines next to generated ones: each is valid JSON syntax to Python's json module.
HOSTILE_JSON = [
    '{"text": "a\\ud800b"}', '{"text": "ok", "k": "\\udfff"}', '{"text": "x", "n": NaN}', '{"text": "x", "n": -Infinity}',
    '{"text": "x", "big": 1e999}', '{"text": "x", "n": 123456789012345678901234567890}', '{"text": ["a", "b"]}',
    '{"text": {"a": 1}}', '{"text": null}', "[1, 2]", '"just a string"', "null", "{}", '{"text": "dup", "text": "dup2"}',
    "[" * 5000 + "]" * 5000, '{"text": "' + "\\u0000" * 10 + '"}', '{"text": "\\u2028\\u0085 odd breaks"}',
    '{"text": "tab\\tand\\fform"}', '{"text": "中文", "meta": {"nested": [1, 2.5, {"deep": NaN}]}}',
]

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=3),
                                                                st.dictionaries(st.text(max_size=6), kids, max_size=3)),
                           max_leaves=8)
texts = st.text(max_size=40)  # any code point but surrogates, NUL and odd line breaks included


@st.composite
def json_records(draw) -> str:
    """One JSON Lines record: an object with a text and odd fields, an array, a scalar, or a hostile literal."""
    kind = draw(st.sampled_from(["object", "object", "object", "value", "hostile"]))
    if kind == "hostile":
        return draw(st.sampled_from(HOSTILE_JSON))
    if kind == "value":
        value = draw(json_values)
    else:
        value = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=3))
        value["text"] = draw(st.one_of(texts, texts, json_values))
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


@st.composite
def csv_rows(draw) -> str:
    """One CSV row, sometimes with quotes, embedded separators and newlines, or the wrong field count."""
    cells = draw(st.lists(st.text(max_size=10), min_size=1, max_size=3))
    quote = draw(st.booleans())
    return ",".join('"' + c.replace('"', '""') + '"' if quote else c for c in cells)


@dataclass
class RawFile:
    """A generated input file and what is known about it."""

    name: str
    data: bytes
    options: dict
    encoding: str
    newline: str
    damaged: bool
    content: bytes = b""  # the bytes before compression (= data when not compressed)
    text: str | None = None  # the text encoded, when the file was generated from text and not damaged

    def must_yield(self) -> bool:
        """True when the file certainly holds something a reader must report (a record or a quarantine row)."""
        if self.name.endswith((".csv", ".csv.gz", ".json", ".json.gz")):
            return False  # a header-only CSV and an empty JSON array are legitimately empty
        if self.text is not None:
            return bool(self.text.strip())
        boms = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
        return not self.content.startswith(boms) and any(0x21 <= b <= 0x7E for b in self.content)

    def exact_lines(self) -> int | None:
        """The number of records a line-based reader must report for this file, when it is certain; else None."""
        if self.damaged or self.encoding not in ASCII_COMPATIBLE or self.newline == "\r" or b"\x00" in self.data:
            return None
        if not (self.name.endswith(".jsonl") or self.options.get("unit") == "line"):
            return None
        body = self.data.removeprefix(b"\xef\xbb\xbf")
        return sum(1 for line in body.split(b"\n") if line.strip())


@st.composite
def raw_files(draw, index: int = 0) -> RawFile:
    """A file of records in some format, encoding and line ending, maybe damaged; or arbitrary bytes."""
    fmt = draw(st.sampled_from(FORMATS + ["bytes"]))
    if fmt == "bytes":
        ext = draw(st.sampled_from([".jsonl", ".csv", ".txt", ".json"]))
        data = draw(st.binary(max_size=600))
        return RawFile(f"f{index}{ext}", data, {"unit": "line"} if ext == ".txt" else {}, "?", "\n", True, data)
    encoding = draw(st.sampled_from(ENCODINGS))
    newline = draw(st.sampled_from(NEWLINES))
    if fmt == "jsonl":
        lines = draw(st.lists(json_records(), max_size=8))
    elif fmt == "json":
        lines = ["[" + ",".join(draw(st.lists(json_records(), max_size=5))) + "]"]
    elif fmt == "csv":
        lines = ["text,author"] + draw(st.lists(csv_rows(), max_size=6))
    else:
        lines = draw(st.lists(texts, max_size=8))
    body = newline.join(lines) + draw(st.sampled_from(["", newline]))
    data = body.encode(encoding, errors="replace")  # legacy codecs: unencodable characters become '?'
    damaged = False
    if draw(st.integers(0, 3)) == 0:  # damage: random bytes spliced in, a NUL run, or a cut
        damaged = True
        at = draw(st.integers(0, len(data)))
        junk = draw(st.one_of(st.binary(min_size=1, max_size=40), st.just(b"\x00" * draw(st.integers(1, 5000)))))
        data = data[:at] + junk + data[at:] if draw(st.booleans()) else data[:at]
    ext = {"jsonl": ".jsonl", "json": ".json", "csv": ".csv"}.get(fmt, ".txt")
    options = {"unit": fmt.split("-", 1)[1]} if fmt.startswith("text-") else {}
    name = f"f{index}{ext}"
    content = data
    if draw(st.integers(0, 7)) == 0:  # compressed, sometimes cut short
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
            damaged = True
        name += ".gz"
    return RawFile(name, data, options, encoding, newline, damaged, content, None if damaged else body)


def check_row_storable(row: dict) -> None:
    """A document row holds valid UTF-8 text and strict-JSON meta (no NaN/Infinity)."""
    row["text"].encode("utf-8")
    if row["meta"] is not None:
        def strict(c: str):
            raise AssertionError(f"non-standard JSON constant {c} in meta")

        meta = json.loads(row["meta"], parse_constant=strict)
        assert isinstance(meta, dict)


def read_one(f: RawFile, root: Path) -> tuple[list[dict], list[dict]]:
    """Write a generated file and read it through the registry; return documents and quarantine rows."""
    path = root / f.name
    path.write_bytes(f.data)
    spec = InputSpec(source="p", paths=[str(path)], options=f.options)
    docs: list[dict] = []
    bad: list[dict] = []
    for batch in read_input_file(spec, str(path), 5):
        docs += batch.docs.to_pylist()
        bad += batch.quarantine.to_pylist()
    return docs, bad


# Failures hypothesis found once, replayed on every run (it draws them only now and then).
SURROGATE = RawFile("f0.jsonl", b'{"text": "ok"}\n{"text": "a\\ud800b"}\n', {}, "utf-8", "\n", False,
                    b'{"text": "ok"}\n{"text": "a\\ud800b"}\n', '{"text": "ok"}\n{"text": "a\\ud800b"}\n')
CUT_GZ = RawFile("f0.txt.gz", b"", {"unit": "line"}, "utf-8", "\n", True, b"lost\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(f=raw_files())
@example(f=SURROGATE)
@example(f=CUT_GZ)
def test_readers_account_for_every_record_of_any_input(f: RawFile):
    with tempfile.TemporaryDirectory() as tmp:
        docs, bad = read_one(f, Path(tmp))
        path = str(Path(tmp) / f.name)
    for row in docs:
        check_row_storable(row)
        assert row["source_uri"].startswith(path)
    for row in bad:
        assert row["source_uri"].startswith(path) and row["error"] and row["detail"], row
    assert len({d["id"] for d in docs}) == len(docs), "two documents share an id"
    expected = f.exact_lines()
    if expected is not None:
        assert len(docs) + len(bad) == expected, (len(docs), [b["error"] for b in bad], expected)
        lines = {int(r["source_uri"].rsplit(":", 1)[1]) for r in docs + bad}
        assert len(lines) == expected, "two records claim the same line"
    if f.must_yield():
        assert docs or bad, "a file with content vanished without a trace"


OPS = """ops:
  - op: normalize_whitespace
  - op: drop_short_docs
    min_chars: 3
"""


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=st.integers(1, 3).flatmap(lambda n: st.tuples(*(raw_files(i) for i in range(n)))))
def test_a_run_conserves_every_record_per_file(files: tuple[RawFile, ...]):
    from flows.curate import run_shard_stage, summarise_run
    from flows.plan import plan_shards
    from flows.io.recipe import parse_recipe

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        raw = root / "raw"
        raw.mkdir()
        inputs = ""
        for i, f in enumerate(files):  # one input per file: reader options are per input
            (raw / f.name).write_bytes(f.data)
            inputs += f"  - source: p{i}\n    paths: [{raw / f.name}]\n    options: {json.dumps(f.options)}\n"
        text = f"name: prop\nworkspace: {root / 'ws'}\ninputs:\n{inputs}" + OPS + "run: {batch_rows: 4}\n"
        recipe = parse_recipe(text, "prop.yaml")
        shards = plan_shards(recipe)
        run_dir = root / "ws" / "runs" / "r1"
        run_dir.mkdir(parents=True)
        results = [run_shard_stage.fn("prop.yaml", text, str(run_dir), ref, 0) for ref in shards]
        summary = summarise_run(recipe, shards, [results], [])
        assert summary["conservation_ok"], summary["per_file"]
        by_name = {Path(r["path"]).name: r for r in summary["per_file"]}
        for f in files:
            row = by_name[f.name]
            assert row["read"] == row["kept"] + row["dropped"] + row["quarantined"]
            expected = f.exact_lines()
            if expected is not None:
                assert row["read"] == expected
        for ref in shards:  # the tallies match the rows written
            part = f"part-{ref.shard:05d}.parquet"
            on_disk = {d: pq.read_metadata(run_dir / d / part).num_rows if (run_dir / d / part).exists() else 0
                       for d in ("kept", "dropped", "quarantine")}
            row = summary["per_file"][ref.shard]
            assert (on_disk["kept"], on_disk["dropped"], on_disk["quarantine"]) == (row["kept"], row["dropped"], row["quarantined"])

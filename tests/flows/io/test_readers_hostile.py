"""Hostile input found by hand (issue 15): each case ends in documents or quarantine rows naming file:line, never silence."""

from __future__ import annotations

import json
import os

import pytest

from flows.io.readers import list_input_files, read_input_file
from flows.io.recipe import InputSpec
from tests.flows.io.test_readers_formats import meta, read_all


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in records)


@pytest.mark.parametrize("name", ["zeros.jsonl", "zeros.txt", "zeros.csv", "zeros.json"])
def test_a_file_of_nul_bytes_is_quarantined_not_lost(tmp_path, name):
    f = tmp_path / name
    f.write_bytes(b"\x00" * (1 << 20))  # 1 MiB: a preallocated file never written, a crashed copy
    docs, bad = read_all(f)
    assert docs == []
    assert len(bad) == 1, bad
    # CSV: the NUL line is the header, without which no row can be mapped: the file is unreadable.
    assert bad[0]["error"] == ("unreadable_file" if name.endswith(".csv") else "nul_byte")
    assert bad[0]["source_uri"].startswith(str(f))
    assert "NUL" in bad[0]["detail"]


def test_nul_padding_before_valid_lines_loses_only_the_padding(tmp_path):
    good = [{"text": f"第{i}行 valid record"} for i in range(10)]
    f = tmp_path / "padded.jsonl"
    f.write_bytes(b"\x00" * 70_000 + b"\n" + jsonl(good))
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == [g["text"] for g in good]
    assert [(b["source_uri"], b["error"]) for b in bad] == [(f"{f}:1", "nul_byte")]
    assert "70000 NUL bytes" in bad[0]["detail"]
    assert all(meta(d).get("_encoding", "utf-8") == "utf-8" for d in docs)


def test_nul_lines_in_utf16_are_not_blank(tmp_path):
    """A UTF-16 line of U+0000 code units is data (binary junk), not a blank separator."""
    f = tmp_path / "u16.txt"
    body = "第一行文字\n".encode("utf-16-le") + b"\x00" * 40 + "\n第三行文字\n".encode("utf-16-le")
    f.write_bytes(b"\xff\xfe" + body)
    docs, bad = read_all(f, options={"unit": "line"})
    assert [d["text"] for d in docs] == ["第一行文字", "第三行文字"]
    assert [(b["source_uri"], b["error"]) for b in bad] == [(f"{f}:2", "nul_byte")]


def mixed_file() -> tuple[list[bytes], list[str]]:
    """A UTF-8 JSONL dump with one GB18030 line (4) and one broken UTF-8 sequence (7)."""
    texts = [f"第{i}条：今天的新闻内容很多" for i in range(9)]
    lines = [json.dumps({"text": t}, ensure_ascii=False).encode("utf-8") for t in texts]
    lines[3] = json.dumps({"text": texts[3]}, ensure_ascii=False).encode("gb18030")
    lines[6] = b'{"text": "broken \xe4\xb8 utf8 mid"}'
    return lines, texts


def test_mixed_encodings_are_decided_per_line_and_broken_bytes_quarantined(tmp_path):
    lines, texts = mixed_file()
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == texts[:6] + texts[7:]  # every good line with its own text, none repaired by luck
    by_text = {d["text"]: meta(d) for d in docs}
    assert all("_mojibake" not in m for m in by_text.values())
    gb = by_text[texts[3]]
    assert gb["_encoding"] == "gb18030" and "per record" in gb["_encoding_method"]
    assert all("_encoding" not in by_text[t] for t in texts if t not in (texts[3], texts[6]))  # plain UTF-8 JSON: no entry
    assert [(b["source_uri"], b["error"]) for b in bad] == [(f"{f}:7", "decode_error")]
    assert "do not decode as utf-8" in bad[0]["detail"]
    assert not any("涓" in d["text"] for d in docs)


def test_a_utf8_line_in_a_gb18030_file_is_read_as_utf8(tmp_path):
    texts = [f"第{i}首：春眠不觉晓，处处闻啼鸟。" for i in range(8)]
    raw = [t.encode("gb18030") for t in texts]
    raw[5] = texts[5].encode("utf-8")  # strict GB18030 reads these bytes too, as mojibake
    f = tmp_path / "gb.txt"
    f.write_bytes(b"\n".join(raw))
    docs, bad = read_all(f, options={"unit": "line"}, mojibake="off")
    assert bad == [] and [d["text"] for d in docs] == texts
    m = meta(docs[5])
    assert m["_encoding"] == "utf-8" and "per record" in m["_encoding_method"] and "gb18030" in m["_encoding_method"]
    assert meta(docs[0])["_encoding"] == "gb18030"


def test_symlink_out_of_the_input_folder_is_reported_not_read(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("a real document", encoding="utf-8")
    os.symlink(outside, inp / "x.txt")
    os.symlink(inp / "a.txt", inp / "alias.txt")  # a link that stays inside is read as usual
    docs, bad = read_all(inp)
    assert sorted(d["text"] for d in docs) == ["a real document", "a real document"]
    assert [(b["source_uri"], b["error"]) for b in bad] == [(str(inp / "x.txt"), "symlink_outside_input")]
    assert str(outside) in bad[0]["detail"] and "follow_symlinks" in bad[0]["detail"]
    assert bad[0]["raw_excerpt"] == b""  # nothing of the target is read
    docs, bad = read_all(inp, follow_symlinks=True)
    assert bad == [] and "root:x:0:0:root:/root:/bin/bash\n" in {d["text"] for d in docs}


def test_symlinks_reached_by_a_glob_and_dangling_links_are_reported(tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_bytes(jsonl([{"text": "outside"}]))
    inp = tmp_path / "in"
    inp.mkdir()
    os.symlink(outside, inp / "x.jsonl")
    os.symlink(tmp_path / "missing.jsonl", inp / "gone.jsonl")
    spec = InputSpec(source="t", paths=[str(inp / "*.jsonl")])
    files = list_input_files(spec)
    assert files == [str(inp / "gone.jsonl"), str(inp / "x.jsonl")]  # listed, so counted per file
    errors = {}
    for f in files:
        for batch in read_input_file(spec, f, 10):
            assert batch.docs.num_rows == 0
            errors.update({r["source_uri"]: r["error"] for r in batch.quarantine.to_pylist()})
    assert errors == {str(inp / "gone.jsonl"): "broken_symlink", str(inp / "x.jsonl"): "symlink_outside_input"}


def test_a_symlinked_directory_out_of_the_input_is_not_walked(tmp_path):
    outside = tmp_path / "other"
    outside.mkdir()
    (outside / "o.txt").write_text("outside document", encoding="utf-8")
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("inside document", encoding="utf-8")
    os.symlink(outside, inp / "linked")
    docs, bad = read_all(inp)
    assert [d["text"] for d in docs] == ["inside document"]
    assert [(b["source_uri"], b["error"]) for b in bad] == [(str(inp / "linked"), "symlink_outside_input")]
    assert "directory" in bad[0]["detail"] and str(outside) in bad[0]["detail"]
    docs, bad = read_all(inp, follow_symlinks=True)
    assert bad == [] and sorted(d["text"] for d in docs) == ["inside document", "outside document"]


def test_an_explicitly_named_symlink_is_read(tmp_path):
    """The recipe names the link itself: that is the user's choice, not a link found while walking."""
    target = tmp_path / "t.txt"
    target.write_text("named on purpose", encoding="utf-8")
    link = tmp_path / "in" / "link.txt"
    link.parent.mkdir()
    os.symlink(target, link)
    docs, bad = read_all(link)
    assert bad == [] and [d["text"] for d in docs] == ["named on purpose"]


def test_a_list_as_text_is_quarantined_as_documented(tmp_path):
    f = tmp_path / "l.jsonl"
    f.write_bytes(b'{"text": ["a"]}\n{"text": ["line one", "line two"]}\n{"text": "fine"}\n')
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == ["fine"]
    assert [(b["source_uri"], b["error"]) for b in bad] == [(f"{f}:1", "text_not_string"), (f"{f}:2", "text_not_string")]
    assert "list" in bad[0]["detail"]


def test_nan_and_infinity_become_null_and_are_named_so_meta_stays_strict_json(tmp_path):
    f = tmp_path / "n.jsonl"
    f.write_bytes(b'{"text": "a", "score": NaN}\n{"text": "b", "x": [1, Infinity], "y": {"z": -Infinity}}\n'
                  b'{"text": "c", "score": 1.5e308}\n')
    docs, bad = read_all(f)
    assert bad == [] and [d["text"] for d in docs] == ["a", "b", "c"]
    metas = [json.loads(d["meta"], parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c} in meta"))
             for d in docs]
    assert metas[0] == {"score": None, "_non_finite": ["score"]}
    assert metas[1] == {"x": [1, None], "y": {"z": None}, "_non_finite": ["x[1]", "y.z"]}
    assert metas[2] == {"score": 1.5e308}


def test_nan_in_csv_text_is_just_text(tmp_path):
    """CSV cells are strings: 'NaN' is a word there, not a number."""
    f = tmp_path / "c.csv"
    f.write_text("text,score\nhello,NaN\n", encoding="utf-8")
    docs, bad = read_all(f)
    assert bad == [] and json.loads(docs[0]["meta"])["score"] == "NaN"


def test_parquet_nan_in_meta_is_null_not_invalid_json(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "score": [float("nan"), float("inf")]}), f)
    docs, bad = read_all(f)
    assert bad == [] and [d["text"] for d in docs] == ["a", "b"]
    for d in docs:
        m = json.loads(d["meta"], parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c} in meta"))
        assert m["score"] is None and m["_non_finite"] == ["score"]


def test_lone_surrogate_escapes_are_quarantined_in_text_and_escaped_in_meta(tmp_path):
    """Found by the property tests: JSON may escape half a surrogate pair, which no UTF-8 column can store."""
    f = tmp_path / "s.jsonl"
    f.write_bytes(b'{"text": "a\\ud800b"}\n{"text": "ok", "m": "\\udfff", "\\ud83d": 1}\n')
    docs, bad = read_all(f)
    assert [(b["source_uri"], b["error"]) for b in bad] == [(f"{f}:1", "invalid_unicode")]
    assert "U+D800" in bad[0]["detail"]
    assert [d["text"] for d in docs] == ["ok"]
    assert json.loads(docs[0]["meta"]) == {"m": "\udfff", "\ud83d": 1}  # kept, as JSON escapes
    docs[0]["meta"].encode("utf-8")


@pytest.mark.parametrize("name", ["cut.txt.gz", "cut.csv.gz", "cut.json.gz", "cut.jsonl.gz"])
def test_an_empty_or_cut_compressed_file_is_reported_by_every_line_reader(tmp_path, name):
    """Found by the property tests: an empty .txt.gz / .csv.gz / .json.gz vanished (only .jsonl.gz was reported)."""
    import gzip

    f = tmp_path / name
    f.write_bytes(b"")
    docs, bad = read_all(f, options={"unit": "line"} if ".txt" in name else {})
    assert docs == [] and [b["error"] for b in bad] == ["empty_file"]
    f.write_bytes(gzip.compress(b'{"text": "x"}\n' * 100)[:10])  # the header and nothing after it
    docs, bad = read_all(f, options={"unit": "line"} if ".txt" in name else {})
    assert docs == [] and [b["error"] for b in bad] == ["unreadable_file"]

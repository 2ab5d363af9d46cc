"""Round trips on real text: corpora written in every supported format and encoding, read back unchanged."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from flows.io.readers import list_input_files, read_input_file
from flows.io.recipe import InputSpec
from transforms.schema import make_doc_id, sha256_hex


def poems(corpora: Path, folder: str, pattern: str, n: int) -> list[dict]:
    """Return n real poems {title, author, text} from chinese-poetry."""
    out: list[dict] = []
    for f in sorted((corpora / "chinese-poetry" / folder).glob(pattern)):
        for p in json.loads(f.read_text(encoding="utf-8")):
            body = "\n".join(p.get("paragraphs") or [])
            if body:
                out.append({"title": p.get("title") or p.get("rhythmic") or "", "author": p.get("author", ""), "text": body})
            if len(out) == n:
                return out
    return out


@pytest.fixture(scope="module")
def song(corpora: Path) -> list[dict]:
    """Simplified-script Song ci."""
    return poems(corpora, "宋词", "ci.song.*.json", 40)


@pytest.fixture(scope="module")
def tang(corpora: Path) -> list[dict]:
    """Traditional-script Tang poems."""
    return poems(corpora, "全唐诗", "poet.tang.*.json", 40)


def read_all(path: Path | str, **spec_fields) -> tuple[list[dict], list[dict]]:
    """Read one input through the registry; return (documents, quarantine rows)."""
    spec = InputSpec(source="t", paths=[str(path)], **spec_fields)
    docs, bad = [], []
    for f in list_input_files(spec):
        for batch in read_input_file(spec, f, 7):  # a small batch size exercises batching
            docs.extend(batch.docs.to_pylist())
            bad.extend(batch.quarantine.to_pylist())
    return docs, bad


def meta(doc: dict) -> dict:
    return json.loads(doc["meta"] or "{}")


def encodable(items: list[dict], codec: str) -> list[dict]:
    """Keep the poems a legacy codec can represent (Big5 lacks some rare characters)."""
    out = []
    for p in items:
        try:
            p["text"].encode(codec)
            out.append(p)
        except UnicodeEncodeError:
            pass
    return out


@pytest.mark.parametrize(
    ("corpus", "codec", "expected"),
    [
        ("song", "gb18030", "gb18030"),
        ("song", "gbk", "gb18030"),
        ("song", "gb2312", "gb18030"),
        ("tang", "big5", "big5hkscs"),
        ("tang", "big5hkscs", "big5hkscs"),
        ("tang", "utf-16", "utf-16-le"),
        ("song", "utf-16-be", "utf-16-be"),
        ("song", "utf-8-sig", "utf-8"),
        ("tang", "utf-8", "utf-8"),
    ],
)
def test_text_tree_round_trips_in_every_encoding(corpus, codec, expected, request, tmp_path):
    items = encodable(request.getfixturevalue(corpus), codec)[:10]
    assert len(items) >= 5
    tree = tmp_path / "tree" / "sub"
    tree.mkdir(parents=True)
    for i, p in enumerate(items):  # one poem per file: whole-file documents, encoding detected per file
        (tree / f"{i:02d}.txt").write_bytes(p["text"].encode(codec))
    docs, bad = read_all(tmp_path / "tree")
    assert bad == []
    assert [d["text"] for d in docs] == [p["text"] for p in items]
    assert {meta(d)["_encoding"] for d in docs} == {expected}
    for i, d in enumerate(docs):
        raw = (tree / f"{i:02d}.txt").read_bytes()
        assert d["raw_sha256"] == sha256_hex(raw)
        assert d["source_uri"] == str(tree / f"{i:02d}.txt")
        assert d["id"] == make_doc_id("t", d["source_uri"], d["raw_sha256"])


def test_paragraph_and_line_units_keep_positions(song, tmp_path):
    f = tmp_path / "ci.txt"
    f.write_bytes("\r\n\r\n".join(p["text"].replace("\n", "\r\n") for p in song[:12]).encode("gb18030"))
    docs, bad = read_all(f, options={"unit": "paragraph"})
    assert bad == []
    assert [d["text"] for d in docs] == [p["text"] for p in song[:12]]
    first_lines = [int(d["source_uri"].rsplit(":", 1)[1]) for d in docs]
    assert first_lines[0] == 1 and first_lines[1] == song[0]["text"].count("\n") + 3
    lines, bad = read_all(f, options={"unit": "line"})
    assert bad == []
    assert [d["text"] for d in lines] == [l for p in song[:12] for l in p["text"].split("\n")]
    assert len({d["id"] for d in lines}) == len(lines)


def test_legacy_cjk_codecs_on_real_sentences(corpora, tmp_path):
    lingua = corpora / "lingua-sentences"
    for lang, codec, expected in (("ja", "shift_jis", "shift_jis"), ("ko", "euc-kr", "cp949"), ("zh", "gb18030", "gb18030")):
        sents = [s for s in lingua.joinpath(f"{lang}.txt").read_text(encoding="utf-8").splitlines()[:50] if s.strip()]
        sents = [s for s in sents if s.encode(codec, errors="ignore").decode(codec) == s]
        f = tmp_path / f"{lang}.txt"
        f.write_bytes("\n".join(sents).encode(codec))
        docs, bad = read_all(f, options={"unit": "line"})
        assert bad == [] and [d["text"] for d in docs] == sents, lang
        assert meta(docs[0])["_encoding"] == expected


def test_encoding_override_is_used_and_recorded(tang, tmp_path):
    f = tmp_path / "t.txt"
    poem = encodable(tang, "big5")[0]
    f.write_bytes(poem["text"].encode("big5"))
    docs, _ = read_all(f, encoding="big5")
    assert docs[0]["text"] == poem["text"]
    assert meta(docs[0])["_encoding_method"] == "override"


def jsonl_bytes(items: list[dict]) -> bytes:
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in items).encode("utf-8")


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz", ".zst"])
def test_jsonl_compressed_round_trip(song, tmp_path, suffix):
    raw = jsonl_bytes(song)
    packed = {"": raw, ".gz": gzip.compress(raw), ".bz2": bz2.compress(raw), ".xz": lzma.compress(raw),
              ".zst": zstandard.ZstdCompressor().compress(raw)}[suffix]
    f = tmp_path / f"ci.jsonl{suffix}"
    f.write_bytes(packed)
    docs, bad = read_all(f)
    assert bad == []
    assert [d["text"] for d in docs] == [p["text"] for p in song]
    assert [meta(d)["author"] for d in docs] == [p["author"] for p in song]
    assert docs[3]["source_uri"] == f"{f}:4"
    assert docs[3]["raw_sha256"] == sha256_hex(raw.split(b"\n")[3])


def test_jsonl_field_mapping(song, tmp_path):
    f = tmp_path / "m.jsonl"
    f.write_bytes("".join(json.dumps({"body": p["text"], "who": p["author"], "junk": 1}, ensure_ascii=False) + "\n"
                          for p in song[:5]).encode())
    docs, bad = read_all(f, text_field="body", meta_fields=["who"])
    assert bad == [] and [d["text"] for d in docs] == [p["text"] for p in song[:5]]
    assert set(meta(docs[0])) == {"who"}  # plain UTF-8 JSON gets no _encoding entry; other encodings do


def test_json_array_matches_ijson(song, tmp_path):
    import ijson

    f = tmp_path / "a.json"
    f.write_text(json.dumps(song, ensure_ascii=False, indent=2), encoding="utf-8")
    docs, bad = read_all(f)
    assert bad == []
    with open(f, "rb") as fh:
        reference = list(ijson.items(fh, "item"))
    assert [d["text"] for d in docs] == [r["text"] for r in reference]
    offset = int(docs[1]["source_uri"].split("@")[1].split("#")[0])
    assert f.read_bytes()[offset:offset + 1] == b"{"


def test_csv_gb18030_with_mapping_and_quoted_newlines(song, tmp_path):
    import csv

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["author", "title", "content"])
    for p in song[:15]:
        w.writerow([p["author"], p["title"], p["text"]])  # poems hold newlines and commas: quoted fields
    f = tmp_path / "ci.csv"
    f.write_bytes(buf.getvalue().encode("gb18030"))
    docs, bad = read_all(f, text_field="content", meta_fields=["author"])
    assert bad == []
    assert [d["text"] for d in docs] == [p["text"] for p in song[:15]]
    assert meta(docs[0])["author"] == song[0]["author"] and meta(docs[0])["_encoding"] == "gb18030"
    assert docs[0]["source_uri"] == f"{f}:2"


def test_tsv(song, tmp_path):
    f = tmp_path / "s.tsv"
    f.write_text("text\tauthor\n" + "".join(f"{p['text'].replace(chr(10), '/')}\t{p['author']}\n" for p in song[:5]), encoding="utf-8")
    docs, bad = read_all(f)
    assert bad == [] and [d["text"] for d in docs] == [p["text"].replace("\n", "/") for p in song[:5]]


def test_parquet_and_hf_saved_dataset(song, tmp_path):
    import datasets

    table = pa.Table.from_pylist(song)
    pq.write_table(table, tmp_path / "ci.parquet", row_group_size=7)
    docs, bad = read_all(tmp_path / "ci.parquet")
    assert bad == [] and [d["text"] for d in docs] == [p["text"] for p in song]
    assert docs[9]["source_uri"].endswith("ci.parquet#row=9")

    ds = datasets.DatasetDict({"train": datasets.Dataset.from_list(song[:30]), "test": datasets.Dataset.from_list(song[30:])})
    ds.save_to_disk(str(tmp_path / "hf"))
    docs, bad = read_all(tmp_path / "hf")
    reference = datasets.load_from_disk(str(tmp_path / "hf"))
    assert bad == []
    assert sorted(d["text"] for d in docs) == sorted(list(reference["train"]["text"]) + list(reference["test"]["text"]))
    assert all(d["source_uri"].endswith(".arrow#row=" + d["source_uri"].rsplit("=", 1)[1]) for d in docs)


def html_page(p: dict, charset: str) -> str:
    body = "".join(f"<p>{line}</p>" for line in p["text"].split("\n"))
    return (f"<html><head><meta charset=\"{charset}\"><title>{p['title']}</title></head><body>"
            f"<nav><a href='/'>首頁</a> | <a href='/about'>關於我們</a></nav>"
            f"<article><h1>{p['title']}</h1>{body}</article><footer>版權所有 2024</footer></body></html>")


def test_html_main_text_with_declared_and_detected_charset(song, tang, tmp_path):
    pages = [(p, "gb2312") for p in song[:4]] + [(p, "big5") for p in encodable(tang, "big5")[:4]]
    for i, (p, cs) in enumerate(pages):
        (tmp_path / f"{i}.html").write_bytes(html_page(p, cs).encode(cs if cs != "gb2312" else "gb18030"))
    docs, bad = read_all(tmp_path)
    assert bad == []
    # Documented normalisation: heading then one line per paragraph; navigation and footer removed.
    for d, (p, _) in zip(docs, pages):
        assert d["text"] == p["title"] + "\n" + p["text"]
        assert "版權所有" not in d["text"] and "首頁" not in d["text"]
        assert meta(d)["html_title"] == p["title"]


def test_docx_and_pdf(song, tmp_path):
    import docx
    from pypdf import PdfReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    d = docx.Document()
    for line in song[0]["text"].split("\n"):
        d.add_paragraph(line)
    d.core_properties.author = song[0]["author"]
    d.save(tmp_path / "ci.docx")
    docs, bad = read_all(tmp_path / "ci.docx")
    assert bad == [] and docs[0]["text"] == song[0]["text"]
    assert meta(docs[0])["docx_author"] == song[0]["author"]

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # built-in CJK CID font
    c = canvas.Canvas(str(tmp_path / "ci.pdf"))
    for p in song[1:3]:  # one poem per page
        c.setFont("STSong-Light", 12)
        y = 800
        for line in p["text"].split("\n"):
            c.drawString(40, y, line)
            y -= 18
        c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "ci.pdf")
    assert bad == []
    # Documented normalisation: one paragraph per line (each short poem line is one), pages in meta.
    assert docs[0]["text"] == song[1]["text"] + "\n" + song[2]["text"]
    assert meta(docs[0])["pdf_pages"] == 2
    assert len(PdfReader(str(tmp_path / "ci.pdf")).pages) == 2


def test_warc_response_and_conversion_records(song, tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    f = tmp_path / "crawl.warc.gz"
    with open(f, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for i, p in enumerate(song[:3]):
            payload = html_page(p, "gbk").encode("gb18030")
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=GBK")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"http://example.cn/{i}", "response",
                                                          payload=io.BytesIO(payload), http_headers=headers))
        img = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record("http://example.cn/x.png", "response", payload=io.BytesIO(b"\x89PNG"), http_headers=img))
        writer.write_record(writer.create_warc_record("http://example.cn/3", "conversion", payload=io.BytesIO(song[3]["text"].encode()),
                                                      warc_content_type="text/plain"))
    docs, bad = read_all(f)
    assert bad == []
    assert [d["text"] for d in docs] == [p["title"] + "\n" + p["text"] for p in song[:3]] + [song[3]["text"]]
    assert meta(docs[0])["warc_target_uri"] == "http://example.cn/0" and meta(docs[0])["_encoding"] == "gb18030"
    offsets = [int(d["source_uri"].rsplit("@", 1)[1]) for d in docs]
    assert offsets == sorted(offsets) and len(set(offsets)) == 4
    data = f.read_bytes()
    for off in offsets:  # each offset is the start of that record's gzip member
        assert gzip.GzipFile(fileobj=io.BytesIO(data[off:])).read(6) == b"WARC/1"


def test_zip_and_tar_archives_of_mixed_formats(song, tang, tmp_path):
    import docx

    members = {
        "a/ci.txt": song[0]["text"].encode("gb18030"),
        "a/tang.txt": encodable(tang, "big5")[0]["text"].encode("big5"),
        "b/ci.jsonl.gz": gzip.compress(jsonl_bytes(song[1:4])),
        "b/page.html": html_page(song[4], "utf-8").encode(),
    }
    buf = io.BytesIO()
    d = docx.Document()
    d.add_paragraph(song[5]["text"])
    d.save(buf)
    members["c/doc.docx"] = buf.getvalue()
    expected = [song[0]["text"], encodable(tang, "big5")[0]["text"], *(p["text"] for p in song[1:4]),
                song[4]["title"] + "\n" + song[4]["text"], song[5]["text"]]
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with tarfile.open(tmp_path / "all.tar.gz", "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    for archive in ("all.zip", "all.tar.gz"):
        docs, bad = read_all(tmp_path / archive)
        assert bad == [], archive
        assert [d["text"] for d in docs] == expected, archive
        assert docs[0]["source_uri"] == f"{tmp_path / archive}!a/ci.txt"
        assert docs[3]["source_uri"] == f"{tmp_path / archive}!b/ci.jsonl.gz:2"
        assert len({d["id"] for d in docs}) == len(docs)


def test_archive_member_format_and_options(song, tmp_path):
    from flows.io.recipe import RecipeError

    with zipfile.ZipFile(tmp_path / "dump.zip", "w") as zf:
        zf.writestr("export.dat", song[0]["text"].encode("gb18030"))
    docs, bad = read_all(tmp_path / "dump.zip", options={"member_format": "text", "member_options": {"unit": "line"}})
    assert bad == [] and [d["text"] for d in docs] == song[0]["text"].split("\n")
    assert docs[1]["source_uri"] == f"{tmp_path / 'dump.zip'}!export.dat:2"
    with pytest.raises(RecipeError, match="member_format"):
        read_all(tmp_path / "dump.zip", options={"member_format": "nope"})


def test_legacy_encoded_jsonl_and_wrongly_declared_html(song, tmp_path):
    f = tmp_path / "gb.jsonl"
    f.write_bytes(jsonl_bytes(song[:10]).decode().encode("gb18030"))
    docs, bad = read_all(f)
    assert bad == [] and [d["text"] for d in docs] == [p["text"] for p in song[:10]]
    assert {meta(d)["_encoding"] for d in docs} == {"gb18030"}

    page = tmp_path / "liar.html"  # declares UTF-8, is GBK: the declaration fails strictly, detection decides
    page.write_bytes(html_page(song[0], "utf-8").encode("gb18030"))
    docs, bad = read_all(page)
    assert bad == [] and docs[0]["text"] == song[0]["title"] + "\n" + song[0]["text"]
    assert meta(docs[0])["_encoding"] == "gb18030" and meta(docs[0])["_declared_charset"] == "utf-8"


def test_batches_end_at_the_character_bound_and_lose_nothing(tang, tmp_path):
    # Memory follows characters, not rows: long documents end a batch before batch_rows does.
    path = tmp_path / "poems.jsonl"
    path.write_text("".join(json.dumps({"text": p["text"] * 20}, ensure_ascii=False) + "\n" for p in tang), encoding="utf-8")
    spec = InputSpec(source="t", paths=[str(path)])
    limit = 2 * len(tang[0]["text"]) * 20
    batches = list(read_input_file(spec, str(path), 10_000, limit))
    sizes = [sum(len(t) for t in b.docs.column("text").to_pylist()) for b in batches]
    longest = max(len(p["text"]) * 20 for p in tang)
    assert len(batches) > 3 and all(size < limit + longest for size in sizes), sizes
    texts = [t for b in batches for t in b.docs.column("text").to_pylist()]
    assert texts == [p["text"] * 20 for p in tang]  # every document once, in order
    assert len(list(read_input_file(spec, str(path), 10_000))) == 1  # no character bound: rows decide

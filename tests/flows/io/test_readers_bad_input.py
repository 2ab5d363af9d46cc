"""Bad input: every bad record is quarantined with its file and position, every good record survives."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import tarfile
import zipfile
from pathlib import Path

import pytest
import zstandard

from tests.flows.io.test_readers_formats import meta, poems, read_all


@pytest.fixture(scope="module")
def tang(corpora: Path) -> list[dict]:
    """Enough real text that compressed files span several blocks."""
    return poems(corpora, "全唐诗", "poet.tang.*.json", 3000)


def line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def test_malformed_jsonl_lines_are_quarantined_with_line_numbers(tmp_path):
    good = [{"text": f"第{i}行 正常的记录"} for i in range(4)]
    rows = [
        line(good[0]),
        b'{"text": "unterminated',  # 2: bad JSON
        line({"body": "no text field"}),  # 3
        line({"text": "NUL\u0000inside"}),  # 4: NUL in the text
        b'{"text": "raw \x00 nul"}',  # 5: raw NUL byte in the line
        b'{"text": "\xff\xfe\xfa\xfb"}',  # 6: bytes no codec decodes
        b"",  # blank: not a record
        line(good[1]),  # 8
        b'["an", "array"]',  # 9
        line({"text": 42}),  # 10
        "中文内容出现在这一行里".join(['{"text": "', '"}']).encode("gb18030"),  # 11: a GBK line in a UTF-8 file
        line(good[2]),  # 12
        line(good[3]),  # 13 (no final newline)
    ]
    f = tmp_path / "bad.jsonl"
    f.write_bytes(b"\n".join(rows))
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == [good[0]["text"], good[1]["text"], "中文内容出现在这一行里", good[2]["text"], good[3]["text"]]
    gbk = meta(docs[2])
    assert gbk["_encoding"] == "gb18030" and "per record" in gbk["_encoding_method"]
    where = {b["source_uri"]: b["error"] for b in bad}
    assert where == {f"{f}:2": "json_decode", f"{f}:3": "missing_text_field", f"{f}:4": "nul_byte", f"{f}:5": "json_decode",
                     f"{f}:6": "decode_error", f"{f}:9": "not_an_object", f"{f}:10": "text_not_string"}
    six = next(b for b in bad if b["source_uri"].endswith(":6"))
    assert "bytes" in six["detail"] and six["raw_excerpt"] == rows[5]
    # Conservation: every non-blank line is a document or a quarantine entry.
    assert len(docs) + len(bad) == sum(1 for r in rows if r.strip())


def test_a_100_mb_single_line_is_quarantined_and_the_rest_survives(tmp_path):
    f = tmp_path / "huge.jsonl"
    big = b'{"text": "' + b"x" * (100 << 20) + b'"}'
    with open(f, "wb") as out:
        out.write(line({"text": "before"}) + b"\n")
        out.write(big + b"\n")
        out.write(line({"text": "after"}) + b"\n")
    docs, bad = read_all(f)  # default max_record_bytes (50 MB)
    assert [d["text"] for d in docs] == ["before", "after"]
    assert len(bad) == 1 and bad[0]["error"] == "oversized_record" and bad[0]["source_uri"] == f"{f}:2"
    assert str(len(big)) in bad[0]["detail"]
    assert bad[0]["raw_sha256"] == hashlib.sha256(big).hexdigest()  # hashed while streaming, never held whole
    assert len(bad[0]["raw_excerpt"]) <= 256
    docs, bad = read_all(f, max_record_bytes=1000, format="text", options={"unit": "line"})
    assert len(docs) == 2 and len(bad) == 1 and bad[0]["source_uri"] == f"{f}:2"


def test_configurable_record_limit(tmp_path):
    f = tmp_path / "lim.jsonl"
    f.write_bytes(line({"text": "short"}) + b"\n" + line({"text": "y" * 2000}) + b"\n")
    docs, bad = read_all(f, max_record_bytes=1000)
    assert [d["text"] for d in docs] == ["short"] and bad[0]["error"] == "oversized_record"


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zst"])
def test_truncated_compressed_jsonl_keeps_what_came_before(tang, tmp_path, kind):
    raw = b"".join(line(p) + b"\n" for p in tang)
    # bzip2 restores whole blocks only: 100 kB blocks (level 1) so the cut leaves some complete.
    packed = {"gz": gzip.compress, "bz2": lambda b: bz2.compress(b, compresslevel=1), "xz": lzma.compress,
              "zst": zstandard.ZstdCompressor().compress}[kind](raw)
    f = tmp_path / f"cut.jsonl.{kind}"
    f.write_bytes(packed[: len(packed) * 2 // 3])
    docs, bad = read_all(f)
    assert len(docs) > len(tang) // 3  # most of what was decompressible survives
    assert [d["text"] for d in docs] == [p["text"] for p in tang[: len(docs)]]
    assert [b["error"] for b in bad] == ["unreadable_file"]
    assert f"after {f}:{len(docs)}" in bad[0]["detail"]


def test_empty_compressed_file_is_one_quarantine_entry(tmp_path):
    f = tmp_path / "empty.jsonl.gz"
    f.write_bytes(b"")
    docs, bad = read_all(f)
    assert docs == [] and [b["error"] for b in bad] == ["empty_file"]


def test_csv_wrong_field_count_and_bad_bytes(tmp_path):
    rows = ["text,author", "第一首,李白", "多了,一个,字段", "第二首,杜甫", "少了字段", "第三首,王维"]
    data = "\n".join(rows).encode("gb18030")
    data = data.replace("第二首".encode("gb18030"), b"\x81\x20\x81")  # broken GB18030 double-byte sequence
    f = tmp_path / "bad.csv"
    f.write_bytes(data)
    docs, bad = read_all(f, encoding="gb18030")
    assert [d["text"] for d in docs] == ["第一首", "第三首"]
    assert {b["source_uri"]: b["error"] for b in bad} == {f"{f}:3": "csv_field_count", f"{f}:4": "decode_error", f"{f}:5": "csv_field_count"}


def test_json_array_bad_element_and_truncation(tmp_path):
    f = tmp_path / "arr.json"
    f.write_bytes(b'[{"text": "\xe4\xb8\x80"}, {"text": oops}, {"text": "\xe4\xba\x8c"}, {"text": "cut')
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == ["一", "二"]
    assert [b["error"] for b in bad] == ["json_decode", "json_decode"]
    assert bad[0]["source_uri"] == f"{f}@18#1" and "truncated" in bad[1]["detail"]


def test_undecodable_bytes_are_quarantined_or_flagged_never_silently_replaced(tmp_path):
    text = ["春眠不觉晓", "处处闻啼鸟", "夜来风雨声", "花落知多少"] * 5
    data = "\n".join(text).encode("gb18030").replace("风雨".encode("gb18030"), b"\x81\x20\x81")  # bad bytes on lines 3, 7, ...
    f = tmp_path / "poem.txt"
    f.write_bytes(data)
    docs, bad = read_all(f, options={"unit": "line"}, encoding="gb18030")
    assert len(docs) == 15 and len(bad) == 5
    assert all(b["error"] == "decode_error" and "do not decode as gb18030" in b["detail"] for b in bad)
    first = bad[0]
    assert first["source_uri"] == f"{f}:3"
    start = int(first["detail"].split("bytes ", 1)[1].split("..")[0])
    assert data[start:start + 1] == b"\x81"  # the reported byte offset is the file position
    docs, bad = read_all(f, options={"unit": "line"}, encoding="gb18030", on_decode_error="replace")
    assert len(docs) == 20 and bad == []
    flagged = [d for d in docs if "_decode_replaced" in meta(d)]
    assert len(flagged) == 5 and all("\ufffd" in d["text"] for d in flagged)


def test_wrong_encoding_override_quarantines_instead_of_corrupting(tmp_path):
    f = tmp_path / "gbk.txt"
    f.write_bytes("中文文本\n第二行".encode("gbk"))
    docs, bad = read_all(f, encoding="utf-8", options={"unit": "line"})
    assert docs == [] and [b["error"] for b in bad] == ["decode_error", "decode_error"]


def test_mojibake_repaired_when_certain_and_flagged_when_lost(tmp_path):
    f = tmp_path / "moji.jsonl"
    rows = [{"text": "café à Paris".encode().decode("cp1252")}, {"text": "中文编码测试文本".encode().decode("gb18030")}, {"text": "乱码锟斤拷锟斤拷"}, {"text": "正常文本"}]
    f.write_bytes(b"\n".join(line(r) for r in rows))
    docs, bad = read_all(f)
    assert [d["text"] for d in docs] == ["café à Paris", "中文编码测试文本", "乱码锟斤拷锟斤拷", "正常文本"]
    kinds = [(meta(d).get("_mojibake"), meta(d).get("_mojibake_repaired")) for d in docs]
    assert kinds == [("utf8_as_cp1252", True), ("utf8_as_gb18030", True), ("lost_replacement_chars", False), (None, None)]
    docs, _ = read_all(f, mojibake="flag")
    assert docs[0]["text"] == rows[0]["text"] and meta(docs[0])["_mojibake_repaired"] is False


def test_broken_archives_and_documents(tang, tmp_path):
    members = {f"m{i}.jsonl": b"".join(line(p) + b"\n" for p in tang[i * 100:(i + 1) * 100]) for i in range(5)}
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("notes.bin", b"\x00\x01")
    (tmp_path / "cut.zip").write_bytes(z.getvalue()[: len(z.getvalue()) // 2])
    docs, bad = read_all(tmp_path / "cut.zip")
    assert docs == [] and [b["error"] for b in bad] == ["unreadable_file"]  # no central directory: nothing to list

    whole = tmp_path / "whole.zip"
    whole.write_bytes(z.getvalue())
    docs, bad = read_all(whole)
    assert len(docs) == 500 and [(b["error"], b["source_uri"]) for b in bad] == [("unknown_member_format", f"{whole}!notes.bin")]

    t = io.BytesIO()
    with tarfile.open(fileobj=t, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (tmp_path / "cut.tar.gz").write_bytes(t.getvalue()[: len(t.getvalue()) * 3 // 4])
    docs, bad = read_all(tmp_path / "cut.tar.gz")
    assert len(docs) >= 200 and len(docs) % 100 == 0  # whole members before the cut survive
    assert [d["text"] for d in docs] == [p["text"] for p in tang[: len(docs)]]
    assert bad[-1]["error"] == "unreadable_file"

    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 not really a docx")
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\n garbage")
    docs, bad = read_all(tmp_path / "bad.docx")
    assert docs == [] and bad[0]["error"] == "unreadable_docx"
    docs, bad = read_all(tmp_path / "bad.pdf")
    assert docs == [] and bad[0]["error"] in ("unreadable_pdf", "no_text")


def test_oversized_paragraph_is_hashed_whole(tmp_path):
    paras = ["短段落一", "\n".join(["很长的一行文字" * 20] * 30), "短段落二"]
    f = tmp_path / "p.txt"
    f.write_text("\n\n".join(paras), encoding="utf-8")
    docs, bad = read_all(f, options={"unit": "paragraph"}, max_record_bytes=2000)
    assert [d["text"] for d in docs] == [paras[0], paras[2]]
    assert bad[0]["error"] == "oversized_record" and bad[0]["source_uri"] == f"{f}:3"
    assert bad[0]["raw_sha256"] == hashlib.sha256(paras[1].encode()).hexdigest()

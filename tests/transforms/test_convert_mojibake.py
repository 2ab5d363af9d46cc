"""Decode-time mojibake: repaired only when reversible and certain; lost bytes flagged, clean text untouched."""

from __future__ import annotations

import json

from transforms.convert.mojibake import find_and_repair_mojibake


def test_utf8_read_as_cp1252_is_repaired():
    text, fix = find_and_repair_mojibake("naïve café".encode().decode("cp1252"))
    assert text == "naïve café" and fix.kind == "utf8_as_cp1252" and fix.repaired


def test_utf8_read_as_gb18030_is_repaired():
    text, fix = find_and_repair_mojibake("语料转换不丢数据".encode().decode("gb18030"))
    assert text == "语料转换不丢数据" and fix.kind == "utf8_as_gb18030"


def test_replacement_chars_are_flagged_not_repaired():
    text, fix = find_and_repair_mojibake("标题锟斤拷锟斤拷")
    assert text == "标题锟斤拷锟斤拷" and fix.kind == "lost_replacement_chars" and not fix.repaired


def test_irreversible_latin_mojibake_is_left_alone():
    # 'Ã ' with a plain space (the NBSP byte was lost): ftfy could guess, but it is not certain.
    text, fix = find_and_repair_mojibake("voilÃ  le problème")
    assert text == "voilÃ  le problème" and (fix is None or not fix.repaired)


def test_real_poems_are_not_touched(corpora):
    n = 0
    for f in sorted(corpora.joinpath("chinese-poetry", "全唐诗").glob("poet.tang.*.json"))[:3]:
        for p in json.loads(f.read_text(encoding="utf-8")):
            t = "\n".join(p["paragraphs"])
            assert find_and_repair_mojibake(t) == (t, None), t
            n += 1
    assert n > 2000

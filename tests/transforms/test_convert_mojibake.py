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


def _ftfy_pure_recoding(text: str) -> str | None:
    """The reference: ftfy's fixer on every text with a cp1252/Latin-1 lead character, kept for a pure encode/decode plan."""
    import re

    import ftfy

    if not re.search("[\u00c2-\u00ef]", text):
        return None  # the module repairs UTF-8 read as cp1252/Latin-1 only (its documented scope)
    fixed, plan = ftfy.fix_encoding_and_explain(text)
    if fixed == text or not plan or any(step not in ("encode", "decode") for step, _ in plan):
        return None
    return fixed


def test_the_cheap_gate_repairs_exactly_what_ftfy_alone_would(corpora):
    # Real sentences in 14 languages, each also misread through every single-byte codec ftfy knows:
    # the gate may only skip texts for which ftfy has no pure encode/decode repair.
    import ftfy.bad_codecs  # noqa: F401
    from ftfy.chardata import CHARMAP_ENCODINGS

    from transforms.convert.mojibake import could_be_misread_utf8

    texts = []
    for lang in ("fr", "de", "pl", "cs", "tr", "ru", "el", "lt", "is", "vi", "zh", "ja", "ar", "pt"):
        lines = corpora.joinpath("lingua-sentences", f"{lang}.txt").read_text(encoding="utf-8").splitlines()[:25]
        texts += lines
        for line in lines[:5]:
            for encoding in CHARMAP_ENCODINGS:
                try:
                    texts.append(line.encode("utf-8").decode(encoding))
                except UnicodeDecodeError:
                    pass
    texts += ["\x93quoted\x94 text", "Ã©tÃ© chaud", "naïve café"]
    repaired = 0
    for text in texts:
        want = _ftfy_pure_recoding(text)
        if want is not None:
            assert could_be_misread_utf8(text), text
        got, fix = find_and_repair_mojibake(text)
        if fix is not None and fix.kind == "utf8_as_cp1252":
            assert got == want, text
            repaired += 1
        else:
            assert want is None or fix is not None, text
    assert repaired > 100

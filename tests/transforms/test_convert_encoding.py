"""Encoding detection: BOMs, NUL patterns, strict UTF-8, the CJK cascade, and accuracy on short real text."""

from __future__ import annotations

import codecs
import json

import pytest

from transforms.convert.encoding import canonical_codec, detect_encoding, plausibility, strict_decode, DecodeFailure


@pytest.mark.parametrize(("bom", "codec"), [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                                             (codecs.BOM_UTF16_BE, "utf-16-be"), (codecs.BOM_UTF32_LE, "utf-32-le")])
def test_bom_wins(bom, codec):
    g = detect_encoding(bom + "语料".encode(codec))
    assert (g.codec, g.method, g.bom, g.confidence) == (codec, "bom", len(bom), 1.0)


def test_bomless_utf16_by_nul_pattern():
    assert detect_encoding("plain ascii text with 中文".encode("utf-16-le")).codec == "utf-16-le"
    assert detect_encoding("plain ascii text with 中文".encode("utf-16-be")).codec == "utf-16-be"


def test_utf8_and_ascii():
    assert detect_encoding("纯文本".encode()).codec == "utf-8"
    assert detect_encoding(b"just ascii").codec == "utf-8"


def test_superset_codecs():
    assert canonical_codec("GB2312") == canonical_codec("gbk") == "gb18030"
    assert canonical_codec("Big5") == "big5hkscs"
    with pytest.raises(LookupError):
        canonical_codec("no-such-codec")


def test_strict_decode_reports_position():
    fail = strict_decode(b"ab\xff", "utf-8")
    assert isinstance(fail, DecodeFailure) and (fail.start, fail.end) == (2, 3)
    assert strict_decode("中".encode()[:2], "utf-8", final=False) == ""  # an incomplete tail is not an error


def test_plausibility_prefers_the_right_reading():
    raw = "床前明月光，疑是地上霜。".encode("gb18030")
    assert plausibility(raw.decode("gb18030")) > plausibility(raw.decode("big5hkscs", errors="replace")) + 0.3


def _sentences(corpora, lang, n=400):
    return [s for s in corpora.joinpath("lingua-sentences", f"{lang}.txt").read_text(encoding="utf-8").splitlines()[:n] if s.strip()]


@pytest.mark.parametrize(("lang", "codec"), [("zh", "gb18030"), ("ja", "shift_jis"), ("ko", "euc-kr")])
def test_short_real_sentences_are_detected(corpora, lang, codec):
    ok = n = 0
    for s in _sentences(corpora, lang):
        try:
            raw = s.encode(codec)
        except UnicodeEncodeError:
            continue
        n += 1
        g = detect_encoding(raw)
        ok += strict_decode(raw, g.codec) == raw.decode(codec)
    assert n > 200 and ok / n >= 0.97, (ok, n)


def test_short_traditional_poems_in_big5(corpora):
    texts = []
    for f in sorted(corpora.joinpath("chinese-poetry", "全唐诗").glob("poet.tang.*.json"))[:1]:
        texts = ["\n".join(p["paragraphs"]) for p in json.loads(f.read_text(encoding="utf-8"))[:400]]
    ok = n = 0
    for t in texts:
        try:
            raw = t.encode("big5")
        except UnicodeEncodeError:
            continue
        n += 1
        ok += detect_encoding(raw).codec == "big5hkscs"
    assert n > 200 and ok / n >= 0.98, (ok, n)

"""PII detection and redaction: per-type precision/recall on the committed test set, operator columns, look-alikes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import phonenumbers
import pyarrow as pa
import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from transforms.ops import OpStats
from transforms.pii import (
    PII_TYPES,
    RedactPii,
    count_span_matches,
    find_pii,
    find_pii_naive,
    hk_id_check_digit,
    sensitivity_of,
    DEFAULT_SENSITIVITY,
)
from transforms.registry import get_op_class
from transforms.schema import docs_from_pylist

DATA = Path(__file__).resolve().parents[1] / "data" / "pii"
TESTSET = DATA / "pii_testset.jsonl"


@pytest.fixture(scope="module")
def testset() -> list[dict]:
    return [json.loads(line) for line in TESTSET.read_text(encoding="utf-8").splitlines()]


def docs(texts: list[str]) -> pa.Table:
    return docs_from_pylist([dict(id=str(i), text=t, source="t", source_uri=f"t:{i}", raw_sha256="0") for i, t in enumerate(texts)])


def test_testset_is_big_enough_and_covers_every_type(testset):
    per_type = Counter(s["type"] for rec in testset for s in rec["spans"])
    negatives = [rec for rec in testset if rec["kind"] == "negative"]
    assert sum(per_type.values()) >= 1000
    assert len(negatives) >= 1000
    assert set(per_type) == set(PII_TYPES)
    assert min(per_type.values()) >= 50
    kinds = Counter(rec["negative_kind"] for rec in negatives)
    assert {"order_number", "timestamp", "date", "price", "id_bad_check", "card_bad_luhn"} <= set(kinds)
    assert {rec["lang"] for rec in testset} == {"zh", "en", "yue"}
    assert sum(1 for rec in testset for s in rec["spans"] if re.search("[０-９]", s["value"])) >= 20


def test_testset_offsets_and_checksums_are_valid(testset):
    """Ground truth is checked against the reference libraries, independent of yuliao's detector."""
    for rec in testset:
        for s in rec["spans"]:
            value = rec["text"][s["start"]:s["end"]]
            assert value == s["value"]
            value = unicodedata.normalize("NFKC", value)  # some values are typed with full-width digits
            digits = re.sub(r"[ -]", "", value)
            if s["type"] == "ID_CARD" and len(value) == 18:
                assert ric.is_valid(value), value
            elif s["type"] == "USCC":
                assert uscc.is_valid(value), value
            elif s["type"] == "BANK_CARD":
                assert luhn.is_valid(digits), value
            elif s["type"] == "PHONE":
                regions = [None] if value.startswith("+") else ["CN", "HK", "MO", "TW"]
                assert any(phonenumbers.is_valid_number(phonenumbers.parse(value, r)) for r in regions), value
            elif s["type"] == "HK_ID":
                m = re.fullmatch(r"([A-Z]{1,2})(\d{6})[(（]?([0-9A])[)）]?", value)
                assert m and hk_id_check_digit(m.group(1), m.group(2)) == m.group(3)


@pytest.mark.parametrize("pii_type", PII_TYPES)
def test_precision_and_recall_per_type(testset, pii_type):
    tp, fp, fn = count_span_matches(testset, find_pii)[pii_type]
    recall = tp / (tp + fn)
    precision = tp / (tp + fp)
    assert recall >= 0.99, f"{pii_type}: recall {recall:.3f} (tp={tp}, fn={fn})"
    assert precision >= 0.98, f"{pii_type}: precision {precision:.3f} (tp={tp}, fp={fp})"


def test_hard_negatives_yield_nothing(testset):
    hits = [(rec["negative_kind"], rec["decoy"], find_pii(rec["text"])) for rec in testset if rec["kind"] == "negative"]
    flagged = [h for h in hits if h[2]]
    assert len(flagged) <= 0.01 * len(hits), flagged[:10]


def test_validation_is_what_makes_precision(testset):
    """The same regexes without checksums flag the look-alikes: checksums are doing real work."""
    naive = count_span_matches(testset, find_pii_naive)
    for pii_type in ("ID_CARD", "BANK_CARD", "PHONE"):
        tp, fp, _ = naive[pii_type]
        assert tp / (tp + fp) < 0.9, (pii_type, tp, fp)


def test_testset_is_reproducible(tmp_path, shared_dir):
    out = tmp_path / "again.jsonl"
    subprocess.run([sys.executable, str(DATA / "make_pii_testset.py"), "--shared", str(shared_dir), "--out", str(out)], check=True, capture_output=True)
    assert out.read_bytes() == TESTSET.read_bytes()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("身份证号11010519491231002X，电话13812345678", [("ID_CARD", "11010519491231002X"), ("PHONE", "13812345678")]),
        ("香港身份證 A123456(3)", [("HK_ID", "A123456(3)")]),
        ("聯絡電話：2345 6789", [("PHONE", "2345 6789")]),
        ("来源IP192.168.1.1，2001:db8::1", [("IP", "192.168.1.1"), ("IP", "2001:db8::1")]),
        ("车牌粤B·12345，新能源粤BD12345", [("PLATE", "粤B·12345"), ("PLATE", "粤BD12345")]),
        ("13812345678 13987654321", [("PHONE", "13812345678"), ("PHONE", "13987654321")]),
        ("mail zhang.san@163.com.", [("EMAIL", "zhang.san@163.com")]),
        ("护照号码：E12345678", [("PASSPORT", "E12345678")]),
        ("澳門居民身份證 1234567(8)", [("MO_ID", "1234567(8)")]),
        ("电话１３８１２３４５６７８，邮箱ａｂ＠ｑｑ．ｃｏｍ", [("PHONE", "１３８１２３４５６７８"), ("EMAIL", "ａｂ＠ｑｑ．ｃｏｍ")]),
    ],
)
def test_examples(text, expected):
    assert [(s.type, text[s.start:s.end]) for s in find_pii(text)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "身份证号11010519491231002Y",  # bad check character
        "身份证号110105194913310021",  # month 13
        "订单号2023110512345678，时间戳1700000000123",
        "下单时间 2023-11-05 12:30:45，金额¥1,299.00",
        "编号12345678901",  # 11 digits outside any mobile range
        "2023年11月5日 20231105",
        "版本 1.2.3.4，第3.2.1.1条",
        "型号E12345678",  # passport-shaped without a passport word
        "粤I12345 粤B1234",  # I is not a plate letter; 4 characters need a 学/挂 suffix
        "user@localhost",
        "香港身份證 A123456(4)",  # wrong HKID check digit
    ],
)
def test_lookalikes_are_not_pii(text):
    assert find_pii(text) == []


def test_redact_replaces_with_typed_placeholders_and_reports():
    t = docs(["电话13812345678，邮箱a.b@qq.com", "纯文本，没有数字。", "身份证11010519491231002X"])
    stats = OpStats()
    out = RedactPii().apply(t, stats)
    rows = out.to_pylist()
    assert rows[0]["text"] == "电话<PHONE>，邮箱<EMAIL>"
    assert rows[1]["text"] == "纯文本，没有数字。"
    assert rows[2]["text"] == "身份证<ID_CARD>"
    assert rows[0]["pii_counts"]["PHONE"] == 1 and rows[0]["pii_counts"]["EMAIL"] == 1 and rows[0]["pii_counts"]["ID_CARD"] == 0
    assert [r["sensitivity"] for r in rows] == ["medium", "none", "high"]
    # Redact-mode spans point at the placeholders annotators see.
    for r in rows:
        for s in r["pii_spans"]:
            assert r["text"][s["start"]:s["end"]] == f"<{s['type']}>"
    assert stats.counts == Counter({"redacted:PHONE": 1, "redacted:EMAIL": 1, "redacted:ID_CARD": 1, "rows_with_pii": 2})
    assert rows[0]["trace"] == ["redact_pii@2: redacted EMAILx1,PHONEx1"]
    assert rows[1]["trace"] is None
    assert "13812345678" not in json.dumps(rows[0]["trace"])  # lineage never carries the PII value


def test_fullwidth_digits_are_redacted_in_the_original_text():
    out = RedactPii().apply(docs(["电话：１３８ １２３４ ５６７８。"]), OpStats()).to_pylist()[0]
    assert out["text"] == "电话：<PHONE>。"


def test_detect_mode_keeps_text_and_spans_point_at_values():
    text = "😀😀 电话13812345678"
    out = RedactPii(mode="detect").apply(docs([text]), OpStats()).to_pylist()[0]
    assert out["text"] == text
    (s,) = out["pii_spans"]
    assert text[s["start"]:s["end"]] == "13812345678"
    utf16 = RedactPii(mode="detect", span_unit="utf16").apply(docs([text]), OpStats()).to_pylist()[0]["pii_spans"][0]
    assert utf16["start"] == s["start"] + 2 and utf16["end"] == s["end"] + 2  # two astral emoji = two extra UTF-16 units


def test_types_restriction_placeholder_and_strict_params():
    out = RedactPii(types=("EMAIL",), placeholder="[{type}]").apply(docs(["a.b@qq.com 13812345678"]), OpStats()).to_pylist()[0]
    assert out["text"] == "[EMAIL] 13812345678"
    assert out["pii_counts"]["PHONE"] == 0
    with pytest.raises(ValueError):
        RedactPii(placeholder="<PII>")
    with pytest.raises(ValueError):
        RedactPii(mdoe="detect")  # mistyped key is an error, not ignored
    assert get_op_class("redact_pii") is RedactPii


def test_dropped_rows_pass_through_untouched():
    t = docs(["电话13812345678", "电话13987654321"])
    t = t.append_column("drop_reason", pa.array([None, "too_short"], pa.string()))
    out = RedactPii().apply(t, OpStats()).to_pylist()
    assert out[0]["text"] == "电话<PHONE>"
    assert out[1]["text"] == "电话13987654321"


def test_sensitivity_is_the_highest_level_present():
    assert sensitivity_of({"IP": 3, "PHONE": 1}, DEFAULT_SENSITIVITY) == "medium"
    assert sensitivity_of({"IP": 1, "BANK_CARD": 1}, DEFAULT_SENSITIVITY) == "high"
    assert sensitivity_of({"IP": 0}, DEFAULT_SENSITIVITY) == "none"
    out = RedactPii(sensitivity_levels={"IP": "high"}).apply(docs(["IP 8.8.8.8"]), OpStats()).to_pylist()[0]
    assert out["sensitivity"] == "high"


def test_redacting_the_testset_leaves_no_values(testset):
    positives = [rec for rec in testset if rec["kind"] == "positive"]
    out = RedactPii().apply(docs([rec["text"] for rec in positives]), OpStats()).column("text").to_pylist()
    leaked = [(s["value"], o) for rec, o in zip(positives, out) for s in rec["spans"] if s["value"] in o]
    assert len(leaked) <= 0.01 * len(positives), leaked[:5]
    assert all("<" in o for o in out)


def test_operator_finds_exactly_what_find_pii_finds(testset):
    """The RE2 row prefilter must never hide a row that holds PII."""
    texts = [rec["text"] for rec in testset]
    spans = RedactPii(mode="detect").apply(docs(texts), OpStats()).column("pii_spans").to_pylist()
    for text, got in zip(texts, spans):
        assert [(s["type"], s["start"], s["end"]) for s in got] == [tuple(s) for s in find_pii(text)], text

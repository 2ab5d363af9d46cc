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
    redact_json_string,
    redact_text,
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


# ---------------------------------------------------------------- independent evaluation sets (issue 16)

EVAL_SPLITS = ("tune", "dev", "dev2", "dev3", "dev4", "heldout")
TUNING_SPLITS = EVAL_SPLITS[:-1]


def load_eval(split: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / f"pii_eval_{split}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def heldout() -> list[dict]:
    return load_eval("heldout")


def test_eval_sets_are_reproducible(tmp_path):
    """The generator needs no ../shared: it rebuilds every split byte for byte from its seeds."""
    subprocess.run([sys.executable, str(DATA / "make_pii_eval.py"), "--out-dir", str(tmp_path)], check=True, capture_output=True)
    for split in EVAL_SPLITS:
        assert (tmp_path / f"pii_eval_{split}.jsonl").read_bytes() == (DATA / f"pii_eval_{split}.jsonl").read_bytes(), split


def test_eval_splits_share_no_template_or_value():
    texts = {split: {r["text"] for r in load_eval(split)} for split in EVAL_SPLITS}
    values = {split: {s["value"] for r in load_eval(split) for s in r["spans"]} for split in EVAL_SPLITS}
    for split in TUNING_SPLITS:
        assert not texts["heldout"] & texts[split]
        assert not values["heldout"] & values[split], split
    sys.path.insert(0, str(DATA))
    import eval_templates as T

    tuning = [(T.TUNE, T.LOOKALIKE_TUNE), (T.DEV, T.LOOKALIKE_DEV), (T.DEV2, T.LOOKALIKE_DEV2), (T.DEV3, T.LOOKALIKE_DEV3),
              (T.DEV4, T.LOOKALIKE_DEV4)]
    seen = {(kind, tpl) for bank, la in tuning for b in (bank, la) for kind, ts in b.items() for _, _, tpl in ts}
    held = {(kind, tpl) for b in (T.HELDOUT, T.LOOKALIKE_HELDOUT) for kind, ts in b.items() for _, _, tpl in ts}
    # Bare form labels recur across banks written months apart; these are the only ones (listed in docs/cleaning.md).
    assert held & seen == {("PASSPORT", "護照號碼：{v}"), ("phone_bad", "电话：{v}"), ("isbn", "ISBN {v}"), ("invoice", "发票号码：{v}"),
                           ("id_bad_check", "身份证号：{v}")}


def valid_phone(number: str, region: str | None) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(number, region))
    except phonenumbers.NumberParseException:
        return False


def test_eval_ground_truth_follows_the_standards(heldout):
    """Labels are checked with stdnum, phonenumbers and the HKID rule, never with yuliao's detector."""
    n_before_district = 0
    for rec in heldout:
        for s in rec["spans"]:
            value = unicodedata.normalize("NFKC", rec["text"][s["start"]:s["end"]])
            assert rec["text"][s["start"]:s["end"]] == s["value"]
            compact = re.sub(r"[ \-]", "", value).upper()
            if s["type"] == "ID_CARD" and len(compact) == 18:
                assert ric.calc_check_digit(compact) == compact[-1], value
                n_before_district += rec["subkind"] == "id18_before_district"
            elif s["type"] == "USCC":
                assert uscc.calc_check_digit(value) == value[-1], value
            elif s["type"] == "BANK_CARD":
                assert luhn.is_valid(compact), value
            elif s["type"] == "PHONE":
                digits = re.sub(r"\D", "", value)
                tries = [("+" + digits, None), ("+" + digits[2:], None)] + [(digits, r) for r in ("CN", "HK", "MO", "TW")]
                assert any(valid_phone(number, region) for number, region in tries), value
            elif s["type"] == "HK_ID":
                m = re.fullmatch(r"([A-Z]{1,2})(\d{6}) ?[(（]?([0-9A])[)）]?", value)
                assert m and hk_id_check_digit(m.group(1), m.group(2)) == m.group(3), value
    # Resident IDs of people born before their district was created: what stdnum's cn.ric rejects.
    assert n_before_district >= 30
    rejected_by_stdnum = [s["value"] for r in heldout if r["subkind"] == "id18_before_district" for s in r["spans"]
                          if not ric.is_valid(re.sub(r"[ \-]", "", unicodedata.normalize("NFKC", s["value"])).upper())]
    assert len(rejected_by_stdnum) >= 20


@pytest.mark.parametrize("split", EVAL_SPLITS)
def test_eval_per_type_recall(split):
    """Held-out: every PII type >= 0.99 (first run, before any change made after seeing it). Tuning splits likewise."""
    score = count_eval(load_eval(split))
    for pii_type, (caught, total) in score.caught.items():
        assert total >= 60
        assert caught / total >= 0.99, (split, pii_type, caught, total, score.missed[:5])


def count_eval(records: list[dict]):
    from transforms.pii import score_eval_set

    return score_eval_set(records, find_pii)


@pytest.mark.parametrize("split", TUNING_SPLITS)
def test_tuning_splits_keep_lookalikes(split):
    score = count_eval(load_eval(split))
    kept = sum(k for k, _ in score.kept.values())
    total = sum(n for _, n in score.kept.values())
    assert kept / total >= 0.98, (split, score.flagged[:5])


def test_heldout_lookalikes_floor(heldout):
    """Regression floor at the measured held-out figure (470/480): ISBNs, orders, bad check digits, amounts... all kept."""
    score = count_eval(heldout)
    kept = sum(k for k, _ in score.kept.values())
    total = sum(n for _, n in score.kept.values())
    assert kept / total >= 0.975, score.flagged
    for kind in ("order", "id_bad_check", "id_bad_date", "card_bad_luhn", "uscc_bad", "hkid_bad", "isbn", "timestamp", "amount",
                 "coordinate", "phone_bad", "tracking", "stock", "invoice"):
        assert score.kept[kind][0] == score.kept[kind][1], (kind, [f for f in score.flagged if f[0] == kind])


@pytest.mark.xfail(strict=True, reason="measured 470/480 on the held-out split: dotted quads with no version or section word "
                   "('fixed in 8.4.58.172', 'as described in 7.6.10.3 above') are taken for IPv4 addresses")
def test_heldout_lookalikes_meet_target(heldout):
    score = count_eval(heldout)
    kept = sum(k for k, _ in score.kept.values())
    total = sum(n for _, n in score.kept.values())
    assert kept / total >= 0.98


def test_operator_finds_exactly_what_find_pii_finds_on_eval_sets():
    """The RE2 row gates must never hide a row holding PII in any written form of the evaluation sets."""
    texts = [r["text"] for split in ("tune", "heldout") for r in load_eval(split)]
    spans = RedactPii(mode="detect", fields="text").apply(docs(texts), OpStats()).column("pii_spans").to_pylist()
    for text, got in zip(texts, spans):
        assert [(s["type"], s["start"], s["end"]) for s in got] == [tuple(s) for s in find_pii(text)], text


# ---------------------------------------------------------------- resident IDs, phones, IP look-alikes

@pytest.mark.parametrize(
    "text, expected",
    [
        ("310115198506126575", "310115198506126575"),  # 浦东新区 (1992) code, born 1985: stdnum's cn.ric rejects it
        ("身份证 310115198512034423 卡", "310115198512034423"),
        ("证件号 310115 19850612 6575", "310115 19850612 6575"),
        ("身份证号11010519491231002x", "11010519491231002x"),
        ("老身份证 310115850612657", "310115850612657"),  # 15 digits: area, YYMMDD, sequence
        ("居住证 810000199001011236", None),  # filled in below with a valid check character
    ],
)
def test_resident_ids_by_province_date_and_check_digit(text, expected):
    if expected is None:
        body = "81000019900101123"
        text = f"港澳居民居住证 {body}{ric.calc_check_digit(body + '0')}"
        expected = body + ric.calc_check_digit(body + "0")
    assert [(s.type, text[s.start:s.end]) for s in find_pii(text)] == [("ID_CARD", expected)]
    assert not ric.is_valid("310115198506126575")  # the library the old detector used


@pytest.mark.parametrize(
    "number",
    [
        "990115198506126575",  # no province 99
        "310115198502306575",  # 30 February
        "310115189906126575",  # before 1900
        "310115198506126576",  # check character
        "310115851306657",  # 15 digits, month 13
    ],
)
def test_resident_id_lookalikes(number):
    body = number[:17]
    if len(number) == 18 and number[6:14] != "19850612":
        number = body + ric.calc_check_digit(body + "0")  # the check is right; only the date/area is wrong
    assert [s for s in find_pii(f"号码 {number}") if s.type == "ID_CARD"] == []


def test_id_max_birth_year_is_a_parameter():
    body = "31011520300101123"
    text = f"身份证 {body}{ric.calc_check_digit(body + '0')}"
    assert RedactPii().apply(docs([text]), OpStats()).to_pylist()[0]["text"] == "身份证 <ID_CARD>"
    assert RedactPii(id_max_birth_year=2026).apply(docs([text]), OpStats()).to_pylist()[0]["text"] == text


@pytest.mark.parametrize(
    "text, value",
    [
        ("WhatsApp +852 9123 4567", "+852 9123 4567"),
        ("聯絡 (852) 2345 6789", "(852) 2345 6789"),
        ("call 852-2345-6789 now", "852-2345-6789"),
        ("电话 00852 2345 6789", "00852 2345 6789"),
        ("電話：＋８５２　２３４５　６７８９", "＋８５２　２３４５　６７８９"),
        ("(+852) 9123-4567", "(+852) 9123-4567"),
        ("+852.9123.4567", "+852.9123.4567"),
        ("wa.me/85291234567", "85291234567"),
        ("澳門 +853 6612 3456", "+853 6612 3456"),
        ("台灣 +886 912 345 678", "+886 912 345 678"),
        ("手機 0912-345-678", "0912-345-678"),
        ("(02) 2345-6789", "(02) 2345-6789"),
        ("138.1234.5678", "138.1234.5678"),
        ("0755—2345 6789", "0755—2345 6789"),
        ("打俾我 9123 4567", "9123 4567"),
        ("打69483444我下來", "69483444"),
    ],
)
def test_phone_written_forms(text, value):
    assert [text[s.start:s.end] for s in find_pii(text) if s.type == "PHONE"] == [value]


@pytest.mark.parametrize(
    "text",
    [
        "升级到10.3.45.123版本后",
        "build 7.12.88.201",
        "v10.3.45.123",
        "版本号为10.3.45.123",
        "10.3.45.123 版本",
        "第1.2.3.4节",
        "依本規則1.2.3.4條辦理",
        "Chrome 5.7.122.58 is rolling out",
        "app-release-13.11.211.161.apk",
        "agent version=10.5.104.45 started",
        "客户端已更新到 5.17.30.156",
        "Upgraded foo from 1.0 to 7.19.126.124",
        "成交价 23456789元",
        "发票号码 52909561",
        "坐标 22.302711,114.177216",
        # from the unseeded real-text scan (lingua, SOHU): year spans, decimals, identifiers, file names
        "แผนพัฒนาการศึกษา พ.ศ. 2558-2561 แบบรายงาน",
        "承销保荐费7602.2070万元",
        "来源：湖北经视（ID：hbjs_87311111）",
        "image/200707/03/70924_0.54804700.jpg",
        "mieści się w granicach 2150-3840 zł",
    ],
)
def test_versions_sections_and_amounts_are_not_pii(text):
    assert find_pii(text) == []


@pytest.mark.parametrize("text", ["来源IP 10.3.45.123", "Failed password for root from 5.7.122.58 port 22", "nginx: 198.19.147.149 - -"])
def test_real_ipv4_still_caught(text):
    assert [s.type for s in find_pii(text)] == ["IP"]


# ---------------------------------------------------------------- meta fields and helpers for other stages


def docs_with_meta(rows: list[tuple[str, str | None]]) -> pa.Table:
    return docs_from_pylist([dict(id=str(i), text=t, source="t", source_uri=f"t:{i}", raw_sha256="0", meta=m) for i, (t, m) in enumerate(rows)])


def test_meta_values_are_redacted_and_keys_are_context():
    meta = json.dumps({"phone": "23456789", "idno": "11010519491231002X", "mobile": 13812345678, "note": "email a.b@qq.com",
                       "contacts": [{"tel": "9123 4567"}], "hkid": "A1234563", "id": 12345678, "ok": True}, ensure_ascii=False)
    stats = OpStats()
    row = RedactPii().apply(docs_with_meta([("纯文本", meta)]), stats).to_pylist()[0]
    out = json.loads(row["meta"])
    assert out == {"phone": "<PHONE>", "idno": "<ID_CARD>", "mobile": "<PHONE>", "note": "email <EMAIL>", "contacts": [{"tel": "<PHONE>"}],
                   "hkid": "<HK_ID>", "id": 12345678, "ok": True}  # "id" is a record id, not context: 12345678 stays
    for raw in ("23456789", "11010519491231002X", "13812345678", "a.b@qq.com", "9123 4567", "A1234563"):
        assert raw not in row["meta"]
    assert row["text"] == "纯文本"
    assert row["pii_counts"]["PHONE"] == 0 and row["pii_meta_counts"]["PHONE"] == 3
    assert row["sensitivity"] == "high"
    assert row["trace"] == ["redact_pii@2: redacted meta EMAILx1,HK_IDx1,ID_CARDx1,PHONEx3"]
    assert stats.counts["redacted_meta:PHONE"] == 3 and stats.counts["rows_with_pii"] == 1


def test_meta_scope_is_configurable_and_detect_mode_keeps_meta():
    meta = json.dumps({"phone": "13812345678", "remark": "13987654321"})
    only_text = RedactPii(fields="text").apply(docs_with_meta([("t", meta)]), OpStats()).to_pylist()[0]
    assert only_text["meta"] == meta and only_text["pii_meta_counts"]["PHONE"] == 0
    one_key = RedactPii(fields=("text", "meta.phone")).apply(docs_with_meta([("t", meta)]), OpStats()).to_pylist()[0]
    assert json.loads(one_key["meta"]) == {"phone": "<PHONE>", "remark": "13987654321"}
    detect = RedactPii(mode="detect").apply(docs_with_meta([("t", meta)]), OpStats()).to_pylist()[0]
    assert detect["meta"] == meta and detect["pii_meta_counts"]["PHONE"] == 2
    with pytest.raises(ValueError):
        RedactPii(fields=("text", "metadata"))


def test_meta_without_pii_keeps_its_bytes_and_null_meta_passes():
    meta = '{"title":  "标题", "n": 3}'
    rows = RedactPii().apply(docs_with_meta([("t", meta), ("电话13812345678", None)]), OpStats()).to_pylist()
    assert rows[0]["meta"] == meta
    assert rows[1]["meta"] is None and rows[1]["text"] == "电话<PHONE>"


def test_redact_text_and_json_string_for_other_stages():
    assert redact_text("身份证 310115198512034423 卡 6222022914177763174") == "身份证 <ID_CARD> 卡 <BANK_CARD>"
    doc = '{"text": 123, "note": "身份证 310115198512034423 卡 6222022914177763174"}'
    assert json.loads(redact_json_string(doc)) == {"text": 123, "note": "身份证 <ID_CARD> 卡 <BANK_CARD>"}
    broken = '{"text": "身份证 310115198512034423", "phone": 13812345678'  # malformed JSON: redacted as text
    assert redact_json_string(broken) == '{"text": "身份证 <ID_CARD>", "phone": <PHONE>'

"""Redaction outside the text column: quarantine excerpts and details, rows dropped before redact_pii."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.basic import DropShortDocs
from transforms.ops import OpStats
from transforms.pii import RedactPii
from transforms.pii_surfaces import (
    WITHHELD_EXCERPT, RedactionPolicy, mask_cut_tail, redact_dropped_rows, redact_excerpt, redact_quarantine, redaction_policy,
)
from transforms.schema import RAW_EXCERPT_BYTES, TRACE, docs_from_pylist, ensure_decision_columns, quarantine_from_pylist

POLICY = RedactionPolicy(frozenset(RedactPii().types), "<{type}>")
PHONE, ID = "13812345678", "11010519491231002X"


def test_policy_comes_from_the_first_redacting_op_only():
    assert redaction_policy([DropShortDocs(min_chars=5)]) is None
    assert redaction_policy([RedactPii(mode="detect")]) is None  # a PII review recipe keeps raw text on purpose
    p = redaction_policy([RedactPii(mode="detect"), RedactPii(types=("PHONE",), placeholder="[{type}]")])
    assert p == RedactionPolicy(frozenset({"PHONE"}), "[{type}]")


def test_excerpt_is_redacted_and_the_rest_of_its_bytes_kept():
    raw = '{"text": 123, "note": "身份证 11010519491231002X 卡 6222022914177763174"}'.encode()
    assert redact_excerpt(raw, POLICY) == '{"text": 123, "note": "身份证 <ID_CARD> 卡 <BANK_CARD>"}'.encode()


def test_undecodable_bytes_survive_and_ascii_values_in_them_are_redacted():
    raw = b'{"text": "' + "张三电话".encode("gbk") + b" " + PHONE.encode() + b'"}'
    out = redact_excerpt(raw, POLICY)
    assert PHONE.encode() not in out and b"<PHONE>" in out
    assert "张三电话".encode("gbk") in out  # the bytes that did not decode are still there, unchanged


def test_utf16_excerpts_are_withheld():
    raw = f'{{"text": "电话 {PHONE}"}}'.encode("utf-16-le")
    assert redact_excerpt(raw, POLICY) == WITHHELD_EXCERPT


def test_a_value_cut_by_the_excerpt_limit_is_masked():
    head = ("x" * (RAW_EXCERPT_BYTES - 20) + f' "id": "{ID}').encode()[:RAW_EXCERPT_BYTES]
    assert len(head) == RAW_EXCERPT_BYTES and ID[:8].encode() in head
    out = redact_excerpt(head, POLICY)
    assert ID[:6].encode() not in out and out.endswith(b"<CUT>")
    assert mask_cut_tail("version 1.2", "<CUT>") == "version 1.2"  # fewer than 4 digits: not a value
    assert mask_cut_tail('"mail": "wang.te@exa', "<CUT>") == '"mail": "<CUT>'  # half an address


def test_quarantine_details_are_redacted_too():
    q = quarantine_from_pylist([{"source": "s", "source_uri": "f.jsonl:1", "error": "missing_text_field",
                                 "detail": f"no field 'text' (fields: {PHONE}, body)", "raw_sha256": "0" * 64,
                                 "raw_excerpt": f'{{"{PHONE}": 1}}'.encode()}])
    out = redact_quarantine(q, POLICY).to_pylist()[0]
    assert out["detail"] == "no field 'text' (fields: <PHONE>, body)" and out["raw_excerpt"] == b'{"<PHONE>": 1}'
    assert redact_quarantine(q, None) is q


def _batch(texts: list[str]) -> pa.Table:
    rows = [{"id": f"r{i}", "text": t, "source": "s", "source_uri": f"f.jsonl:{i}", "raw_sha256": "0" * 64,
             "meta": json.dumps({"n": i})} for i, t in enumerate(texts)]
    return ensure_decision_columns(docs_from_pylist(rows))


def test_only_rows_dropped_before_redaction_are_redacted_and_say_so():
    ops = [DropShortDocs(min_chars=20), RedactPii(), DropShortDocs(min_chars=60)]
    texts = [f"短 {PHONE}", "这是一段足够长的正文，电话号码是 " + PHONE + "，请勿外传。", "这是一段足够长的正文，没有个人信息，保留。" * 4]
    batch = _batch(texts)
    for op in ops:
        batch = op.apply(batch, OpStats())
    dropped = batch.filter(batch.column("drop_reason").is_valid())
    assert dropped.column("id").to_pylist() == ["r0", "r1"]  # r0 dropped before redaction, r1 after it
    out = redact_dropped_rows(dropped, ops)
    assert out.schema == dropped.schema and out.column("id").to_pylist() == ["r0", "r1"]
    r0, r1 = out.to_pylist()
    assert r0["text"] == "短 <PHONE>" and r0[TRACE][-1] == f"{RedactPii().op_id} (after the drop): redacted PHONEx1"
    assert r0["pii_counts"]["PHONE"] == 1 and r0["sensitivity"] == "medium"  # columns the batch has describe the new text
    assert r1 == dropped.to_pylist()[1]  # already redacted by the op itself: untouched


def test_meta_of_a_row_dropped_before_redaction_is_redacted_as_the_op_redacts_meta():
    batch = _batch(["短"])
    batch = batch.set_column(batch.schema.get_field_index("meta"), "meta", pa.array([json.dumps({"phone": PHONE, "idno": ID})]))
    batch = DropShortDocs(min_chars=5).apply(batch, OpStats())
    out = redact_dropped_rows(batch, [DropShortDocs(min_chars=5), RedactPii()]).to_pylist()[0]
    assert PHONE not in out["meta"] and ID not in out["meta"] and "<PHONE>" in out["meta"]
    assert redact_dropped_rows(batch, [DropShortDocs(min_chars=5), RedactPii()]).equals(
        redact_dropped_rows(redact_dropped_rows(batch, [DropShortDocs(min_chars=5), RedactPii()]), [DropShortDocs(min_chars=5), RedactPii()]))


def test_rows_dropped_by_an_op_the_recipe_does_not_name_are_redacted():
    batch = _batch([f"电话 {PHONE}"])
    batch = batch.set_column(batch.schema.get_field_index("drop_reason"), "drop_reason", pa.array(["gate:x"]))
    batch = batch.set_column(batch.schema.get_field_index("dropped_by"), "dropped_by", pa.array(["release-gate"]))
    assert redact_dropped_rows(batch, [RedactPii()]).column("text").to_pylist() == ["电话 <PHONE>"]
    assert redact_dropped_rows(batch, [DropShortDocs(min_chars=5)]) is batch  # no redacting op: nothing to do


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="短文本的一二三 ,。", max_size=30), st.booleans()), min_size=1, max_size=12))
def test_dropped_rows_never_keep_a_value_and_keep_their_order(rows):
    ops = [DropShortDocs(min_chars=25), RedactPii()]
    texts = [f"{t}{PHONE}" if with_pii else t for t, with_pii in rows]
    batch = _batch(texts)

    for op in ops:
        batch = op.apply(batch, OpStats())
    dropped = batch.filter(batch.column("drop_reason").is_valid())
    out = redact_dropped_rows(dropped, ops)
    assert out.column("id").to_pylist() == dropped.column("id").to_pylist()
    assert all(PHONE not in t for t in out.column("text").to_pylist())

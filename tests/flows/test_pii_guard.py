"""Stage files and PII: parts written before redact_pii go when the run completes; reruns still give the same output."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.curate import run_recipe
from flows.pii_guard import stages_before_redaction
from flows.io.recipe import parse_recipe
from tests.flows.pii_leak_scan import scan_tree
from tests.flows.test_resume import SAMPLE, ReadCounter

PHONE, ID = "13812345678", "11010519491231002X"
FILES = ("song_ci.jsonl", "damaged_export.jsonl")


def _assert_same_output(a: Path, b: Path) -> None:
    """Every kept/dropped/quarantine part holds the same rows (shards' schemas may differ in nullability only)."""
    for kind in ("kept", "dropped", "quarantine"):
        fa, fb = sorted((a / kind).glob("part-*.parquet")), sorted((b / kind).glob("part-*.parquet"))
        assert [f.name for f in fa] == [f.name for f in fb], kind
        for x, y in zip(fa, fb):
            assert pq.read_table(x).to_pylist() == pq.read_table(y).to_pylist(), f"{kind}/{x.name} differs"


def _ops(text: str):
    return parse_recipe(f"name: t\ninputs: [{{source: s, paths: [x.jsonl]}}]\nops:\n{textwrap.indent(text, '  ')}", "t.yaml").ops


def test_only_stages_written_before_the_first_redacting_op_are_named():
    assert stages_before_redaction(_ops("- op: dedup_exact\n- op: redact_pii\n- op: dedup_near\n")) == [0]
    assert stages_before_redaction(_ops("- op: redact_pii\n- op: dedup_exact\n- op: dedup_near\n")) == []
    assert stages_before_redaction(_ops("- op: dedup_exact\n- op: dedup_near\n- op: redact_pii\n")) == [0, 1]
    assert stages_before_redaction(_ops("- op: dedup_exact\n- op: redact_pii\n  mode: detect\n")) == []  # nothing redacted
    assert stages_before_redaction(_ops("- op: dedup_exact\n")) == []


def _inputs(d: Path) -> Path:
    inputs = d / "in"
    inputs.mkdir()
    for f in FILES:
        shutil.copy2(SAMPLE / f, inputs / f)
    lines = [{"text": f"短信 {PHONE}"}, {"text": f"请联系客服，手机{PHONE}，身份证{ID}，我们会尽快处理您的订单问题。"}] * 2
    (inputs / "pii.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    return inputs


def _recipe(d: Path, inputs: Path, redact_first: bool, keep: str = "first") -> Path:
    redact = "  - op: redact_pii\n"
    dedup = f"  - op: dedup_exact\n    keep: {keep}\n"
    p = d / "r.yaml"
    p.write_text(f"name: guard\nworkspace: {d / 'ws'}\ninputs:\n  - source: s\n    paths: [\"{inputs}/*.jsonl\"]\n"
                 f"ops:\n  - op: drop_short_docs\n    min_chars: 20\n" + (redact + dedup if redact_first else dedup + redact)
                 + "  - op: identify_language\nrun:\n  runner: thread\n  workers: 2\n", encoding="utf-8")
    return p


pytestmark = pytest.mark.integration


def test_raw_stage_parts_are_removed_and_a_rerun_recomputes_them(tmp_path, prefect_api, monkeypatch):
    inputs = _inputs(tmp_path)
    recipe = _recipe(tmp_path, inputs, redact_first=False)
    run = run_recipe(str(recipe), run_id="r")
    s0 = run / "_stages" / "s00"
    assert not list(s0.glob("part-*.parquet")), "stage-0 parts (written before redact_pii) outlived the run"
    assert all(json.loads(f.read_text())["parts_removed"] for f in s0.glob("done-0*.json"))
    assert list(s0.glob("sig-*.parquet")) and (s0 / "decisions.parquet").exists()  # what a release and a rerun read
    assert scan_tree(run, [PHONE, ID]) == {}  # without the removal s00 would hold both (see the leak test)

    # Unchanged rerun (as if killed after its last task): every stage is still done, nothing is read.
    (run / "run.json").unlink()
    reads = ReadCounter(monkeypatch)
    run_recipe(str(recipe), run_id="r")
    assert reads.paths == []
    assert json.loads((run / "run.json").read_text())["resume"]["shard_stages_reused"] == 6

    # An input touched: stage 1 is redone everywhere, and it needs stage 0's parts, so they are recomputed.
    os.utime(inputs / "song_ci.jsonl", ns=(time.time_ns(), time.time_ns()))
    reads.paths.clear()
    run_recipe(str(recipe), run_id="r")
    assert sorted(reads.paths) == sorted((*FILES, "pii.jsonl"))
    fresh = run_recipe(str(recipe), run_id="fresh")
    _assert_same_output(run, fresh)

    # A downstream parameter changed: the same, and the output is that of a fresh run of the new recipe.
    recipe = _recipe(tmp_path, inputs, redact_first=False, keep="longest")
    run_recipe(str(recipe), run_id="r")
    _assert_same_output(run, run_recipe(str(recipe), run_id="fresh2"))
    assert json.loads((run / "run.json").read_text())["status"] == "completed"


def test_parts_written_after_redaction_are_kept_clean_and_reused(tmp_path, prefect_api, monkeypatch):
    inputs = _inputs(tmp_path)
    recipe = _recipe(tmp_path, inputs, redact_first=True)
    run = run_recipe(str(recipe), run_id="r")
    parts = list((run / "_stages" / "s00").glob("part-*.parquet"))
    assert parts and scan_tree(run, [PHONE, ID]) == {}
    staged = [r for p in parts for r in pq.read_table(p).to_pylist() if r["drop_reason"] == "too_short"]
    assert any(r["text"] == "短信 <PHONE>" for r in staged), "the short record is dropped (before redact_pii) and redacted"

    os.utime(inputs / "song_ci.jsonl", ns=(time.time_ns(), time.time_ns()))
    reads = ReadCounter(monkeypatch)
    run_recipe(str(recipe), run_id="r")
    assert reads.paths == ["song_ci.jsonl"]  # the other shards' stage 0 is reused from its (clean) parts
    _assert_same_output(run, run_recipe(str(recipe), run_id="fresh"))


def test_history_of_a_run_by_older_code_is_redacted_when_published(tmp_path):
    from flows.pii_guard import copy_history_part
    from transforms.schema import docs_from_pylist, ensure_decision_columns, quarantine_from_pylist

    ops = _ops("- op: drop_short_docs\n  min_chars: 12\n- op: redact_pii\n")
    q = quarantine_from_pylist([{"source": "s", "source_uri": "f.jsonl:1", "error": "json_decode", "detail": "bad",
                                 "raw_sha256": "0" * 64, "raw_excerpt": f'{{"text": "电话 {PHONE}"'.encode()}])
    d = ensure_decision_columns(docs_from_pylist([{"id": "a", "text": f"短信 {PHONE}", "source": "s", "source_uri": "f.jsonl:2",
                                                  "raw_sha256": "0" * 64, "meta": json.dumps({"idno": ID})}]))
    d = d.set_column(d.schema.get_field_index("drop_reason"), "drop_reason", pa.array(["too_short"]))
    d = d.set_column(d.schema.get_field_index("dropped_by"), "dropped_by", pa.array([ops[0].op_id]))
    for name, table in (("q.parquet", q), ("d.parquet", d)):
        pq.write_table(table, tmp_path / name)
    copy_history_part(tmp_path / "q.parquet", tmp_path / "q-out.parquet", "quarantine", ops)
    copy_history_part(tmp_path / "d.parquet", tmp_path / "d-out.parquet", "dropped", ops)
    assert scan_tree(tmp_path, [PHONE, ID]).keys() == {str(tmp_path / "q.parquet"), str(tmp_path / "d.parquet")}
    assert pq.read_table(tmp_path / "d-out.parquet").schema == pq.read_table(tmp_path / "d.parquet").schema
    copy_history_part(tmp_path / "d.parquet", tmp_path / "plain.parquet", "dropped", ops[:1])  # nothing to redact: a copy
    assert (tmp_path / "plain.parquet").read_bytes() == (tmp_path / "d.parquet").read_bytes()


def test_removed_parts_are_forgotten_only_for_shards_with_a_stage_to_redo(tmp_path):
    from flows.pii_guard import forget_removed_parts
    from flows.io.store import write_json_atomic

    keys = [{0: "a0", 1: "b0"}, {0: "a1", 1: "b1"}]
    for stage, row in enumerate(keys):
        for shard, key in row.items():
            write_json_atomic(tmp_path / "_stages" / f"s{stage:02d}" / f"done-{shard:05d}.json",
                              {"key": key, "parts_removed": stage == 0})
    assert forget_removed_parts(tmp_path, keys) == []  # every stage done: the removed parts are never read
    changed = [keys[0], {0: "a1", 1: "b1-new"}]  # shard 1's last stage must be redone: it reads stage 0's part
    assert forget_removed_parts(tmp_path, changed) == ["s00/00001"]
    assert not (tmp_path / "_stages" / "s00" / "done-00001.json").exists()
    assert (tmp_path / "_stages" / "s00" / "done-00000.json").exists() and (tmp_path / "_stages" / "s01" / "done-00001.json").exists()

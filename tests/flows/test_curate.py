"""`yuliao run` end to end on the real Prefect API: outputs, quarantine, conservation, determinism."""

import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.entrypoints import run_recipe
from transforms.basic import DedupExact, DropShortDocs
from transforms.schema import CORE_COLUMNS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _write_inputs(d: Path) -> None:
    (d / "a.jsonl").write_text(
        '{"text": "秦川雄帝宅，函谷壯皇居。", "author": "太宗皇帝"}\n'
        '{"text": "短"}\n'
        '{"text": "这一行缺少右括号", \n'
        '\n'
        '{"body": "no text field"}\n'
        '{"text": "Hello world, this is English."}\n', encoding="utf-8")
    (d / "b.jsonl").write_text(
        '{"text": "秦川雄帝宅，函谷壯皇居。"}\n'
        '{"text": "  Hello   world, this is English.  "}\n'
        '{"text": "一係陣間開會嘅時候講"}\n', encoding="utf-8")


def _recipe(d: Path) -> Path:
    p = d / "r.yaml"
    p.write_text(textwrap.dedent(f"""\
        name: t
        workspace: {d / 'ws'}
        inputs:
          - source: test
            paths: ["{d}/*.jsonl"]
            licence: MIT
        ops:
          - op: normalize_whitespace
          - op: drop_short_docs
            min_chars: 3
          - op: dedup_exact
        """), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, prefect_api):
    d = tmp_path_factory.mktemp("curate")
    _write_inputs(d)
    recipe = _recipe(d)
    return d, run_recipe(str(recipe), run_id="first"), run_recipe(str(recipe), run_id="second")


def test_counts_add_up_per_file(two_runs):
    _, run, _ = two_runs
    rec = json.loads((run / "run.json").read_text())
    assert rec["status"] == "completed" and rec["conservation_ok"]
    assert rec["totals"] == {"read": 8, "kept": 3, "dropped": 3, "quarantined": 2}
    for f in rec["per_file"]:
        assert f["read"] == f["kept"] + f["dropped"] + f["quarantined"]
    assert rec["drops_by_reason"] == {"exact_duplicate": 2, "too_short": 1}
    ops = {o["op"]: o for o in rec["ops"]}
    assert ops[DropShortDocs(min_chars=3).op_id]["rows_in"] == 6 and ops[DropShortDocs(min_chars=3).op_id]["rows_out"] == 5
    assert ops[DedupExact().op_id]["dropped"] == {"exact_duplicate": 2}


def test_malformed_lines_are_quarantined_with_file_and_line(two_runs):
    d, run, _ = two_runs
    q = pq.read_table(run / "quarantine").to_pylist()
    by_uri = {r["source_uri"]: r for r in q}
    assert set(by_uri) == {f"{d}/a.jsonl:3", f"{d}/a.jsonl:5"}
    assert by_uri[f"{d}/a.jsonl:3"]["error"] == "json_decode"
    assert by_uri[f"{d}/a.jsonl:5"]["error"] == "missing_text_field"
    assert "text_field" in by_uri[f"{d}/a.jsonl:5"]["detail"]


def test_kept_parquet_has_core_columns_and_loads_with_datasets(two_runs):
    import datasets

    _, run, _ = two_runs
    table = pq.read_table(run / "kept")
    assert set(CORE_COLUMNS) <= set(table.column_names)
    ds = datasets.load_dataset("parquet", data_files=sorted(str(p) for p in (run / "kept").glob("*.parquet")),
                               split="train", cache_dir=str(run / ".hfcache"))
    assert sorted(ds["text"]) == sorted(table.column("text").to_pylist())
    meta = [json.loads(m) for m in table.column("meta").to_pylist() if m]
    assert {"author": "太宗皇帝"} in meta


def test_dropped_rows_carry_reason_op_and_duplicate_of(two_runs):
    _, run, _ = two_runs
    dropped = pq.read_table(run / "dropped").to_pylist()
    kept_ids = set(pq.read_table(run / "kept").column("id").to_pylist())
    for row in dropped:
        assert row["drop_reason"] and row["dropped_by"]
        if row["drop_reason"] == "exact_duplicate":
            assert row["dropped_by"] == DedupExact().op_id and row["duplicate_of"] in kept_ids


def test_rerun_gives_same_ids_and_identical_kept_text(two_runs):
    _, first, second = two_runs
    a = pq.read_table(first / "kept").sort_by("id")
    b = pq.read_table(second / "kept").sort_by("id")
    assert a.column("id").equals(b.column("id"))
    assert [t.encode() for t in a.column("text").to_pylist()] == [t.encode() for t in b.column("text").to_pylist()]

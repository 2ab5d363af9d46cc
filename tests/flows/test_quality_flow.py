"""The zh_web preset inside a real `yuliao run` (Prefect), then `yuliao suggest-thresholds` on that run."""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from flows.curate import run_recipe
from tests.quality.quality_data import degrade, sohu_passages

pytestmark = pytest.mark.integration
PRESETS = Path(__file__).resolve().parents[2] / "configs" / "recipes" / "presets"


@pytest.fixture(scope="module")
def zh_run(tmp_path_factory, corpora, prefect_api) -> Path:
    d = tmp_path_factory.mktemp("quality_flow")
    texts = sohu_passages(corpora, 120)
    rng = random.Random(3)
    bad = [degrade(t, kind, rng, texts[0]) for t, kind in zip(texts[:40], ["mojibake", "repeat", "fragments", "linebreaks"] * 10)]
    with open(d / "news.jsonl", "w", encoding="utf-8") as f:
        for t in texts + bad:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    preset = yaml.safe_load((PRESETS / "zh_web.yaml").read_text(encoding="utf-8"))
    recipe = {
        "name": "zh-quality",
        "workspace": str(d / "ws"),
        "inputs": [{"source": "sohu", "paths": [str(d / "news.jsonl")], "licence": "Apache-2.0"}],
        "ops": [{"op": "normalize_whitespace"}] + preset["ops"],
    }
    path = d / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return run_recipe(str(path), run_id="q1")


def test_preset_runs_in_the_flow_and_drops_with_reasons(zh_run):
    kept = pq.read_table(zh_run / "kept")
    dropped = pq.read_table(zh_run / "dropped")
    assert kept.num_rows + dropped.num_rows == 160
    assert kept.num_rows >= 100  # ~90% of the 120 real passages survive
    reasons = dropped.column("drop_reason").to_pylist()
    assert {"garbled_text", "dup_lines"} <= set(reasons)
    assert all(by.startswith("filter_") for by in dropped.column("dropped_by").to_pylist())
    assert "signal_dup_5gram_share" in kept.column_names and "signal_pii_density" in kept.column_names


def test_suggest_thresholds_reads_the_run(zh_run, tmp_path):
    from flows.cli.main import app

    res = CliRunner().invoke(app, ["suggest-thresholds", str(zh_run), "--preset", "zh_web", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    columns = {item["column"] for item in report}
    assert {"signal_chars", "signal_dup_line_share", "signal_top_2gram_share", "signal_stopwords"} <= columns
    garbled = next(i for i in report if i["column"] == "signal_garbled_share")
    preset_row = next(r for r in garbled["rows"] if r["current"])
    # garbled share is the preset's first check, so the report's count must equal what the run dropped for it
    # (the reader repairs Latin-1 mojibake with ftfy; the GBK-read copies stay garbled)
    ran = pq.read_table(zh_run / "dropped").column("drop_reason").to_pylist().count("garbled_text")
    assert preset_row["threshold"] == 0.01 and preset_row["dropped"] == ran >= 3 and preset_row["dropped_now_kept"] == 0


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory, corpora, prefect_api) -> tuple[Path, float, str]:
    """Train a model into a workspace, then run a recipe that scores and filters with it."""
    from flows.io.quality_model import train_from_files
    from tests.quality.quality_data import build_annotation_export

    d = tmp_path_factory.mktemp("quality_model_flow")
    ann, docs, _ = build_annotation_export(corpora, d / "export")
    ws = d / "ws"
    _, model = train_from_files(ann, docs, ws, group_column="group", target_precision=0.9)
    table = pq.read_table(docs).slice(0, 200)
    with open(d / "docs.jsonl", "w", encoding="utf-8") as f:
        for row in table.to_pylist():
            f.write(json.dumps({"text": row["text"], "truth": json.loads(row["meta"])["truth"]}, ensure_ascii=False) + "\n")
    path = d / "recipe.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: scored
        workspace: {ws}
        inputs:
          - source: export
            paths: ["{d / 'docs.jsonl'}"]
            licence: Apache-2.0
        ops:
          - op: score_quality
            model: latest
          - op: filter_quality_score
            min_score: {model.card.threshold:.6f}
        """), encoding="utf-8")
    return run_recipe(str(path), run_id="s1"), model.card.threshold, model.card.model_sha256


def test_score_quality_runs_in_the_flow_with_the_stored_model(scored_run):
    run, threshold, model_sha = scored_run
    kept, dropped = pq.read_table(run / "kept"), pq.read_table(run / "dropped")
    assert kept.num_rows + dropped.num_rows == 200 and kept.num_rows > 0 and dropped.num_rows > 0
    scores = kept.column("score_quality").to_pylist()
    assert all(threshold <= s <= 1 for s in scores)
    assert set(dropped.column("drop_reason").to_pylist()) == {"low_quality_score"}
    assert set(kept.column("score_quality_model").to_pylist()) == {f"v1@{model_sha[:12]}"}  # record-level lineage
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert f"model:v1@{model_sha[:12]}" in json.dumps(record)
    # wiring check (these rows overlap the training data); held-out metrics are tested in tests/quality/test_learned.py
    truth = [json.loads(m)["truth"] for m in kept.column("meta").to_pylist()]
    assert truth.count("good") / len(truth) >= 0.85

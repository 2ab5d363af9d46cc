"""Lineage: the full story of kept, dropped, deduplicated, gated and quarantined records, from files alone."""

from __future__ import annotations

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.io.lineage import record_story, render_story
from flows.release import release_flow
from flows.io.release_store import resolve_ref
from tests.flows._release_helpers import DEDUP, LID, LINES_V1, NW, SHORT, curated_runs, fresh_workspace, ids_by_line, op_id


@pytest.fixture()
def published(tmp_path, tmp_path_factory, prefect_api):
    """Publish v1 and v2, then delete the run directories: lineage must not need them."""
    runs = curated_runs(tmp_path_factory)
    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    for name in ("v1", "v2"):
        release_flow(run=str(ws / "runs" / runs[name].name), workspace=str(ws), refresh_catalog=False)
    shutil.rmtree(ws / "runs")
    return ws, ids_by_line(runs["v1"]), ids_by_line(runs["v2"]), runs["corpus"]


def _ops(story):
    return [(s["op"], s["did"]) for s in story["ops"]]


def test_a_kept_record_has_its_raw_source_every_op_and_its_place_in_the_release(published):
    ws, _ids1, ids2, corpus = published
    rid = ids2[3]  # the English line whose double spaces v2's normalize_whitespace collapsed
    story = record_story(resolve_ref(ws, "tiny@v2"), rid)
    assert story["status"] == "released"
    assert story["in_release"].startswith("yes: split ") and story["file"].startswith("data/")
    assert story["source"]["source_uri"] == f"{corpus}:3" and story["source"]["licence"] == "CC-BY-4.0"
    raw = json.dumps(LINES_V1[2], ensure_ascii=False).encode("utf-8")
    import hashlib

    assert story["source"]["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert story["source"]["meta"]["tag"] == "en-spaces"
    ops = _ops(story)
    assert [o for o, _ in ops] == [op_id(NW), op_id(LID), op_id(SHORT), op_id(DEDUP),
                                   "release gates"]
    assert ops[0][1] == "changed it: spaces"
    assert ops[2][1] == "ran; no change recorded" and ops[4][1] == "passed every gate"
    assert story["ops"][2]["params"] == {"min_chars": 13}
    assert story["record"]["lang"] == "en"
    assert story["annotations"] == []
    assert "cluster" not in story


def test_a_dropped_record_says_which_op_dropped_it_and_that_later_ops_never_saw_it(published):
    ws, ids1, _ids2, corpus = published
    story = record_story(resolve_ref(ws, "tiny@v1"), ids1[4])  # "短"
    assert story["status"] == "dropped"
    assert story["why_not"] == f"dropped by {op_id(SHORT)}: too_short"
    assert story["file"].startswith("_dropped/")
    assert _ops(story) == [(op_id(LID), "ran; no change recorded"),
                           (op_id(SHORT), "dropped it: too_short"),
                           (op_id(DEDUP), "not applied: the record was already dropped")]
    gated = record_story(resolve_ref(ws, "tiny@v1"), ids1[5])  # Japanese, gated at publish time
    assert gated["status"] == "dropped" and gated["record"]["lang"] == "ja"
    assert gated["why_not"] == "dropped by gate:languages(lang in ['en', 'yue', 'zh']): gate:languages"
    assert _ops(gated)[-1][0] == "release gates" and "gate:languages" in _ops(gated)[-1][1]


def test_a_deduplicated_record_shows_its_cluster_and_the_copy_that_was_kept(published):
    ws, ids1, _ids2, corpus = published
    ref = resolve_ref(ws, "tiny@v1")
    dup = record_story(ref, ids1[2])
    assert dup["status"] == "dropped"
    assert dup["why_not"] == f"dropped by {op_id(DEDUP)}: exact_duplicate; duplicate of {ids1[1]}"
    assert dup["cluster"]["cluster_id"] == ids1[1] and dup["cluster"]["duplicate_of"] == ids1[1]
    assert [(m["id"], m["status"]) for m in dup["cluster"]["members"]] == [(ids1[1], "released"), (ids1[2], "dropped")]
    assert _ops(dup)[-1] == (op_id(DEDUP), f"dropped it: exact_duplicate (duplicate of {ids1[1]}, cluster {ids1[1]})")
    kept = record_story(ref, ids1[1])
    assert kept["status"] == "released" and kept["cluster"]["size"] == 2
    assert _ops(kept)[2] == (op_id(DEDUP), f"kept it as the representative of duplicate cluster {ids1[1]}")
    text = render_story(dup)
    assert "<- this record" in text and f"{corpus}:1" in text and f"{corpus}:2" in text


def test_quarantined_absent_and_annotated_records(published):
    ws, ids1, ids2, corpus = published
    ref1 = resolve_ref(ws, "tiny@v1")
    q = record_story(ref1, f"{corpus}:9")
    assert q["status"] == "quarantined" and q["why_not"].startswith("quarantined before it became a document: json_decode")
    gone = record_story(resolve_ref(ws, "tiny@v2"), ids1[7])  # line 7 was blanked in v2's input
    assert gone["status"] == "absent" and gone["other_versions"] == ["v1 (released)"]
    # Annotations written by the annotation flow are found by record_id; other files are ignored.
    ann_dir = ws / "annotation" / "project-1"
    ann_dir.mkdir(parents=True)
    pq.write_table(pa.table({"record_id": [ids1[1], "other"], "annotator": ["a1", "a2"], "label_quality": [4, 2]}),
                   ann_dir / "annotations.parquet")
    story = record_story(ref1, ids1[1])
    assert [(a["annotator"], a["label_quality"]) for a in story["annotations"]] == [("a1", 4)]

    from flows.cli.main import app

    cli = CliRunner()
    shown = cli.invoke(app, ["lineage", "tiny@latest", ids2[1], "--workspace", str(ws)])
    assert shown.exit_code == 0 and "in the release: yes" in shown.output
    as_json = cli.invoke(app, ["lineage", "tiny@v1", ids1[1], "--workspace", str(ws), "--json"])
    assert json.loads(as_json.output)["annotations"][0]["annotator"] == "a1"
    # --verify-raw re-reads the raw line: line 1 is unchanged; line 7 was blanked after v1 was cut.
    assert record_story(ref1, ids1[1], verify_raw=True)["source"]["raw_check"] == "match: the raw bytes are unchanged"
    assert record_story(ref1, ids1[7], verify_raw=True)["source"]["raw_check"].startswith(f"MISMATCH: {corpus} line 7")
    missing = cli.invoke(app, ["lineage", "tiny@v1", "no-such-id", "--workspace", str(ws)])
    assert missing.exit_code == 5 and "not in tiny@v1's run" in missing.output


def test_without_kept_history_lineage_says_it_cannot_tell_instead_of_guessing(tmp_path, tmp_path_factory, prefect_api):
    runs = curated_runs(tmp_path_factory)
    ws = fresh_workspace(tmp_path, runs, "v1")
    recipe = ws / "runs" / "run-v1" / "recipe.yaml"
    recipe.write_text(recipe.read_text(encoding="utf-8").replace("  row_group_rows: 1\n", "  row_group_rows: 1\n  keep_history: false\n"),
                      encoding="utf-8")
    release_flow(run=str(ws / "runs" / "run-v1"), workspace=str(ws), refresh_catalog=False)
    ref = resolve_ref(ws, "tiny@v1")
    assert not (ref.path / "_dropped").exists() or [p.name for p in (ref.path / "_dropped").iterdir()] == ["gate-part-00000.parquet"]
    story = record_story(ref, ids_by_line(runs["v1"])[4])  # too short: dropped by the run, history not kept
    assert story["status"] == "absent" and "kept no dropped-row history" in story["why_not"]

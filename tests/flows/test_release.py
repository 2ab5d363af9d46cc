"""Publishing releases: versions and parents, diff, load_dataset, races, kills, integrity on pull."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.io.recipe import ReleaseGates
from flows.release import gate_decisions, release_flow, split_of
from flows.io.release_store import (IntegrityError, diff_releases, list_versions, pull_release, read_manifest,
                                 resolve_ref, verify_release)
from tests.flows._release_helpers import (ADDED_V2, SHORT, curated_runs, fresh_workspace, ids_by_line, op_id,
                                          start_publisher, wait_for_line)


@pytest.fixture()
def runs(tmp_path_factory, prefect_api):
    return curated_runs(tmp_path_factory)


def _publish(runs, ws: Path, name: str) -> dict:
    return release_flow(run=str(ws / "runs" / runs[name].name), workspace=str(ws), refresh_catalog=False)


def _data_ids(release_dir: Path) -> dict[str, str]:
    """Return {id: split} over a release's data files (read straight from Parquet)."""
    m = read_manifest(release_dir)
    out = {}
    for f in m["files"]:
        if f["role"] == "data":
            for i in pq.read_table(release_dir / f["path"], columns=["id"]).column("id").to_pylist():
                out[i] = f["split"]
    return out


# ---------------------------------------------------------------- pure gates and splits


def test_gates_drop_with_the_first_failing_gate_and_treat_null_scores_as_failing():
    t = pa.table({"score_q": [0.9, 0.2, None, 0.8, 0.95], "lang": ["zh", "zh", "zh", "ja", "en"],
                  "sensitivity": [None, "low", "low", "low", "high"]})
    gates = ReleaseGates(min_score={"score_q": 0.5}, languages=["zh", "en"], exclude_sensitivity=["high"])
    reason, by = gate_decisions(t, gates)
    assert reason.to_pylist() == [None, "gate:min_score", "gate:min_score", "gate:languages", "gate:exclude_sensitivity"]
    assert by.to_pylist()[1] == "gate:min_score(score_q >= 0.5)"


def test_split_of_is_stable_and_roughly_proportional():
    splits = {"train": 0.8, "validation": 0.1, "test": 0.1}
    ids = [f"id{i}" for i in range(5000)]
    first = [split_of(i, splits, "s") for i in ids]
    assert first == [split_of(i, splits, "s") for i in ids]
    assert 3800 < first.count("train") < 4200 and 350 < first.count("test") < 650
    assert first != [split_of(i, splits, "other-seed") for i in ids]


# ---------------------------------------------------------------- publish, parent, diff, load


def test_publish_twice_gives_v1_then_v2_with_parent_and_a_correct_diff(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    r1 = _publish(runs, ws, "v1")
    r2 = _publish(runs, ws, "v2")
    assert (r1["version"], r1["parent"], r2["version"], r2["parent"]) == (1, None, 2, "v1")
    v1, v2 = resolve_ref(ws, "tiny@v1"), resolve_ref(ws, "tiny@latest")
    assert v2.version == 2

    ids1, ids2 = ids_by_line(runs["v1"]), ids_by_line(runs["v2"])
    m1 = read_manifest(v1.path)
    # v1: lines 1, 3, 6, 7, 8 released; 2 duplicate, 4 too short, 5 Japanese gated, 9 quarantined.
    assert set(_data_ids(v1.path)) == {ids1[n] for n in (1, 3, 6, 7, 8)}
    assert m1["rows"] == 5 and m1["parent"] is None and m1["run"]["run_id"] == "run-v1"
    assert m1["drops_by_reason"] == {"exact_duplicate": 1, "too_short": 1, "gate:languages": 1}
    assert m1["quarantine_by_error"] == {"json_decode": 1}
    assert m1["gates"] == [{"gate": "languages", "rule": "lang in ['en', 'yue', 'zh']", "reason": "gate:languages", "dropped": 1}]
    assert m1["sources"][0]["licence"] == "CC-BY-4.0"
    assert "identify_language" in m1["recipe"]["text"] and len(m1["recipe"]["sha256"]) == 64
    assert m1["code"]["git_commit_run"] and m1["code"]["yuliao_version_run"]
    assert {f["name"] for f in m1["schema"]} >= {"id", "text", "source_uri", "raw_sha256", "lang", "trace"}
    # Splits by id hash, shards of at most 2 rows, every file hashed.
    assert all(split == split_of(i, {"train": 0.6, "test": 0.4}, "") for i, split in _data_ids(v1.path).items())
    data_files = [f for f in m1["files"] if f["role"] == "data"]
    assert all(f["rows"] <= 2 for f in data_files) and sum(f["rows"] for f in data_files) == 5
    assert {f["role"] for f in m1["files"]} == {"data", "dropped", "quarantine", "card"}
    assert verify_release(v1.path)

    d = diff_releases(v1, v2, with_ids=True)
    assert (d["added"], d["removed"], d["changed"], d["unchanged"]) == (1, 2, 1, 2)
    assert d["ids"]["added"] == [{"id": ids2[10], "reason": "new input"}]
    assert {r["id"]: r["reason"] for r in d["ids"]["removed"]} == {
        ids1[7]: "not in tiny@v2's inputs", ids1[8]: f"too_short ({op_id(SHORT)})"}
    assert d["ids"]["changed"] == [{"id": ids1[3], "columns": ["text"]}]
    assert d["removed_by_reason"] == {"not in tiny@v2's inputs": 1, f"too_short ({op_id(SHORT)})": 1}
    assert d["recipe_changed"] is True
    ch = read_manifest(v2.path)["changes_from_parent"]
    assert (ch["from"], ch["added"], ch["removed"], ch["changed"]) == ("v1", 1, 2, 1)
    assert ch["removed_by_reason"] == d["removed_by_reason"] and ch["changed_by_column"] == {"text": 1}
    assert "## Changes since v1\n\n1 added, 2 removed (" in (v2.path / "README.md").read_text(encoding="utf-8")
    assert "changes_from_parent" not in m1
    assert ADDED_V2["text"] in pq.read_table(v2.path / next(
        f["path"] for f in read_manifest(v2.path)["files"] if f["role"] == "data" and
        ids2[10] in pq.read_table(v2.path / f["path"], columns=["id"]).column("id").to_pylist())).column("text").to_pylist()


def test_load_dataset_reads_exactly_the_released_rows_offline(tmp_path, runs, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    ws = fresh_workspace(tmp_path, runs, "v1")
    ref = resolve_ref(ws, "tiny@v" + str(_publish(runs, ws, "v1")["version"]))
    ds = load_dataset(str(ref.path), cache_dir=str(tmp_path / "hf-cache"))
    expected = _data_ids(ref.path)
    assert set(ds) == {s for s, n in read_manifest(ref.path)["splits"]["rows"].items() if n}
    got = {row["id"]: split for split in ds for row in ds[split]}
    assert got == expected  # nothing from _dropped/ or _quarantine/ is loaded
    texts = {row["text"] for split in ds for row in ds[split]}
    assert "短" not in texts and "今日天氣好好，我哋一齊去公園行下啦。" in texts
    card = (ref.path / "README.md").read_text(encoding="utf-8")
    from huggingface_hub import DatasetCard

    data = DatasetCard(card).data.to_dict()
    assert data["configs"][0]["data_files"] == [{"split": s, "path": f"data/{s}-*.parquet"} for s in ("train", "test") if s in ds]
    assert "gate:languages" in card and "CC-BY-4.0" in card


def test_an_empty_split_is_left_out_of_the_card_so_load_dataset_still_works(tmp_path, runs, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    ws = fresh_workspace(tmp_path, runs, "v1")
    kept = [i for line, i in ids_by_line(runs["v1"]).items() if line in (1, 3, 6, 7, 8)]
    fractions = {"train": 0.9, "test": 0.1}
    seed = next(str(n) for n in range(1000) if all(split_of(i, fractions, str(n)) == "train" for i in kept))
    recipe = ws / "runs" / "run-v1" / "recipe.yaml"
    text = recipe.read_text(encoding="utf-8").replace("splits: {train: 0.6, test: 0.4}",
                                                      f"splits: {{train: 0.9, test: 0.1}}\n  split_seed: '{seed}'")
    recipe.write_text(text, encoding="utf-8")
    ref = resolve_ref(ws, f"tiny@v{_publish(runs, ws, 'v1')['version']}")
    m = read_manifest(ref.path)
    assert m["splits"]["rows"] == {"train": 5, "test": 0} and m["splits"]["seed"] == seed
    assert not list((ref.path / "data").glob("test-*"))
    ds = load_dataset(str(ref.path), cache_dir=str(tmp_path / "hf-cache"))
    assert list(ds) == ["train"] and ds["train"].num_rows == 5


# ---------------------------------------------------------------- concurrency and crashes


def test_two_processes_publishing_at_once_get_two_distinct_complete_versions(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    # Both pause after their first shard so their staging overlaps, then race for the next version.
    procs = [start_publisher(ws / "runs" / runs[n].name, ws, YULIAO_RELEASE_PAUSE_AFTER_FIRST_SHARD="2") for n in ("v1", "v2")]
    results = []
    for p in procs:
        out, errs = p.communicate(timeout=300)
        assert p.returncode == 0, errs[-3000:]
        results.append(json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:]))
    assert sorted(r["version"] for r in results) == [1, 2]
    assert list_versions(ws, "tiny") == [1, 2]
    by_version = {r["version"]: r for r in results}
    assert by_version[2]["parent"] == "v1" and by_version[1]["parent"] is None
    runs_published = set()
    for v in (1, 2):
        ref = resolve_ref(ws, f"tiny@v{v}")
        verify_release(ref.path)  # complete: every file present with its recorded hash
        m = read_manifest(ref.path)
        runs_published.add(m["run"]["run_id"])
        assert set(_data_ids(ref.path)) and m["rows"] == len(_data_ids(ref.path))
    assert runs_published == {"run-v1", "run-v2"}, "each version holds exactly one run, never a mix"
    assert not list((ws / "releases" / "tiny").glob(".tmp-*"))


def test_a_publish_killed_mid_write_leaves_no_version_and_the_next_publish_succeeds(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    proc = start_publisher(ws / "runs" / "run-v1", ws, YULIAO_RELEASE_PAUSE_AFTER_FIRST_SHARD="120")
    try:
        wait_for_line(proc, "yuliao-release-paused")
        root = ws / "releases" / "tiny"
        assert list(root.glob(".tmp-*/data/.*-00000.parquet")), "the publisher was mid-write: a first shard in staging"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert list_versions(ws, "tiny") == []
    assert not [p for p in root.iterdir() if not p.name.startswith(".")], "no visible version after the kill"

    result = _publish(runs, ws, "v1")
    assert result["version"] == 1 and len(result["removed_abandoned"]) == 1
    assert not list(root.glob(".tmp-*")), "the killed publisher's staging dir was cleaned up"
    verify_release(resolve_ref(ws, "tiny@latest").path)


def test_a_gate_on_a_missing_column_fails_before_anything_is_written(tmp_path, runs):
    from flows.io.release_store import ReleaseError

    ws = fresh_workspace(tmp_path, runs, "v1")
    recipe = ws / "runs" / "run-v1" / "recipe.yaml"
    recipe.write_text(recipe.read_text(encoding="utf-8").replace("  gates:\n", "  gates:\n    min_score: {score_quality: 0.5}\n"),
                      encoding="utf-8")
    with pytest.raises(ReleaseError, match=r"\['score_quality'\] that run run-v1 does not have"):
        _publish(runs, ws, "v1")
    assert list_versions(ws, "tiny") == [] and not list((ws / "releases" / "tiny").iterdir())


def test_annotation_summary_counts_label_columns():
    from flows.release import ReleaseStats

    stats = ReleaseStats()
    stats.add(pa.table({"text": ["a", "bb", "ccc"], "source": ["s"] * 3, "label_topic": ["news", None, "news"],
                        "label_quality": [4.0, 2.0, None]}), "train")
    assert stats.annotation_summary() == {"label_quality": {"labelled_rows": 2, "mean": 3.0},
                                          "label_topic": {"labelled_rows": 2, "top_values": {"news": 2}}}
    assert stats.to_json()["rows_by_split"] == {"train": 3} and stats.to_json()["text_chars"]["total"] == 6


# ---------------------------------------------------------------- pull and integrity


def test_pull_copies_and_verifies_and_a_flipped_byte_fails_naming_the_shard(tmp_path, runs):
    from flows.cli.main import app

    ws = fresh_workspace(tmp_path, runs, "v1")
    _publish(runs, ws, "v1")
    ref = resolve_ref(ws, "tiny@latest")
    cli = CliRunner()
    ok = cli.invoke(app, ["pull", "tiny@latest", "--to", str(tmp_path / "copy"), "--workspace", str(ws)])
    assert ok.exit_code == 0, ok.output
    assert f"pulled: {tmp_path / 'copy'}" in ok.output
    assert verify_release(tmp_path / "copy", with_history=False)
    assert not (tmp_path / "copy" / "_dropped").exists()
    import hashlib

    for line in (tmp_path / "copy" / "SHA256SUMS").read_text().splitlines():  # what `sha256sum -c` would check
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "copy" / name).read_bytes()).hexdigest() == digest
    assert cli.invoke(app, ["verify", str(tmp_path / "copy")]).exit_code == 0

    shard = next(f for f in read_manifest(ref.path)["files"] if f["role"] == "data")
    path = ref.path / shard["path"]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(raw))
    bad = cli.invoke(app, ["pull", "tiny@v1", "--to", str(tmp_path / "copy2"), "--workspace", str(ws)])
    assert bad.exit_code == 4
    assert shard["path"] in bad.output and "sha256 mismatch" in bad.output
    assert not (tmp_path / "copy2").exists(), "a failed pull leaves nothing behind"
    with pytest.raises(IntegrityError) as exc:
        pull_release(ref, tmp_path / "copy3")
    assert exc.value.path == shard["path"]

    path.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(IntegrityError, match="truncated"):
        pull_release(ref, tmp_path / "copy4")
    assert cli.invoke(app, ["verify", "tiny@v1", "--workspace", str(ws)]).exit_code == 4


def test_cli_lists_shows_and_diffs_with_latest_and_clear_errors(tmp_path, runs):
    from flows.cli.main import app

    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    _publish(runs, ws, "v1")
    _publish(runs, ws, "v2")
    cli = CliRunner()
    listed = cli.invoke(app, ["releases", "tiny", "--workspace", str(ws), "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.output)
    assert [(r["release"], r["parent"], r["status"]) for r in rows] == [("tiny@v1", None, "ok"), ("tiny@v2", "v1", "ok")]
    shown = cli.invoke(app, ["show", "tiny@latest", "--workspace", str(ws)])
    assert shown.exit_code == 0 and "tiny@v2" in shown.output and "configs:" in shown.output
    diffed = cli.invoke(app, ["diff", "tiny@v1", "tiny@latest", "--workspace", str(ws), "--ids"])
    assert diffed.exit_code == 0 and "added 1, removed 2, changed 1" in diffed.output
    assert cli.invoke(app, ["show", "tiny@v9", "--workspace", str(ws)]).exit_code == 2
    assert cli.invoke(app, ["show", "nosuch@latest", "--workspace", str(ws)]).exit_code == 2
    assert cli.invoke(app, ["release", str(tmp_path / "no-run"), "--workspace", str(ws)]).exit_code == 2
    again = cli.invoke(app, ["release", "run-v2", "--workspace", str(ws), "--no-catalog"])
    assert again.exit_code == 0, again.output
    assert f"release: {ws / 'releases' / 'tiny' / 'v3'}" in again.output
    assert "already published as tiny@v2" in again.output

"""The DuckDB catalog: rebuilt from the files, consistent with them, usable while a publisher works."""

from __future__ import annotations

import os
import signal

import duckdb
import pytest
from typer.testing import CliRunner

from flows.io.catalog import catalog_path, is_stale, query_catalog, rebuild_catalog
from flows.release import release_flow
from flows.io.release_store import read_manifest, resolve_ref
from tests.flows._release_helpers import (DEDUP, curated_runs, fresh_workspace, ids_by_line, op_id, start_publisher,
                                          wait_for_line)


@pytest.fixture()
def runs(tmp_path_factory, prefect_api):
    return curated_runs(tmp_path_factory)


def test_rebuild_indexes_runs_releases_files_and_decisions_as_the_files_say(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    for name in ("v1", "v2"):
        release_flow(run=str(ws / "runs" / runs[name].name), workspace=str(ws), refresh_catalog=False)
    assert is_stale(ws)
    rebuild_catalog(ws)
    assert not is_stale(ws)
    q = lambda sql: query_catalog(ws, sql, refresh=False)[1]  # noqa: E731
    assert q("SELECT run_id, status, read, kept, dropped, quarantined FROM runs ORDER BY run_id") == [
        ("run-v1", "completed", 9, 6, 2, 1), ("run-v2", "completed", 9, 5, 3, 1)]
    assert q("SELECT name, parent, rows, run_id, status FROM releases ORDER BY version") == [
        ("tiny@v1", None, 5, "run-v1", "ok"), ("tiny@v2", "v1", 4, "run-v2", "ok")]
    m1 = read_manifest(resolve_ref(ws, "tiny@v1").path)
    assert q("SELECT path, sha256, rows FROM release_files WHERE version = 1 ORDER BY path") == sorted(
        (f["path"], f["sha256"], f["rows"]) for f in m1["files"])
    ids1 = ids_by_line(runs["v1"])
    assert q(f"SELECT status, drop_reason, dropped_by, duplicate_of FROM decisions WHERE version = 1 AND id = '{ids1[2]}'") == [
        ("dropped", "exact_duplicate", op_id(DEDUP), ids1[1])]
    assert dict(q("SELECT drop_reason, count(*) FROM decisions WHERE version = 1 AND status = 'dropped' GROUP BY 1")) == {
        "exact_duplicate": 1, "too_short": 1, "gate:languages": 1}
    assert q("SELECT count(*) FROM decisions WHERE version = 1 AND status = 'released'") == [(5,)]
    assert q("SELECT error FROM quarantine WHERE version = 2") == [("json_decode",)]
    # The catalog is never the truth: delete it, and a query rebuilds the same answers.
    catalog_path(ws).unlink()
    assert query_catalog(ws, "SELECT count(*) FROM decisions")[1] == [(5 + 3 + 4 + 4,)]


def test_catalog_works_while_another_process_is_publishing(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1", "v2")
    release_flow(run=str(ws / "runs" / "run-v1"), workspace=str(ws), refresh_catalog=False)
    rebuild_catalog(ws)
    reader = duckdb.connect(str(catalog_path(ws)), read_only=True)  # a long-lived reader
    proc = start_publisher(ws / "runs" / "run-v2", ws, YULIAO_RELEASE_PAUSE_AFTER_FIRST_SHARD="120")
    try:
        wait_for_line(proc, "yuliao-release-paused")
        # Mid-publish: rebuilding and querying work, and the half-written version is invisible.
        rebuild_catalog(ws)
        assert query_catalog(ws, "SELECT name FROM releases ORDER BY version")[1] == [("tiny@v1",)]
        assert reader.execute("SELECT count(*) FROM releases").fetchone() == (1,)
        cli = CliRunner()
        from flows.cli.main import app

        listed = cli.invoke(app, ["releases", "tiny", "--workspace", str(ws), "--json"])
        assert listed.exit_code == 0 and '"status": "publishing"' in listed.output
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.close()
    release_flow(run=str(ws / "runs" / "run-v2"), workspace=str(ws), refresh_catalog=False)
    assert is_stale(ws), "a new version makes the catalog stale"
    assert query_catalog(ws, "SELECT name, parent FROM releases ORDER BY version")[1] == [("tiny@v1", None), ("tiny@v2", "v1")]
    cli = CliRunner()
    from flows.cli.main import app

    out = cli.invoke(app, ["catalog", "query", "SELECT count(*) AS n FROM releases", "--workspace", str(ws), "-f", "csv"])
    assert out.exit_code == 0 and out.output.splitlines() == ["n", "2"]
    assert cli.invoke(app, ["catalog", "query", "SELECT * FROM nope", "--workspace", str(ws)]).exit_code == 2
    rebuilt = cli.invoke(app, ["catalog", "rebuild", "--workspace", str(ws)])
    assert rebuilt.exit_code == 0 and f"catalog: {catalog_path(ws)}" in rebuilt.output

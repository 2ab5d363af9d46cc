"""`yuliao report`, `yuliao resume` and `yuliao server up|status|down` from the command line."""

from __future__ import annotations

import json
import shutil
import socket
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_report_command_writes_and_names_the_file(tmp_path):
    from tests.flows.report.test_report import make_scored_run

    run = make_scored_run(tmp_path)
    out = tmp_path / "r.html"
    res = runner.invoke(app, ["report", str(run), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out) and "<svg" in out.read_text(encoding="utf-8")
    res = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2


@pytest.mark.integration
def test_resume_command_reuses_finished_stages(tmp_path, prefect_api):
    from flows.curate import run_recipe

    inputs = tmp_path / "in"
    inputs.mkdir()
    for f in ("song_ci.jsonl", "damaged_export.jsonl"):
        shutil.copy2(ROOT / "data" / "sample" / f, inputs / f)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: cli-resume
        workspace: {tmp_path / 'ws'}
        inputs:
          - source: s
            paths: ["{inputs}/*.jsonl"]
        ops:
          - op: drop_short_docs
            min_chars: 6
          - op: dedup_exact
        """), encoding="utf-8")
    run = run_recipe(str(recipe), run_id="r1")
    (run / "run.json").unlink()  # as if killed after its last task
    res = runner.invoke(app, ["resume", "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 0, res.output
    rec = json.loads((run / "run.json").read_text())
    assert rec["resume"] == {"shard_stages": 4, "shard_stages_reused": 4, "reduces_reused": 1}
    assert "kept:" in res.stdout
    res = runner.invoke(app, ["resume", "--workspace", str(tmp_path / "ws")])
    assert res.exit_code == 2  # nothing incomplete left


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.integration
@pytest.mark.slow
def test_server_up_deploys_schedules_and_down_stops_it(tmp_path, monkeypatch):
    from flows.cli import ops as cli_ops

    monkeypatch.setenv("YULIAO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    port = _free_port()
    try:
        res = runner.invoke(app, ["server", "up", "--port", str(port), "--no-ui"])
        assert res.exit_code == 0, res.output
        api = f"http://127.0.0.1:{port}/api"
        pids = cli_ops._pids()
        assert set(pids) == {"server", "worker"} and all(cli_ops._alive(p) for p in pids.values())
        import httpx

        deps = httpx.post(f"{api}/deployments/filter", json={}, timeout=30).json()
        by_name = {d["name"]: d for d in deps}
        assert {"curate-demo-nightly", "annotate-collect-5min", "release-demo-weekly"} <= set(by_name)
        nightly = by_name["curate-demo-nightly"]
        assert nightly["work_pool_name"] == "yuliao-local" and nightly["parameters"]["resume"] is True
        assert nightly["schedules"][0]["schedule"]["cron"] == "0 2 * * *"
        status = runner.invoke(app, ["server", "status", "--port", str(port)])
        assert "healthy" in status.stdout and "worker: pid" in status.stdout
    finally:
        res = runner.invoke(app, ["server", "down"])
    assert "server (pid" in res.output
    assert not any(cli_ops._alive(p) for p in pids.values())
    assert not list((tmp_path / "home" / "server").glob("*.pid"))

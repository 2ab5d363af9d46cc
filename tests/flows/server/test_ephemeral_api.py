"""`yuliao run` with no PREFECT_API_URL in per-command mode: a real Prefect run against one temporary local API server."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from flows.server.ephemeral_api import PER_RUN_SERVER_DEFAULTS, server_environment, temporary_prefect_api

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"

RECIPE = """\
name: ephemeral-check
workspace: {ws}
inputs:
  - source: tang
    paths: [{a}]
    licence: MIT
  - source: song
    paths: [{b}]
    licence: MIT
run:
  runner: process
  workers: 2
ops:
  - op: drop_short_docs
    min_chars: 6
"""


def test_configured_api_is_used_as_it_is(prefect_api):
    from prefect.settings import PREFECT_API_URL

    configured = PREFECT_API_URL.value()
    with temporary_prefect_api() as url:
        assert url == configured
        assert PREFECT_API_URL.value() == configured


def test_server_environment_keeps_explicit_settings(monkeypatch):
    monkeypatch.setenv("PREFECT_SERVER_REGISTER_BLOCKS_ON_START", "true")
    env = server_environment()
    assert env["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] == "true"  # the user's choice wins over the per-run default
    assert env["PREFECT__SERVER_EPHEMERAL"] == "1" and env["PREFECT_UI_ENABLED"] == "0"
    monkeypatch.delenv("PREFECT_SERVER_REGISTER_BLOCKS_ON_START")
    assert server_environment()["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"] == PER_RUN_SERVER_DEFAULTS["PREFECT_SERVER_REGISTER_BLOCKS_ON_START"]


@pytest.mark.timeout(300)
def test_run_without_api_url_records_flow_and_worker_tasks_in_a_fresh_database(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", a=SAMPLE / "tang_poems.jsonl", b=SAMPLE / "song_ci.jsonl"),
                      encoding="utf-8")
    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(YULIAO_PREFECT_API="per-command", PYTHONPATH=str(ROOT), YULIAO_HOME=str(tmp_path / "yuliao-home"), PREFECT_HOME=str(home))
    out = subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", "r1"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-4000:]
    record = json.loads((tmp_path / "ws" / "runs" / "r1" / "run.json").read_text(encoding="utf-8"))
    assert record["status"] == "completed"

    # The temporary server created the database (migrations ran) and the flow, the shard tasks run in
    # the two worker processes and the report task all reported to it.
    with sqlite3.connect(home / "prefect.db") as db:
        flows = db.execute("SELECT state_type FROM flow_run").fetchall()
        tasks = db.execute("SELECT task_key, state_type FROM task_run").fetchall()
    assert flows == [("COMPLETED",)]
    shard_tasks = [t for t in tasks if "curate_shard_stage" in t[0] or "run_shard_stage" in t[0]]
    assert len(shard_tasks) == 2 and all(state == "COMPLETED" for _, state in shard_tasks), tasks
    assert sum(1 for key, state in tasks if "report" in key and state == "COMPLETED") == 1, tasks


EARLY_THEN_PROFILE = """\
import os
os.environ.pop("PREFECT_API_URL", None)
from flows.server import ephemeral_api as e
e.start_server_early()
proc, _ = e._early
os.environ["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # configured after all (as a profile would), before Prefect loads
with e.temporary_prefect_api() as url:
    assert url == "http://127.0.0.1:9/api", url
assert proc.poll() is not None and e._early is None, "the early server must be stopped unused"
print("ok")
"""


def test_early_server_is_stopped_unused_when_an_api_is_configured(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_HOME=str(tmp_path / "prefect-home"))
    out = subprocess.run([sys.executable, "-c", EARLY_THEN_PROFILE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_no_early_server_once_prefect_is_imported(prefect_api):
    from flows.server import ephemeral_api

    assert "prefect" in sys.modules  # a settings context (this session's harness) may exist: only Prefect can tell
    ephemeral_api.start_server_early()
    assert ephemeral_api._early is None


def test_server_that_never_answers_is_stopped_on_timeout():
    from flows.server.ephemeral_api import free_local_port, wait_until_healthy

    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(RuntimeError, match="did not answer"):
        wait_until_healthy(silent, free_local_port(), timeout=0.5)
    assert silent.poll() is not None


@pytest.mark.timeout(300)
def test_sigkilled_cli_leaves_no_prefect_api_behind(tmp_path):
    """`kill -9` of `yuliao run` mid-run: its temporary API server exits by itself within seconds."""
    import signal
    import time

    import psutil

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", a=SAMPLE / "tang_poems.jsonl", b=SAMPLE / "song_ci.jsonl")
                      .replace("runner: process", "runner: thread")
                      + "  - op: score_text_stats\n  - op: score_repetition\n  - op: identify_language\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(YULIAO_PREFECT_API="per-command", PYTHONPATH=str(ROOT), YULIAO_HOME=str(tmp_path / "yuliao-home"), PREFECT_HOME=str(tmp_path / "prefect-home"))
    cli = subprocess.Popen([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", "r"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = tmp_path / "ws" / "runs" / "r"
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "_flow_run.json").exists():  # the flow is running, so its API server is up
            assert cli.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        servers = [p for p in psutil.Process(cli.pid).children(recursive=True)  # whatever serves HTTP for it
                   if any(c.status == psutil.CONN_LISTEN for c in p.net_connections(kind="tcp"))]
        assert len(servers) == 1, [p.cmdline() for p in psutil.Process(cli.pid).children(recursive=True)]
        os.kill(cli.pid, signal.SIGKILL)  # the CLI alone, as the OOM killer would: not its process group
        cli.wait()
        assert not (run_dir / "run.json").exists(), "the run finished before the kill: the test proves nothing"
        gone, alive = psutil.wait_procs(servers, timeout=15)
        assert alive == [], f"Prefect API server still running after its CLI was killed: {alive}"
    finally:
        try:
            os.killpg(cli.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

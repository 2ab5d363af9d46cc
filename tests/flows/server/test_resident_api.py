"""Commands that answer at once: file-only commands never touch Prefect; flows share one resident API.

The resident server tests start real servers (flows.server.server_process) in a private YULIAO_HOME with a
short idle timeout; the file-only tests point PREFECT_API_URL at a closed port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.flows._release_helpers import curated_runs, fresh_workspace, ids_by_line

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"

# Runs one `yuliao` command in-process and then says whether Prefect was imported on the way.
FILE_ONLY_DRIVER = """\
import sys
from flows.cli.main import app
try:
    app(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print("PREFECT_IMPORTED=" + str("prefect" in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def _cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "YULIAO_TEST_KILL_AT")}
    env.update(PYTHONPATH=str(ROOT), YULIAO_HOME=str(home), PREFECT_HOME=str(home / "prefect"), **extra)
    return env


@pytest.fixture(scope="module")
def published(tmp_path_factory, prefect_api):
    """A workspace with two completed runs published as demo-like releases v1 and v2."""
    from flows.release import release_flow

    runs = curated_runs(tmp_path_factory)
    ws = fresh_workspace(tmp_path_factory.mktemp("file-only"), runs, "v1", "v2")
    for rid in ("run-v1", "run-v2"):
        release_flow(run=str(ws / "runs" / rid), workspace=str(ws), refresh_catalog=False)
    name = json.loads((ws / "runs" / "run-v1" / "run.json").read_text())["recipe"]["dataset"]
    return {"ws": ws, "dataset": name, "runs": runs}


@pytest.mark.timeout(600)
def test_file_only_commands_work_with_no_prefect_reachable(published, tmp_path):
    ws, ds = published["ws"], published["dataset"]
    record = next(iter(ids_by_line(ws / "runs" / "run-v1").values()))
    recipe = ws / "runs" / "run-v1" / "recipe.yaml"
    commands = {
        "server status": ["server", "status"],
        "releases": ["releases", ds, "-w", str(ws)],
        "show": ["show", f"{ds}@latest", "-w", str(ws)],
        "pull": ["pull", f"{ds}@v1", "--to", str(tmp_path / "pulled"), "-w", str(ws)],
        "verify": ["verify", f"{ds}@v2", "-w", str(ws)],
        "diff": ["diff", f"{ds}@v1", f"{ds}@v2", "-w", str(ws)],
        "lineage": ["lineage", f"{ds}@v1", record, "-w", str(ws)],
        "check": ["check", str(recipe)],
        "inspect": ["inspect", str(SAMPLE / "damaged_export.jsonl")],
        "ops": ["ops"],
        "report": ["report", str(ws / "runs" / "run-v2"), "-o", str(tmp_path / "r.html")],
    }
    home = tmp_path / "home"
    env = _cli_env(home, PREFECT_API_URL=f"http://127.0.0.1:{closed_port()}/api")
    failures = {}
    for name, args in commands.items():
        out = subprocess.run([sys.executable, "-c", FILE_ONLY_DRIVER, *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=180)
        if out.returncode != 0 or "PREFECT_IMPORTED=False" not in out.stderr:
            failures[name] = (out.returncode, out.stderr[-1500:])
    assert failures == {}, failures
    assert not (home / "prefect-api" / "server.json").exists(), "a file-only command started a Prefect server"


def _resident_state(home: Path) -> dict | None:
    try:
        return json.loads((home / "prefect-api" / "server.json").read_text())
    except (OSError, ValueError):
        return None


RECIPE = """\
name: resident-check
workspace: {ws}
inputs:
  - source: tang
    paths: [{a}]
    licence: MIT
ops:
  - op: drop_short_docs
    min_chars: 6
"""


def _run(home: Path, recipe: Path, run_id: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", run_id],
                          cwd=ROOT, env=_cli_env(home, **extra), capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(600)
def test_flows_share_one_resident_api_that_stops_when_idle(tmp_path):
    from flows.server.resident_api import process_alive

    home = tmp_path / "home"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", a=SAMPLE / "tang_poems.jsonl"), encoding="utf-8")
    first = _run(home, recipe, "one", YULIAO_SERVER_IDLE_SECONDS="30")
    assert first.returncode == 0, first.stderr[-3000:]
    state = _resident_state(home)
    assert state and process_alive(state["pid"], state["pid_started"]), "no resident server after the first run"
    second = _run(home, recipe, "two", YULIAO_SERVER_IDLE_SECONDS="30")
    assert second.returncode == 0, second.stderr[-3000:]
    assert _resident_state(home)["pid"] == state["pid"], "the second command started another server"

    # Both runs are in the server's database (the UI shows them), as completed flow runs.
    import sqlite3

    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        states = db.execute("SELECT state_type FROM flow_run").fetchall()
    assert states == [("COMPLETED",), ("COMPLETED",)]

    # Unused, it stops by itself and removes its state file.
    proc = psutil.Process(state["pid"])
    proc.wait(timeout=60)
    assert _resident_state(home) is None


@pytest.mark.timeout(600)
def test_two_commands_starting_together_start_one_server(tmp_path):
    home = tmp_path / "home"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", a=SAMPLE / "song_ci.jsonl"), encoding="utf-8")
    env = _cli_env(home, YULIAO_SERVER_IDLE_SECONDS="5")
    procs = [subprocess.Popen([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", f"p{i}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    errs = [p.communicate(timeout=400)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for e in errs]
    log = (home / "prefect-api" / "server.log").read_text(encoding="utf-8")
    assert log.count("started resident Prefect API") == 1, log
    import sqlite3

    with sqlite3.connect(home / "prefect" / "prefect.db") as db:
        assert db.execute("SELECT count(*) FROM flow_run WHERE state_type = 'COMPLETED'").fetchone() == (2,)
    state = _resident_state(home)
    assert state is not None
    psutil.Process(state["pid"]).wait(timeout=60)


@pytest.mark.timeout(600)
def test_killed_cli_leaves_only_the_resident_server_which_then_stops(tmp_path):
    home = tmp_path / "home"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", a=SAMPLE / "tang_poems.jsonl")
                      + "  - op: score_text_stats\n  - op: identify_language\nrun:\n  runner: process\n  workers: 2\n",
                      encoding="utf-8")
    env = _cli_env(home, YULIAO_SERVER_IDLE_SECONDS="15")
    cli = subprocess.Popen([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", "k"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = tmp_path / "ws" / "runs" / "k"
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "_flow_run.json").exists():
            assert cli.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        state = _resident_state(home)
        assert state is not None
        server = psutil.Process(state["pid"])  # the command's child, but in a session of its own
        tree = [p for p in psutil.Process(cli.pid).children(recursive=True) if p.pid != server.pid]
        assert tree, "the command started no worker or helper: nothing to check"
        os.killpg(cli.pid, signal.SIGKILL)  # the command and everything in its process group
        cli.wait()
        assert server.is_running(), "the resident server died with the command"
        assert os.getpgid(server.pid) != cli.pid
        assert not (run_dir / "run.json").exists(), "the run finished before the kill: the test proves nothing"
        _, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == [], f"processes of the killed command still running: {[p.cmdline() for p in alive]}"
        server.wait(timeout=90)  # idle (and the dead command's lock released): it stops by itself
    finally:
        try:
            os.killpg(cli.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert _resident_state(home) is None


def test_server_down_stops_the_resident_server(tmp_path):
    from flows.server import resident_api

    home = tmp_path / "home"
    env = _cli_env(home)
    starter = "from flows.server.resident_api import resident_api_url; print(resident_api_url())"
    url = subprocess.run([sys.executable, "-c", starter], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert url.returncode == 0, url.stderr[-2000:]
    assert resident_api.healthy(url.stdout.strip())
    state = _resident_state(home)
    down = subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", "server", "down"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and "resident Prefect API" in down.stderr, down.stderr
    assert not resident_api.process_alive(state["pid"], state["pid_started"])
    assert _resident_state(home) is None

"""The resident yuliao worker (YULIAO_WORKER=resident): flow commands run as forks of one warm process.

Real processes only: a private YULIAO_HOME, the real resident Prefect API and the real worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.flows.server.test_resident_api import RECIPE, ROOT, SAMPLE, _cli_env

CLI = [sys.executable, "-c", "from flows.cli.main import main; main()"]


def _worker_state(home: Path) -> dict | None:
    try:
        return json.loads((home / "worker" / "worker.json").read_text())
    except (OSError, ValueError):
        return None


def _wait_ready(home: Path, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _worker_state(home)
        if state and state.get("ready"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"the worker never became ready: {(home / 'worker' / 'worker.log').read_text()[-2000:]}")


def _yuliao(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=ROOT, env=_cli_env(home, YULIAO_WORKER="resident", **extra),
                          capture_output=True, text=True, timeout=400)


def _kept_ids(run_dir: Path) -> list[str]:
    return sorted(i for f in sorted((run_dir / "kept").glob("part-*.parquet")) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())


def _kept_table(run_dir: Path) -> pa.Table:
    """Every kept row and column of a run, in id order."""
    return pa.concat_tables(pq.read_table(f) for f in sorted((run_dir / "kept").glob("part-*.parquet"))).sort_by("id")


@pytest.mark.timeout(900)
def test_second_flow_command_runs_in_the_warm_worker_and_server_down_stops_it(tmp_path):
    home, ws = tmp_path / "home", tmp_path / "ws"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=ws, a=SAMPLE / "tang_poems.jsonl"), encoding="utf-8")
    # The bundled demo recipe (clean, PII, language, every quality scorer, exact and near dedup) on real poems.
    demo = ["run", str(ROOT / "configs" / "recipes" / "demo.yaml"), "-i", str(SAMPLE / "tang_poems.jsonl"), "-w", str(ws)]
    first = _yuliao(home, *demo, "--run-id", "one")
    assert first.returncode == 0, first.stderr[-3000:]
    state = _wait_ready(home)  # the first command ran in-process and started the worker for the next ones
    assert "command pid" not in (home / "worker" / "worker.log").read_text()

    second = _yuliao(home, *demo, "--run-id", "two")
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"kept: {ws / 'runs' / 'two' / 'kept'}" in second.stdout  # the command's stdout reached the client
    owner = json.loads((ws / "runs" / "two" / "_flow_run.json").read_text())
    log = (home / "worker" / "worker.log").read_text()
    assert f"command pid {owner['pid']}" in log, "the flow did not run in a fork of the worker"
    # The worker warmed its operators on other text before forking: the fork's output is the in-process run's, every column.
    assert _kept_table(ws / "runs" / "two").equals(_kept_table(ws / "runs" / "one"))
    assert _kept_ids(ws / "runs" / "two")
    assert "operators of demo.yaml" in log  # the warm-up ran (and started no thread: the worker would refuse to fork)
    import sqlite3

    with sqlite3.connect(home / "prefect" / "prefect.db") as db:  # both runs are in the Prefect UI's database
        assert db.execute("SELECT count(*) FROM flow_run WHERE state_type = 'COMPLETED'").fetchone() == (2,)

    check = _yuliao(home, "check", str(recipe))  # file-only commands never go through the worker
    assert check.returncode == 0 and (home / "worker" / "worker.log").read_text() == log

    bad = _yuliao(home, "run", str(tmp_path / "missing.yaml"))  # exit statuses come back unchanged
    assert bad.returncode == 2, bad.stderr[-2000:]

    down = _yuliao(home, "server", "down")
    assert down.returncode == 0 and "resident yuliao worker" in down.stderr, down.stderr
    assert not psutil.pid_exists(state["pid"]) or psutil.Process(state["pid"]).status() == psutil.STATUS_ZOMBIE
    assert _worker_state(home) is None


@pytest.mark.timeout(900)
def test_killed_client_leaves_no_command_behind(tmp_path):
    home, ws = tmp_path / "home", tmp_path / "ws"
    warm = tmp_path / "warm.yaml"
    warm.write_text(RECIPE.format(ws=ws, a=SAMPLE / "song_ci.jsonl"), encoding="utf-8")
    assert _yuliao(home, "run", str(warm), "--run-id", "warm").returncode == 0
    worker = _wait_ready(home)

    # A kill checkpoint inside the forked command kills its group; the client dies of the same signal.
    died = _yuliao(home, "run", str(warm), "--run-id", "cp", YULIAO_TEST_KILL_AT="run:started")
    assert died.returncode == -signal.SIGKILL, (died.returncode, died.stderr[-2000:])

    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=ws, a=SAMPLE / "tang_poems.jsonl")
                      + "  - op: score_text_stats\n  - op: identify_language\nrun:\n  runner: process\n  workers: 2\n",
                      encoding="utf-8")
    log_before = (home / "worker" / "worker.log").read_text()
    cli = subprocess.Popen([*CLI, "run", str(recipe), "--run-id", "k"], cwd=ROOT,
                           env=_cli_env(home, YULIAO_WORKER="resident"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    run_dir = ws / "runs" / "k"
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "_flow_run.json").exists():
            assert cli.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        command_pid = json.loads((run_dir / "_flow_run.json").read_text())["pid"]
        assert f"command pid {command_pid}" in (home / "worker" / "worker.log").read_text()[len(log_before):]
        group = [p for p in psutil.process_iter() if _pgid(p.pid) == command_pid]
        assert group, "the forked command is not running"
        os.killpg(cli.pid, signal.SIGKILL)  # the client only: the command runs in the worker's session
        cli.wait()
        assert not (run_dir / "run.json").exists(), "the run finished before the kill: the test proves nothing"
        _, alive = psutil.wait_procs(group, timeout=20)
        assert alive == [], f"processes of the killed command still running: {[p.cmdline() for p in alive]}"
        assert psutil.Process(worker["pid"]).is_running(), "the worker died with the command"
    finally:
        try:
            os.killpg(cli.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _yuliao(home, "server", "down")


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_worker_is_on_at_a_terminal_and_for_resident_only_otherwise():
    from flows.cli.worker import worker_mode

    assert worker_mode("", interactive=True) is True  # a person at a terminal
    assert worker_mode("", interactive=False) is False  # scripts, schedules, CI
    assert worker_mode("resident", interactive=False) is True
    assert worker_mode(" Resident ", interactive=False) is True
    for setting in ("off", "in-process", "0", "no"):
        assert worker_mode(setting, interactive=True) is False


@pytest.mark.timeout(600)
def test_a_command_at_a_terminal_starts_the_worker_without_being_asked(tmp_path):
    import pty

    home, ws = tmp_path / "home", tmp_path / "ws"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.format(ws=ws, a=SAMPLE / "tang_poems.jsonl"), encoding="utf-8")
    env = _cli_env(home)
    env.pop("YULIAO_WORKER", None)  # what a user's shell has
    primary, secondary = pty.openpty()  # stdin and stderr on a terminal, as in an operator's shell
    import threading

    def drain() -> None:  # a terminal nobody reads fills up and blocks the command's writes
        try:
            while os.read(primary, 4096):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    try:
        run = subprocess.run([*CLI, "run", str(recipe), "--run-id", "tty"], cwd=ROOT, env=env, stdin=secondary,
                             stdout=subprocess.PIPE, stderr=secondary, timeout=400)
        assert run.returncode == 0
        state = _wait_ready(home)  # the first command ran in-process and started the worker for the next ones
        assert psutil.pid_exists(state["pid"])
    finally:
        os.close(primary)
        os.close(secondary)
        _yuliao(home, "server", "down")
    assert _worker_state(home) is None


@pytest.mark.timeout(300)
def test_a_worker_that_refuses_to_serve_is_not_started_again_by_every_command(tmp_path):
    from flows.cli.worker import RETRY_AFTER_REFUSAL_SECONDS, read_state, recently_refused, spawn_worker
    from flows.server.resident_api import stop_recorded_process

    home = tmp_path / "home"
    directory = home / "worker"
    directory.mkdir(parents=True)
    # A worker whose warm-up fails (as when an import starts a thread: forking would be unsafe).
    refuse = ("from pathlib import Path\nimport flows.cli.worker as w\n"
              "def refuse():\n    raise RuntimeError('the worker started threads while warming up')\n"
              f"w.preload = refuse\nw.serve(Path({str(directory)!r}), 5)\n")
    out = subprocess.run([sys.executable, "-c", refuse], cwd=ROOT, env=_cli_env(home), check=True, timeout=240,
                         capture_output=True, text=True)
    state = read_state(directory)
    assert state["refused"] == "RuntimeError: the worker started threads while warming up" and not state["ready"]
    assert "not serving" in out.stdout  # worker.log, when a command starts it

    spawn_worker(directory)  # what the next command does: it must not start another worker that would refuse too
    try:
        assert read_state(directory) == state
    finally:
        if read_state(directory) != state:  # a worker was started after all: stop it
            stop_recorded_process(directory, 10.0, state_file="worker.json", leftovers=("worker.sock",))
    assert recently_refused(state)
    assert not recently_refused(state, now=state["refused_at"] + RETRY_AFTER_REFUSAL_SECONDS + 1)  # tried again later
    assert not recently_refused({**state, "code": "other"})  # or as soon as the code changes

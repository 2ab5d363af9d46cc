"""The process runner's workers: forks of a warm fork server, gone when the run is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_RECIPE = ROOT / "configs" / "recipes" / "demo.yaml"


CHECK_POOL_PROCESS = """
import json, os, sys

from flows.process_pool import start_warm_fork_server


def report_state(queue):
    from transforms import langid

    queue.put({"curate": "flows.curate" in sys.modules, "ppid": os.getppid(), "server_env": os.environ.get("YULIAO_POOL_SERVER"),
               "yue_model_built": langid.yue_model.is_built()})


if __name__ == "__main__":
    context = start_warm_fork_server(sys.argv[1])
    queue = context.Queue()
    process = context.Process(target=report_state, args=(queue,))
    process.start()
    state = queue.get(timeout=300)
    process.join(60)
    print(json.dumps({**state, "parent": os.getpid()}))
"""


@pytest.mark.timeout(420)
def test_pool_processes_are_forks_of_a_server_that_imported_and_warmed_the_task_code(tmp_path):
    # In a fresh interpreter: the fork server is one per process, and this session's may be warm for another recipe.
    script = tmp_path / "check_pool.py"
    script.write_text(CHECK_POOL_PROCESS, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(DEMO_RECIPE)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=400)
    assert done.returncode == 0, done.stderr
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["curate"], "the fork server did not import the task code"
    assert state["ppid"] != state["parent"], "the process was started by its parent, not by the fork server"
    assert state["server_env"] is None, "the fork server's marker leaked into its children"
    assert state["yue_model_built"], "the demo recipe's language tables were not built in the fork server"


@pytest.mark.timeout(420)
def test_sigkilled_cli_leaves_no_fork_server_or_worker_behind(tmp_path, corpora):
    """`kill -9` of `yuliao run` alone (as the OOM killer would) mid-run: its fork server and workers exit by themselves."""
    import psutil

    lines = corpora.joinpath("lingua-sentences", "en.txt").read_text(encoding="utf-8").splitlines()
    for part in range(4):  # one shard a file; long enough that the run is still going when the workers are seen
        with open(tmp_path / f"part-{part}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(15_000):
                fh.write(json.dumps({"id": f"{part}-{i}", "text": " ".join(lines[(i + k) % len(lines)] for k in range(6))}) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"name: kill-pool\nworkspace: {tmp_path / 'ws'}\ninputs:\n  - source: s\n    paths: ['{tmp_path}/part-*.jsonl']\n"
                      "    licence: MIT\nrun:\n  runner: process\n  workers: 2\n  batch_rows: 2000\n"
                      "ops:\n  - op: identify_language\n  - op: score_text_stats\n  - op: score_repetition\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(YULIAO_PREFECT_API="per-command", YULIAO_WORKER="off", PYTHONPATH=str(ROOT),
               YULIAO_HOME=str(tmp_path / "yuliao-home"), PREFECT_HOME=str(tmp_path / "prefect-home"))
    cli = subprocess.Popen([sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe), "--run-id", "r"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        pool: list[psutil.Process] = []
        while len([p for p in pool if p.is_running()]) < 3:  # the fork server and two workers forked from it
            assert cli.poll() is None and time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
            pool = [p for p in psutil.Process(cli.pid).children(recursive=True)
                    if "multiprocessing.forkserver" in " ".join(p.cmdline())]
        os.kill(cli.pid, signal.SIGKILL)
        cli.wait()
        assert not (tmp_path / "ws" / "runs" / "r" / "run.json").exists(), "the run finished before the kill: the test proves nothing"
        gone, alive = psutil.wait_procs(pool, timeout=60)
        assert alive == [], f"pool processes still running after their CLI was killed: {[p.cmdline() for p in alive]}"
    finally:
        try:
            os.killpg(cli.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

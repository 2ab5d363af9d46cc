"""Kill matrix: SIGKILL `yuliao run` at every checkpoint, `yuliao resume`, compare every output column.

Usage: .venv/bin/python scripts/kill_matrix.py [--lines 40] [--only CHECKPOINT ...] [--worker] [--out bench/results/kill_matrix.md]

With --worker, every command runs with YULIAO_WORKER=resident: the reference run in-process starts the
resident worker, and the killed runs and resumes are forks of it (a cell whose resume did not run in a
fork of the worker says so in its state column and fails).

One local Prefect API (flows.server.server_process, SQLite in a temporary PREFECT_HOME) serves every
command; after each resume the killed attempt's flow run must be CRASHED in it. The reference is an
uninterrupted `yuliao run` of the same recipe and inputs. See tests/flows/_kill_matrix.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.flows._kill_matrix import (  # noqa: E402
    N_STAGES,
    RUN_SPECIFIC_COLUMNS,
    RUN_SPECIFIC_RECORD_FIELDS,
    cli_env,
    kill_and_resume,
    make_inputs,
    matrix_recipe,
    run_cli,
    table_digests,
)


def start_api(home: Path):
    """Start one local Prefect API for the whole matrix; return (process, api url)."""
    from flows.server.ephemeral_api import free_local_port, server_environment, spawn_server, wait_until_healthy

    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ.pop("PREFECT_API_URL", None)
    port = free_local_port()
    proc, port = wait_until_healthy(spawn_server(port, server_environment()), port, timeout=180)
    return proc, f"http://127.0.0.1:{port}/api"


def flow_run_state(api_url: str, flow_run_id: str) -> str:
    """Return the state type name of a flow run on `api_url`."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.type.value


def summarise(results: list, n_cells: int, load0: tuple, wall: float) -> str:
    """One line: how many cells were equal and CRASHED, of how many, in what time and load."""
    return (f"{sum(r.equal for r, _ in results)}/{len(results)} cells equal in every column"
            f"{'' if len(results) == n_cells else f' ({n_cells - len(results)} of {n_cells} not run yet)'}, "
            f"{sum(s == 'CRASHED' for _, s in results)}/{len(results)} killed flow runs CRASHED; "
            f"{wall:.0f} s wall, 1-min load {load0[0]:.2f} at start, {os.getloadavg()[0]:.2f} now")


def write_markdown(args: argparse.Namespace, results: list, n_cells: int, load0: tuple, wall: float) -> None:
    """Write the matrix so far as a markdown table to args.out."""
    lines = ["| checkpoint | killed | resumed | equal in every column | killed flow run | s |", "|---|---|---|---|---|---|"]
    for r, s in results:
        eq = "yes" if r.equal else ("no: " + ", ".join(r.differences) if r.differences else "no")
        lines.append(f"| `{r.checkpoint}` | {r.killed} | {r.resumed_ok} | {eq} | {s} | {r.seconds} |")
    args.out.write_text(
        f"# Kill matrix\n\n`python scripts/kill_matrix.py --lines {args.lines} --batch-rows {args.batch_rows}"
        f" --resume-runner {args.resume_runner}{' --worker' if args.worker else ''}` ({time.strftime('%Y-%m-%d %H:%M')}, 2 cores shared with other work)\n\n"
        f"{summarise(results, n_cells, load0, wall)}.\n\nInputs: the first {args.lines} lines of every file in data/sample/; "
        f"the demo recipe's ops; killed runs on the process runner (2 workers, batch_rows {args.batch_rows}), resumed "
        f"with `yuliao resume` on the {args.resume_runner} runner.\nCompared: kept/dropped/quarantine sorted by id "
        f"(quarantine by source_uri, error), every column by digest, plus part-file names and the schema; "
        f"excluded columns: {sorted(RUN_SPECIFIC_COLUMNS) or 'none'}; run.json compared without "
        f"{', '.join(RUN_SPECIFIC_RECORD_FIELDS)} and per-op seconds.\n\n" + "\n".join(lines) + "\n",
        encoding="utf-8")


def wait_for_worker(home: Path, timeout: float = 300) -> None:
    """Wait until the resident worker the reference run started is ready to fork commands."""
    from flows.cli.worker import read_state

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (read_state(home / "worker") or {}).get("ready"):
            return
        time.sleep(0.5)
    raise SystemExit(f"the resident worker never became ready; see {home / 'worker' / 'worker.log'}")


def forked_by_worker(home: Path, run_dir: Path) -> bool:
    """True when the (last) flow process of `run_dir` was a command the resident worker forked."""
    try:
        pid = json.loads((run_dir / "_flow_run.json").read_text(encoding="utf-8"))["pid"]
        return f"command pid {pid}" in (home / "worker" / "worker.log").read_text(encoding="utf-8")
    except (OSError, ValueError, KeyError):
        return False


def main() -> None:
    from flows.resume import kill_checkpoints
    from flows.server.ephemeral_api import stop_server

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=40, help="lines taken from every sample file")
    ap.add_argument("--batch-rows", type=int, default=16)
    ap.add_argument("--only", nargs="*", help="checkpoints to run (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="write a markdown table here (after every cell)")
    ap.add_argument("--resume-runner", default="process", choices=["process", "thread"])
    ap.add_argument("--worker", action="store_true", help="run every command through the resident yuliao worker")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="yuliao-kill-matrix-"))
    proc, api = start_api(tmp / "prefect-home")
    env = cli_env({"PREFECT_API_URL": api, "YULIAO_HOME": str(tmp / "yuliao-home"), "PREFECT_HOME": str(tmp / "prefect-home"),
                   **({"YULIAO_WORKER": "resident"} if args.worker else {})})
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    results: list = []
    cells: list[str] = []
    try:
        inputs = make_inputs(tmp / "inputs", args.lines)
        recipe = matrix_recipe(tmp, inputs, args.batch_rows)
        ws = tmp / "ws"
        ref = run_cli(["run", str(recipe), "-w", str(ws), "--run-id", "reference"], env, timeout=600)
        if ref.returncode != 0:
            raise SystemExit(f"reference run failed ({ref.returncode}):\n{ref.stderr[-3000:]}")
        reference = ws / "runs" / "reference"
        rows = {k: v["_rows"] for k, v in table_digests(reference).items()}
        print(f"reference: {rows}, {len(table_digests(reference)['kept']) - 3} kept columns", flush=True)
        if args.worker:
            wait_for_worker(tmp / "yuliao-home")
        results = []
        cells = args.only or kill_checkpoints(N_STAGES)
        for cp in cells:
            r = kill_and_resume(cp, recipe, ws, reference, env, resume_runner=args.resume_runner)
            state = flow_run_state(api, r.killed_flow_run) if r.killed_flow_run else "no flow run recorded"
            if args.worker and not forked_by_worker(tmp / "yuliao-home", ws / "runs" / ("k-" + cp.replace(":", "-"))):
                state += " (not run in the worker)"
            results.append((r, state))
            print(json.dumps({"checkpoint": cp, "killed": r.killed, "resumed": r.resumed_ok, "equal": r.equal,
                              "differences": r.differences, "killed_flow_run_state": state, "seconds": r.seconds}),
                  flush=True)
            if r.detail:
                print(r.detail, file=sys.stderr)
            if args.out:
                write_markdown(args, results, len(cells), load0, time.perf_counter() - t0)
    finally:
        if args.worker:
            run_cli(["server", "down"], env, timeout=120)  # the worker of this matrix's home
        stop_server(proc)
    ok = all(r.equal and s == "CRASHED" for r, s in results)
    print(summarise(results, len(cells), load0, time.perf_counter() - t0))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()

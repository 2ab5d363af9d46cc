"""Start-up cost of `yuliao run`: two checkouts side by side, interleaved, no PREFECT_API_URL (ephemeral server).

Usage: .venv/bin/python bench/e2e/startup.py RECIPE ROUNDS --tree base=/path/to/old/checkout --tree new=/path/to/new
       (make a checkout of an older commit with `git worktree add --detach /tmp/yuliao-base <commit>`)

Each round runs every tree once (order alternates per round) from that tree's directory with
PYTHONPATH set to it, and prints wall seconds, CPU seconds of the whole process tree (flow, workers,
Prefect server), the flow's own seconds from run.json, the 1-minute load average before the run
and a hash of the kept/dropped (id, text) rows, then medians and the new/base ratios.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq


def rows_digest(run_dir: Path) -> str:
    """Return a short sha256 over the (id, text) rows of kept/ then dropped/, in part order."""
    h = hashlib.sha256()
    for sub in ("kept", "dropped"):
        for f in sorted((run_dir / sub).glob("part-*.parquet")):
            t = pq.read_table(f, columns=["id", "text"])
            for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist()):
                h.update(f"{sub}\x00{i}\x00{x}\x01".encode())
    return h.hexdigest()[:16]


def run_once(tree: Path, recipe: str, workspace: Path, home: Path) -> dict:
    """Run `yuliao run` from `tree` once; return wall/CPU/flow seconds, load and the output digest."""
    shutil.rmtree(workspace, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(tree), YULIAO_HOME=str(home), PREFECT_HOME=str(home / "prefect"))
    env.pop("PREFECT_API_URL", None)
    load = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", "run", recipe, "-w", str(workspace),
                        "--run-id", "x"], cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{tree}: exit {p.returncode}\n{p.stderr[-3000:]}")
    run_dir = workspace / "runs" / "x"
    rec = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"wall": round(wall, 2), "cpu": round(cpu, 2), "flow_s": rec["seconds"], "load": round(load, 2),
            "rows": rows_digest(run_dir)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipe", help="recipe path (relative paths resolve inside each tree)")
    ap.add_argument("rounds", type=int)
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a checkout (give two)")
    ap.add_argument("--out", default="/tmp/yuliao-startup-bench", help="workspaces and YULIAO_HOME")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    out = Path(args.out)
    results: dict[str, list[dict]] = {name: [] for name in trees}
    for i in range(args.rounds):
        order = list(trees.items()) if i % 2 == 0 else list(reversed(trees.items()))
        for name, tree in order:
            r = run_once(Path(tree), args.recipe, out / f"ws-{name}", out / "home")
            results[name].append(r)
            print(json.dumps({"tree": name, **r}), flush=True)
    med = {name: {k: sorted(r[k] for r in rs)[len(rs) // 2] for k in ("wall", "cpu", "flow_s")} for name, rs in results.items()}
    for name, m in med.items():
        print(f"{name}: median wall {m['wall']} s, CPU {m['cpu']} s, flow {m['flow_s']} s; "
              f"outputs {sorted({r['rows'] for r in results[name]})}")
    names = list(trees)
    if len(names) == 2:
        a, b = med[names[0]], med[names[1]]
        print(f"{names[1]} / {names[0]}: wall {b['wall'] / a['wall']:.2f}, CPU {b['cpu'] / a['cpu']:.2f}")


if __name__ == "__main__":
    main()

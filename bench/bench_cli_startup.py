"""Whole-command cost of `yuliao`, cold and warm, two checkouts side by side (issue 20).

Usage: .venv/bin/python bench/bench_cli_startup.py --tree base=/tmp/yuliao-base --tree new=. [--rounds 2]
           [--out bench/results/cli_startup.md]
       (make the base checkout with `git worktree add --detach /tmp/yuliao-base <commit>`)

For each tree, with its own fresh YULIAO_HOME and no PREFECT_API_URL (what a user gets by default):
1. `server down` (new tree) so no resident Prefect API is up, then the **cold** first command:
   `yuliao run` of the demo recipe on a 1,000-document file;
2. **warm**: the same run again (`--rounds` times), the demo recipe on the whole bundled sample
   (6,172 lines), a 1-document run (its CPU is the command's fixed cost), `yuliao release` of the
   sample run;
3. file-only commands: check, ops, releases, show, verify, lineage.
Wall is the command's; CPU is the whole process tree: the command and every child it waited for
(workers, a per-command API) from RUSAGE_CHILDREN, plus the CPU the resident API server (a
detached process) used during the command, read from /proc through psutil. The 1-minute load
average is printed before every command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def build_inputs(out: Path) -> tuple[Path, Path]:
    """Write a 1,000-document JSONL (every 6th sample line, all languages) and a 1-document one; return both."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [line for f in sorted(SAMPLE.glob("*.jsonl")) if f.name != "damaged_export.jsonl"
             for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    docs = lines[::6][:1000]
    assert len(docs) == 1000, len(docs)
    thousand, one = out / "docs-1000.jsonl", out / "docs-1.jsonl"
    thousand.write_text("\n".join(docs) + "\n", encoding="utf-8")
    one.write_text(docs[0] + "\n", encoding="utf-8")
    return thousand, one


def resident_cpu(home: Path) -> float:
    """Return the CPU seconds used so far by the resident Prefect API of `home` (0 when none is up)."""
    try:
        pid = json.loads((home / "prefect-api" / "server.json").read_text())["pid"]
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except (OSError, ValueError, KeyError, psutil.Error):
        return 0.0


def measure(tree: Path, home: Path, args: list[str]) -> dict:
    """Run `yuliao ARGS` from `tree`; return wall, process-tree CPU, load before and the exit status."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PYTHONPATH=str(tree), YULIAO_HOME=str(home), PREFECT_HOME=str(home / "prefect"))
    load = os.getloadavg()[0]
    server0 = resident_cpu(home)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", *args], cwd=tree, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = max(0.0, resident_cpu(home) - server0)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) + server
    if p.returncode != 0:
        print(f"  ! {' '.join(args[:2])}: exit {p.returncode}: {p.stderr[-800:]}", file=sys.stderr)
    return {"wall": round(wall, 2), "cpu": round(cpu, 2), "server_cpu": round(server, 2), "load": round(load, 2),
            "rc": p.returncode}


def steps(tree: Path, ws: Path, thousand: Path, one: Path, rounds: int) -> list[tuple[str, list[str]]]:
    """Return the measured commands of one checkout, in order: (label, arguments)."""
    demo = str(tree / "configs" / "recipes" / "demo.yaml")
    out = [("cold: run 1,000 docs (first command)", ["run", demo, "-i", str(thousand), "-w", str(ws), "--run-id", "cold"])]
    out += [("warm: run 1,000 docs", ["run", demo, "-i", str(thousand), "-w", str(ws), "--run-id", f"warm{i}"])
            for i in range(rounds)]
    out += [("warm: run 1 doc (fixed cost)", ["run", demo, "-i", str(one), "-w", str(ws), "--run-id", "one"]),
            ("warm: run bundled sample (6,172 lines)", ["run", demo, "-w", str(ws), "--run-id", "sample"]),
            ("warm: release the sample run", ["release", "sample", "-w", str(ws), "--no-catalog"])]
    out += [(f"file-only: {label}", a) for label, a in [
        ("check", ["check", demo]), ("ops", ["ops"]), ("releases", ["releases", "demo", "-w", str(ws)]),
        ("show", ["show", "demo@latest", "-w", str(ws)]), ("verify", ["verify", "demo@latest", "-w", str(ws)])]]
    return out


def bench_trees(trees: dict[str, Path], work: Path, thousand: Path, one: Path, rounds: int) -> list[dict]:
    """Run every step on every checkout, interleaved (the order alternates per step); return one row per command."""
    plans = {}
    for name, tree in trees.items():
        home, ws = work / f"home-{name}", work / f"ws-{name}"
        measure(tree, home, ["server", "down"])  # no resident API left from an earlier bench
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(ws, ignore_errors=True)
        plans[name] = (tree, home, steps(tree, ws, thousand, one, rounds))
    rows = []
    names = list(trees)
    for i in range(len(plans[names[0]][2])):
        for name in (names if i % 2 == 0 else names[::-1]):
            tree, home, plan = plans[name]
            label, args = plan[i]
            rows.append({"tree": name, "command": label, **measure(tree, home, args)})
            print(json.dumps(rows[-1]), flush=True)
    for name, (tree, home, _) in plans.items():
        measure(tree, home, ["server", "down"])  # leave nothing running
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a checkout")
    ap.add_argument("--rounds", type=int, default=2, help="warm 1,000-document runs per tree")
    ap.add_argument("--work", type=Path, default=Path("/tmp/yuliao-cli-startup"))
    ap.add_argument("--out", type=Path, default=None, help="markdown table to write")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    thousand, one = build_inputs(args.work / "inputs")
    started = time.strftime("%Y-%m-%d %H:%M")
    rows = bench_trees({k: Path(v).resolve() for k, v in trees.items()}, args.work, thousand, one, args.rounds)
    if args.out:
        lines = ["| tree | command | wall s | CPU s (tree) | of which resident API | load before | exit |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['tree']} | {r['command']} | {r['wall']} | {r['cpu']} | {r['server_cpu']} | {r['load']} | {r['rc']} |"
                  for r in rows]
        args.out.write_text(f"# Whole-command cost, cold and warm ({started})\n\n`python bench/bench_cli_startup.py "
                            + " ".join(f"--tree {k}=…" for k in trees) + f" --rounds {args.rounds}`\n\n"
                            + "\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Whole-command cost of `yuliao`, cold and warm, two checkouts side by side (issue 20).

Usage: .venv/bin/python bench/bench_cli_startup.py --tree base=/tmp/yuliao-base --tree new=. [--rounds 2]
           [--pyc NAME]... [--no-sample] [--datatrove bench/.venv-datatrove/bin/python] [--out table.md]
       (make the base checkout with `git worktree add --detach /tmp/yuliao-base <commit>`)

Bytecode: with PYTHONDONTWRITEBYTECODE set and a venv installed without compiled bytecode (uv's
default), every command compiles every module it imports from source (~8 CPU-s of a `run`). The
table says, per row, whether the command ran with a bytecode cache: `--pyc NAME` runs tree NAME with
PYTHONPYCACHEPREFIX=<work>/pyc-NAME and bytecode writing on (filled by a warm-up `ops` and `run`
before the cold step, so it stands for an install made with `uv pip install --compile-bytecode`).

For each tree, with its own fresh YULIAO_HOME and no PREFECT_API_URL (what a user gets by default):
1. `server down` (new tree) so no resident Prefect API is up, then the **cold** first command:
   `yuliao run` of the demo recipe on a 1,000-document file;
2. **warm**: the same run again (`--rounds` times), the demo recipe on the whole bundled sample
   (6,172 lines), a 1-document run (its CPU is the command's fixed cost), `yuliao release` of the
   sample run;
3. file-only commands: check, ops, releases, show, verify;
4. `server down`, then the **first command of a session** (existing home, no server up): run 1,000 docs.
With `--datatrove PYTHON`, datatrove's local executor (bench/e2e/run_datatrove.py: LID, Gopher,
MinHash, Parquet) runs the same 1,000 documents in that interpreter (CPU of its whole session, through
bench/e2e/measure.py: its forkserver workers escape RUSAGE_CHILDREN), and the ratio of yuliao's median
warm 1,000-document wall and CPU to datatrove's is printed.
Wall is the command's; CPU is the whole process tree: the command and every child it waited for
(workers, a per-command API) from RUSAGE_CHILDREN, plus the CPU the resident API server (a
detached process) used during the command, plus, with `--worker NAME` (YULIAO_WORKER=resident), the
CPU of the resident yuliao worker and of the command it forked (its reaped children), all read from
/proc through psutil. The 1-minute load
average is printed before every command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
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


def worker_cpu(home: Path) -> float:
    """Return the CPU seconds used so far by the resident yuliao worker of `home` and the commands it forked and reaped."""
    try:
        pid = json.loads((home / "worker" / "worker.json").read_text())["pid"]
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + t.children_user + t.children_system
    except (OSError, ValueError, KeyError, psutil.Error):
        return 0.0


def command_env(tree: Path, home: Path, pyc: Path | None) -> dict[str, str]:
    """Return the environment of a measured command: no PREFECT_API_URL, the tree first on the path, its home."""
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PYTHONPYCACHEPREFIX")}
    env.update(PYTHONPATH=str(tree), YULIAO_HOME=str(home), PREFECT_HOME=str(home / "prefect"))
    if pyc is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pyc)
    return env


def bytecode_cached(env: dict[str, str]) -> bool:
    """True when commands run with this environment keep compiled bytecode between runs."""
    return bool(env.get("PYTHONPYCACHEPREFIX")) or not env.get("PYTHONDONTWRITEBYTECODE")


def measure(tree: Path, home: Path, args: list[str], pyc: Path | None = None, worker: bool = False) -> dict:
    """Run `yuliao ARGS` from `tree`; return wall, process-tree CPU, load before and the exit status."""
    env = command_env(tree, home, pyc)
    if worker:
        env["YULIAO_WORKER"] = "resident"
    load = os.getloadavg()[0]
    server0 = resident_cpu(home)
    worker0 = worker_cpu(home)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", "from flows.cli.main import main; main()", *args], cwd=tree, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = max(0.0, resident_cpu(home) - server0)
    in_worker = max(0.0, worker_cpu(home) - worker0)  # a worker started by this command: its warm-up counts too
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) + server + in_worker
    if p.returncode != 0:
        print(f"  ! {' '.join(args[:2])}: exit {p.returncode}: {p.stderr[-800:]}", file=sys.stderr)
    return {"wall": round(wall, 2), "cpu": round(cpu, 2), "server_cpu": round(server, 2), "worker_cpu": round(in_worker, 2),
            "load": round(load, 2), "rc": p.returncode, "bytecode": bytecode_cached(env)}


def steps(tree: Path, ws: Path, thousand: Path, one: Path, rounds: int, sample: bool = True) -> list[tuple[str, list[str]]]:
    """Return the measured commands of one checkout, in order: (label, arguments); `server down` is not measured."""
    demo = str(tree / "configs" / "recipes" / "demo.yaml")
    out = [("cold: run 1,000 docs (first command)", ["run", demo, "-i", str(thousand), "-w", str(ws), "--run-id", "cold"])]
    out += [("warm: run 1,000 docs", ["run", demo, "-i", str(thousand), "-w", str(ws), "--run-id", f"warm{i}"])
            for i in range(rounds)]
    out += [("warm: run 1 doc (fixed cost)", ["run", demo, "-i", str(one), "-w", str(ws), "--run-id", "one"])]
    if sample:
        out += [("warm: run bundled sample (6,172 lines)", ["run", demo, "-w", str(ws), "--run-id", "sample"])]
    out += [("warm: release a run", ["release", "sample" if sample else "warm0", "-w", str(ws), "--no-catalog"])]
    out += [(f"file-only: {label}", a) for label, a in [
        ("check", ["check", demo]), ("ops", ["ops"]), ("releases", ["releases", "demo", "-w", str(ws)]),
        ("show", ["show", "demo@latest", "-w", str(ws)]), ("verify", ["verify", "demo@latest", "-w", str(ws)])]]
    out += [("server down", ["server", "down"]),
            ("first command of a session (no server up): run 1,000 docs",
             ["run", demo, "-i", str(thousand), "-w", str(ws), "--run-id", "session"])]
    return out


def warm_bytecode(tree: Path, work: Path, pyc: Path, thousand: Path) -> None:
    """Fill a bytecode cache for `tree` by running `ops` and a small run once (in a throw-away home)."""
    home, ws = work / "home-pyc-warmup", work / "ws-pyc-warmup"
    measure(tree, home, ["ops"], pyc)
    measure(tree, home, ["run", str(tree / "configs" / "recipes" / "demo.yaml"), "-i", str(thousand), "-w", str(ws)], pyc)
    measure(tree, home, ["server", "down"], pyc)
    shutil.rmtree(ws, ignore_errors=True)


def bench_trees(trees: dict[str, Path], work: Path, thousand: Path, one: Path, rounds: int, pyc_trees: set[str],
                sample: bool = True, worker_trees: set[str] = frozenset()) -> list[dict]:
    """Run every step on every checkout, interleaved (the order alternates per step); return one row per command."""
    plans = {}
    for name, tree in trees.items():
        home, ws = work / f"home-{name}", work / f"ws-{name}"
        pyc = work / f"pyc-{name}" if name in pyc_trees else None
        measure(tree, home, ["server", "down"], pyc)  # no resident API left from an earlier bench
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(ws, ignore_errors=True)
        if pyc is not None:
            shutil.rmtree(pyc, ignore_errors=True)
            warm_bytecode(tree, work, pyc, thousand)
        measure(tree, home, ["keys", "create", "-w", str(ws)], pyc)  # every release is signed: a publisher key, not timed
        plans[name] = (tree, home, pyc, steps(tree, ws, thousand, one, rounds, sample))
    rows = []
    names = list(trees)
    for i in range(len(plans[names[0]][3])):
        for name in (names if i % 2 == 0 else names[::-1]):
            tree, home, pyc, plan = plans[name]
            label, args = plan[i]
            result = measure(tree, home, args, pyc, worker=name in worker_trees)
            if label == "server down":
                continue
            rows.append({"tree": name, "command": label, **result})
            print(json.dumps(rows[-1]), flush=True)
    for name, (tree, home, pyc, _) in plans.items():
        measure(tree, home, ["server", "down"], pyc)  # leave nothing running
    return rows


def bench_datatrove(python: str, thousand: Path, work: Path) -> dict:
    """Run bench/e2e/run_datatrove.py on the 1,000 documents' texts with `python`; return wall, CPU and load before.

    datatrove gets {"text": …} lines only: its ParquetWriter fails when the sample's metadata keys differ
    between batches (a schema mismatch), and yuliao's demo recipe decides on the text alone too.
    """
    out = work / "datatrove"
    shutil.rmtree(out, ignore_errors=True)
    texts = work / "inputs" / "docs-1000-text.jsonl"
    texts.write_text("".join(json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False) + "\n"
                             for line in thousand.read_text(encoding="utf-8").splitlines() if line.strip()), encoding="utf-8")
    # datatrove's forkserver workers are not children this process waits for (RUSAGE_CHILDREN misses
    # their CPU): bench/e2e/measure.py samples the command's whole session instead.
    record = work / "datatrove-measure.json"
    p = subprocess.run([sys.executable, str(ROOT / "bench" / "e2e" / "measure.py"), str(record), "--", python,
                        str(ROOT / "bench" / "e2e" / "run_datatrove.py"), "--input", str(texts), "--out", str(out)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(f"  ! datatrove: exit {p.returncode}: {p.stderr[-800:]}", file=sys.stderr)
    rec = json.loads(record.read_text(encoding="utf-8"))
    return {"tree": "datatrove", "command": "datatrove local executor: 1,000 docs (CPU of its whole session)",
            "wall": round(rec["wall_s"], 2), "cpu": round(rec["cpu_s"], 2), "server_cpu": 0.0,
            "load": round(rec["load_before"], 2), "rc": p.returncode, "bytecode": True}


def datatrove_ratios(rows: list[dict], dt: dict) -> list[str]:
    """Return one line per tree: its median warm 1,000-document wall and CPU over datatrove's."""
    out = []
    for tree in dict.fromkeys(r["tree"] for r in rows if r["tree"] != "datatrove"):
        warm = [r for r in rows if r["tree"] == tree and r["command"] == "warm: run 1,000 docs" and r["rc"] == 0]
        if warm and dt["rc"] == 0:
            wall = statistics.median(r["wall"] for r in warm)
            cpu = statistics.median(r["cpu"] for r in warm)
            out.append(f"{tree}: warm run of 1,000 docs / datatrove = {wall / dt['wall']:.2f}x wall "
                       f"({wall:.2f} s vs {dt['wall']:.2f} s), {cpu / dt['cpu']:.2f}x CPU ({cpu:.2f} s vs {dt['cpu']:.2f} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", required=True, help="NAME=PATH of a checkout")
    ap.add_argument("--rounds", type=int, default=2, help="warm 1,000-document runs per tree")
    ap.add_argument("--work", type=Path, default=Path("/tmp/yuliao-cli-startup"))
    ap.add_argument("--pyc", action="append", default=[], help="NAME of a tree to run with a bytecode cache")
    ap.add_argument("--worker", action="append", default=[], help="NAME of a tree to run with YULIAO_WORKER=resident")
    ap.add_argument("--no-sample", action="store_true", help="skip the 6,172-line sample run (release the 1,000-doc run)")
    ap.add_argument("--datatrove", default=None, help="python of a datatrove venv (bench/e2e/setup_datatrove.sh)")
    ap.add_argument("--out", type=Path, default=None, help="markdown table to write")
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    thousand, one = build_inputs(args.work / "inputs")
    started = time.strftime("%Y-%m-%d %H:%M")
    rows = bench_trees({k: Path(v).resolve() for k, v in trees.items()}, args.work, thousand, one, args.rounds,
                       set(args.pyc), sample=not args.no_sample, worker_trees=set(args.worker))
    ratios = []
    if args.datatrove:
        rows.append(bench_datatrove(args.datatrove, thousand, args.work))
        print(json.dumps(rows[-1]), flush=True)
        ratios = datatrove_ratios(rows, rows[-1])
        print("\n".join(ratios))
    if args.out:
        lines = ["| tree | command | wall s | CPU s (tree) | of which resident API | of which worker | load before | bytecode cached | exit |",
                 "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['tree']} | {r['command']} | {r['wall']} | {r['cpu']} | {r['server_cpu']} | {r.get('worker_cpu', 0.0)} | "
                  f"{r['load']} | {'yes' if r['bytecode'] else 'no'} | {r['rc']} |" for r in rows]
        args.out.write_text(f"# Whole-command cost, cold and warm ({started})\n\n`python bench/bench_cli_startup.py "
                            + " ".join(f"--tree {k}=…" for k in trees) + "".join(f" --pyc {n}" for n in args.pyc) + "".join(f" --worker {n}" for n in args.worker)
                            + f" --rounds {args.rounds}" + (" --no-sample" if args.no_sample else "")
                            + (f" --datatrove {args.datatrove}" if args.datatrove else "") + "`\n\n" + "\n".join(lines) + "\n\n"
                            + "".join(f"- {r}\n" for r in ratios), encoding="utf-8")


if __name__ == "__main__":
    main()

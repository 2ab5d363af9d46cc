"""Run the e2e recipe through `yuliao run` (2 process workers) on the bench corpus; write stats.json beside the run.

Usage: .venv/bin/python bench/e2e/run_yuliao.py [--input 'bench/out/e2e/corpus/part-*.jsonl'] [--out bench/out/e2e/yuliao]
       [--profile]   (py-spy samples the whole process tree; top entries go to profile-top.txt)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", action="append", default=None, help="JSONL files or globs (repeatable)")
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "e2e" / "yuliao"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runner", choices=["process", "thread"], default="process")
    ap.add_argument("--prefect-api", choices=["per-command", "resident"], default="per-command",
                    help="per-command (default): the run starts and stops its own Prefect API, so the measured process "
                         "tree holds it; resident: reuse the workspace's resident API (its CPU and memory are then outside the tree)")
    ap.add_argument("--recipe", default=str(HERE / "recipe.yaml"), help="any yuliao recipe (inputs are overridden)")
    ap.add_argument("--profile", action="store_true", help="record with py-spy (--subprocesses, 50 Hz)")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    inputs = args.input or [str(REPO / "bench" / "out" / "e2e" / "corpus" / "part-*.jsonl")]
    cmd = [str(BIN / "yuliao"), "run", str(Path(args.recipe).resolve()), "--workspace", str(out / "ws"), "--run-id", "e2e",
           "--runner", args.runner, "--workers", str(args.workers)]
    for i in inputs:
        cmd += ["--input", i]
    if args.profile:
        cmd = [str(BIN / "py-spy"), "record", "--subprocesses", "--rate", "50", "--format", "raw",
               "--output", str(out / "profile.raw.txt"), "--"] + cmd
    env = {**os.environ, "YULIAO_PREFECT_API": args.prefect_api}
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, env=env)
    wall = time.perf_counter() - t0
    run_dir = out / "ws" / "runs" / "e2e"
    record = json.loads((run_dir / "run.json").read_text())
    stats = {"tool": "yuliao", "wall_s": wall, "command": cmd, "run_dir": str(run_dir), "inputs": inputs,
             "kept": [str(p) for p in sorted((run_dir / "kept").glob("*.parquet"))],
             "dropped": [str(p) for p in sorted((run_dir / "dropped").glob("*.parquet"))],
             "recipe": str(Path(args.recipe).resolve()), "prefect_api": args.prefect_api,
             "run_record": {k: record[k] for k in record if k in ("totals", "ops", "stages", "seconds", "drops_by_reason")}}
    (out / "stats.json").write_text(json.dumps(stats, indent=1, ensure_ascii=False, default=str))
    if args.profile:
        (out / "profile-top.txt").write_text(top_frames(out / "profile.raw.txt"))
    print(json.dumps({"wall_s": round(wall, 1), "run_dir": str(run_dir)}))


def top_frames(raw: Path, n: int = 25) -> str:
    """Own time, inclusive time of our frames, and import time by import site, from py-spy's collapsed stacks."""
    import re
    ours = re.compile(r"\((flows|transforms|quality)/")
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    imports: dict[str, int] = {}
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        c = int(count)
        leaf = frames[-1]
        if any(k in leaf for k in ("wait (threading.py", "select (selectors.py", "_recv (", "poll (", "sleep", "acquire")):
            continue  # idle: the parent waiting on its workers, Prefect's event loop
        total += c
        own[leaf] = own.get(leaf, 0) + c
        for f in set(frames):
            if ours.search(f):
                incl[f] = incl.get(f, 0) + c
        if any("importlib._bootstrap" in f for f in frames):
            mods = [f for f in frames if "<module>" in f]
            site = [f for f in frames if ours.search(f)]
            key = (site[-1] if site else "-") + "  <=  " + (mods[1] if len(mods) > 1 else (mods[0] if mods else "-"))
            imports[key] = imports.get(key, 0) + c

    def block(title: str, d: dict[str, int]) -> list[str]:
        rows = sorted(d.items(), key=lambda x: -x[1])[:n]
        return ["", title] + [f"{100 * v / max(1, total):5.1f}%  {k}" for k, v in rows]

    lines = [f"samples (busy, all processes): {total}"]
    lines += block("own time:", own)
    lines += block("inclusive time of yuliao frames (flows/, transforms/, quality/):", incl)
    lines += block("import time (yuliao import site  <=  imported module):", imports)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Run a command and record wall time, CPU seconds and peak RSS summed over its whole process tree (psutil, 5 Hz).

Usage: python bench/e2e/measure.py OUT.json -- CMD ARGS...
Also records the 1-minute load average before and after (the 2 cores are shared with other work).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time

import psutil


def sample_tree(root: psutil.Process, stop: threading.Event, out: dict) -> None:
    """Poll the tree's summed RSS and remember its maximum; accumulate CPU of processes seen before they exit."""
    cpu: dict[int, float] = {}
    while not stop.is_set():
        try:
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        rss = 0
        for p in procs:
            try:
                rss += p.memory_info().rss
                t = p.cpu_times()
                cpu[p.pid] = t.user + t.system
            except psutil.NoSuchProcess:
                pass
        out["peak_rss_mb"] = max(out.get("peak_rss_mb", 0.0), rss / 1e6)
        out["max_procs"] = max(out.get("max_procs", 0), len(procs))
        out["cpu_s_sampled"] = sum(cpu.values())
        stop.wait(0.2)


def main() -> None:
    out_path, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    rec: dict = {"command": cmd, "load_before": os.getloadavg()[0]}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    stop = threading.Event()
    th = threading.Thread(target=sample_tree, args=(psutil.Process(proc.pid), stop, rec), daemon=True)
    th.start()
    rc = proc.wait()
    rec["wall_s"] = time.perf_counter() - t0
    stop.set()
    th.join()
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec["cpu_s"] = r.ru_utime + r.ru_stime
    rec["load_after"] = os.getloadavg()[0]
    rec["returncode"] = rc
    with open(out_path, "w") as fh:
        json.dump(rec, fh, indent=1)
    print(json.dumps({k: v for k, v in rec.items() if k != "command"}))
    sys.exit(rc)


if __name__ == "__main__":
    main()

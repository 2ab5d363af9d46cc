"""Run a command and record wall time, CPU seconds and peak RSS summed over its whole process tree (psutil, 5 Hz).

Usage: python bench/e2e/measure.py OUT.json -- CMD ARGS...

The command runs in its own session (process group). Descendants are found two ways, because
datatrove's forkserver workers and Prefect's server re-parent away from a plain child walk:
`children(recursive=True)` of the root, plus every process whose session id is the command's.
CPU per process is its last sampled user+system time; the CPU of processes that ended between two
samples is bounded below by RUSAGE_CHILDREN (waited-for descendants only), so `cpu_s` is the larger
of the two. When the command exits, anything left in its session is terminated and reaped (and
counted: `leftover_procs`). Also records `uptime` before and after (the 2 cores are shared), and
per process: peak RSS, CPU seconds and a short command line (for the memory/CPU breakdown).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

import psutil


def session_members(sid: int, root: psutil.Process) -> list[psutil.Process]:
    """The root, its descendants, and every other process in session `sid` (re-parented workers)."""
    procs = {root.pid: root}
    try:
        for c in root.children(recursive=True):
            procs[c.pid] = c
    except psutil.NoSuchProcess:
        pass
    for p in psutil.process_iter(["pid"]):
        if p.pid not in procs:
            try:
                if os.getsid(p.pid) == sid:
                    procs[p.pid] = p
            except (ProcessLookupError, PermissionError, psutil.Error):
                pass
    return list(procs.values())


def short_cmd(p: psutil.Process) -> str:
    """A process's command line, shortened to what names its role."""
    try:
        return " ".join(p.cmdline())[:160]
    except psutil.Error:
        return "?"


def sample_tree(root: psutil.Process, sid: int, stop: threading.Event, out: dict, per: dict,
                attached: list[psutil.Process] = ()) -> None:
    """Poll the tree's summed RSS and PSS and remember their maxima; keep each process's last CPU time and peaks.

    RSS counts a page shared by several processes (a fork server's imports, shared libraries) once in
    each; PSS splits it among them, so the summed PSS is the tree's physical memory. Both are kept.
    """
    while not stop.is_set():
        procs = session_members(sid, root) + [p for p in attached if p.is_running()]
        rss = pss = 0
        for p in procs:
            try:
                full = p.memory_full_info()
                t = p.cpu_times()
            except psutil.Error:
                continue
            rss += full.rss
            pss += full.pss
            rec = per.setdefault(p.pid, {"cmd": short_cmd(p), "peak_rss_mb": 0.0, "peak_pss_mb": 0.0, "cpu_s": 0.0})
            rec["peak_rss_mb"] = max(rec["peak_rss_mb"], full.rss / 1e6)
            rec["peak_pss_mb"] = max(rec["peak_pss_mb"], full.pss / 1e6)
            rec["cpu_s"] = t.user + t.system - rec.get("cpu_s_at_start", 0.0)  # own time only: children_* would count reaped children twice
        out["peak_rss_mb"] = max(out.get("peak_rss_mb", 0.0), rss / 1e6)
        out["peak_pss_mb"] = max(out.get("peak_pss_mb", 0.0), pss / 1e6)
        out["max_procs"] = max(out.get("max_procs", 0), len(procs))
        stop.wait(0.2)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def reap_session(sid: int) -> int:
    """Terminate (then kill) whatever is still in the command's session; return how many were left."""
    left = [p for p in psutil.process_iter(["pid"]) if p.pid != os.getpid() and _sid(p.pid) == sid]
    for p in left:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    return len(left)


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def main() -> None:
    """measure.py OUT.json [--attach PID ...] -- command: the command's session, plus running processes it uses.

    An attached process (the resident Prefect API a run reports to) is not in the command's session:
    its memory is added to the tree's at every sample and its CPU counted from the command's start.
    """
    out_path, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    opts = sys.argv[2:sys.argv.index("--")]
    attached = [psutil.Process(int(opts[i + 1])) for i, o in enumerate(opts) if o == "--attach"]
    rec: dict = {"command": cmd, "load_before": os.getloadavg()[0], "uptime_before": uptime(),
                 "attached": [p.pid for p in attached]}
    per: dict[int, dict] = {}
    for p in attached:
        t = p.cpu_times()
        per[p.pid] = {"cmd": "attached: " + short_cmd(p), "peak_rss_mb": 0.0, "peak_pss_mb": 0.0, "cpu_s": 0.0,
                      "cpu_s_at_start": t.user + t.system}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, start_new_session=True)
    sid = proc.pid  # a new session's id is its leader's pid
    stop = threading.Event()
    th = threading.Thread(target=sample_tree, args=(psutil.Process(proc.pid), sid, stop, rec, per, attached), daemon=True)
    th.start()
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        os.killpg(sid, signal.SIGTERM)
        rc = proc.wait()
    rec["wall_s"] = time.perf_counter() - t0
    stop.set()
    th.join()
    rec["leftover_procs"] = reap_session(sid)
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    attached_cpu = 0.0
    for p in attached:  # their CPU while the command ran (read once more now: the sampler polls every 0.2 s)
        try:
            t = p.cpu_times()
            per[p.pid]["cpu_s"] = t.user + t.system - per[p.pid]["cpu_s_at_start"]
        except psutil.Error:
            pass
        attached_cpu += per[p.pid]["cpu_s"]
    rec["cpu_s_attached"] = attached_cpu
    rec["cpu_s_rusage"] = r.ru_utime + r.ru_stime + attached_cpu
    rec["cpu_s_sampled"] = sum(v["cpu_s"] for v in per.values())
    rec["cpu_s"] = max(rec["cpu_s_rusage"], rec["cpu_s_sampled"])
    rec["load_after"] = os.getloadavg()[0]
    rec["uptime_after"] = uptime()
    rec["returncode"] = rc
    rec["processes"] = sorted(({"pid": k, **v} for k, v in per.items()), key=lambda x: -x["peak_rss_mb"])
    with open(out_path, "w") as fh:
        json.dump(rec, fh, indent=1)
    print(json.dumps({k: v for k, v in rec.items() if k not in ("command", "processes")}))
    sys.exit(rc)


if __name__ == "__main__":
    main()

"""The process that serves yuliao's local Prefect API: uvicorn on Prefect's app factory, plus a watchdog.

Run as `python -m flows.server_process --port P --parent PID`: the server stops (SIGTERM to itself,
then a hard exit if uvicorn's shutdown hangs) as soon as process PID is gone, so a `yuliao` command
that is SIGKILLed never leaves its temporary API behind. On Linux the kernel tells it at once
(prctl PR_SET_PDEATHSIG); everywhere, a watchdog thread also polls the parent pid.
Prefect's own ephemeral start runs the same uvicorn app (`SubprocessASGIServer`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

POLL_SECONDS = 0.2
HARD_EXIT_AFTER_SECONDS = 10.0  # if uvicorn's graceful shutdown hangs after SIGTERM
APP_FACTORY = "prefect.server.api.server:create_app"


def die_with_parent_linux() -> None:
    """Ask the kernel to SIGTERM this process when the thread that started it exits (Linux only; no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # the polling watchdog still covers it


def stop_self(reason: str) -> None:
    """SIGTERM this process (uvicorn shuts down cleanly) and hard-exit if that has not happened in time."""
    print(f"yuliao Prefect API: stopping ({reason})", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(HARD_EXIT_AFTER_SECONDS)
    os._exit(0)


def watch_parent(parent: int) -> None:
    """Return when process `parent` is no longer this process's parent (it died; we were re-parented)."""
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)


def start_watchdog(parent: int | None) -> None:
    """Start the daemon thread that stops the server when its parent dies."""
    if parent is None:
        return
    die_with_parent_linux()
    if os.getppid() != parent:  # the parent died before the kernel could be told
        stop_self(f"parent {parent} is gone")

    def run() -> None:
        watch_parent(parent)
        stop_self(f"parent {parent} is gone")

    threading.Thread(target=run, name="yuliao-parent-watchdog", daemon=True).start()


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--parent", type=int, default=None, help="stop when this process (the yuliao command) dies")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve the Prefect API until SIGTERM/SIGINT or the parent's death; exit 3 if the port is taken (as uvicorn)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start_watchdog(args.parent)
    import uvicorn

    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port, log_level="error", lifespan="on")


if __name__ == "__main__":
    main()

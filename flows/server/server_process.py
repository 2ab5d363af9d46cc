"""The process that serves yuliao's local Prefect API: uvicorn on Prefect's app factory, plus a watchdog.

Two ways to end, one per kind of server:
- `--parent PID` (a command's temporary API): the server stops (SIGTERM to itself, then a hard exit
  if uvicorn's shutdown hangs) as soon as process PID is gone, so a `yuliao` command that is
  SIGKILLed never leaves its temporary API behind. On Linux the kernel tells it at once
  (prctl PR_SET_PDEATHSIG); everywhere, a watchdog thread also polls the parent pid.
- `--idle-seconds N --clients-lock F --start-lock S --state J` (the resident API,
  flows/server/resident_api.py): it stops after N seconds without an HTTP request once it can lock F
  exclusively (no command holds it shared), removing its state file J under lock S first.
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
IDLE_CHECK_SECONDS = 2.0
_last_request = [time.monotonic()]


def create_tracked_app():
    """Return Prefect's API app wrapped so every HTTP or websocket request stamps the last-use time."""
    from prefect.server.api.server import create_app

    app = create_app()

    async def tracked(scope, receive, send):
        if scope["type"] != "lifespan":
            _last_request[0] = time.monotonic()
        await app(scope, receive, send)

    return tracked


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


def stop_when_idle(idle: float, clients_lock: str, start_lock: str, state: str) -> None:
    """Return once nothing used the server for `idle` seconds and no command holds the clients lock (kept locked)."""
    import fcntl
    import json

    while True:
        time.sleep(min(IDLE_CHECK_SECONDS, idle))
        if time.monotonic() - _last_request[0] < idle:
            continue
        fd = os.open(clients_lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a command is using us (a long task may not call the API for a while)
            continue
        # Held until this process exits: a command arriving now waits, then finds no state and starts anew.
        sfd = os.open(start_lock, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(sfd, fcntl.LOCK_EX)
        try:
            with open(state, encoding="utf-8") as f:
                mine = json.load(f).get("pid") == os.getpid()
        except (OSError, ValueError):
            mine = False
        if mine:
            os.unlink(state)
        os.close(sfd)
        return


def start_idle_watchdog(args: argparse.Namespace) -> None:
    """Start the daemon thread that stops the resident server when it has been idle long enough."""
    if args.idle_seconds is None:
        return

    def run() -> None:
        stop_when_idle(args.idle_seconds, args.clients_lock, args.start_lock, args.state)
        stop_self(f"idle for {args.idle_seconds:.0f} s")

    threading.Thread(target=run, name="yuliao-idle-watchdog", daemon=True).start()


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--parent", type=int, default=None, help="stop when this process (the yuliao command) dies")
    ap.add_argument("--idle-seconds", type=float, default=None, help="stop after this long unused (resident server)")
    ap.add_argument("--clients-lock", help="lock file commands hold shared while they use the server")
    ap.add_argument("--start-lock", help="lock file guarding the state file")
    ap.add_argument("--state", help="state file naming this server; removed when it stops for idleness")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve the Prefect API until SIGTERM/SIGINT or the parent's death; exit 3 if the port is taken (as uvicorn)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    start_watchdog(args.parent)
    start_idle_watchdog(args)
    import uvicorn

    # The app object itself, not its import string: run as __main__, this module's request clock must
    # be the one the idle watchdog reads (an import string would load a second copy of the module).
    uvicorn.run(create_tracked_app(), host=args.host, port=args.port, log_level="error", lifespan="on")


if __name__ == "__main__":
    main()

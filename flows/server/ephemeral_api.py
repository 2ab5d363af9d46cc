"""The temporary local Prefect API of a `yuliao run` when no PREFECT_API_URL is configured.

Prefect starts the same server by itself on a flow's first API call (`SubprocessASGIServer`: uvicorn
serving `prefect.server.api.server:create_app` in a child process, SQLite under PREFECT_HOME), but
only after importing the whole server API into the calling process: about 5 s of CPU in a process
that never serves a request. Starting that app here (`flows.server.server_process`) skips the import; the
flow then reports to it through PREFECT_API_URL, exactly as it would to `yuliao server up`, and it is
stopped when the flow returns, or by its own watchdog when this process dies (even by SIGKILL).
A configured PREFECT_API_URL (env, profile or settings context) is used as it is.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

# What Prefect's own ephemeral start sets: no UI, ephemeral services only, a single app per process.
EPHEMERAL_SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# Defaults for a per-run server (an explicit env var still wins): skip block-type registration, whose
# memoised check imports every installed Prefect collection (prefect_dask, ~1 s of the server's ~5.7 s
# start). yuliao uses no blocks; a `yuliao server up` on the same database registers them on its start.
PER_RUN_SERVER_DEFAULTS = {"PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                           "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}
EXIT_ADDRESS_IN_USE = 3  # uvicorn's exit status when the port was taken after we picked it
HEALTH_POLL_SECONDS = 0.05


def free_local_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(port: int) -> list[str]:
    """Return the command that serves Prefect's API app on `port` and stops when this process dies."""
    return [sys.executable, "-m", "flows.server.server_process", "--host", "127.0.0.1", "--port", str(port),
            "--parent", str(os.getpid())]


def server_environment() -> dict[str, str]:
    """Return the server's environment: per-run defaults, ours, the ephemeral flags and every explicitly set Prefect setting."""
    from prefect.settings import get_current_settings

    return {**PER_RUN_SERVER_DEFAULTS, **os.environ, **EPHEMERAL_SERVER_ENV,
            **get_current_settings().to_environment_variables(exclude_unset=True)}


def spawn_server(port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the ephemeral API server on `port` (returns at once; it answers /api/health when ready)."""
    return subprocess.Popen(server_command(port), env=env if env is not None else server_environment())


# A server spawned by `start_server_early`, waiting to be adopted (or stopped) by `temporary_prefect_api`.
_early: tuple[subprocess.Popen, int] | None = None


def start_server_early() -> None:
    """Spawn the per-run server now, before Prefect is imported, when no API can be configured but by a profile.

    The server then boots on the other core while the CLI validates the recipe and imports Prefect
    (~3-5 s). Only in a process that has not imported Prefect (so no settings context can exist) and
    has no PREFECT_API_URL in its environment; its environment is then exactly what the server reads
    itself. If Prefect's settings turn out to name an API after all (a profile), the server is stopped
    unused; at exit it is stopped in any case.
    """
    global _early
    if _early is not None or "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return
    port = free_local_port()
    _early = (spawn_server(port, {**PER_RUN_SERVER_DEFAULTS, **os.environ, **EPHEMERAL_SERVER_ENV}), port)
    atexit.register(stop_early_server)


def stop_early_server() -> None:
    """Stop the early server if nothing adopted it (the run never started)."""
    global _early
    if _early is not None:
        stop_server(_early[0])
        _early = None


def _take_early() -> tuple[subprocess.Popen, int] | None:
    global _early
    taken, _early = _early, None
    return taken


def wait_until_healthy(process: subprocess.Popen, port: int, timeout: float) -> tuple[subprocess.Popen, int]:
    """Poll /api/health until the server answers; return the (process, port) that did (restarted on a port race)."""
    import httpx

    deadline = time.monotonic() + timeout
    try:
        with httpx.Client() as client:
            while True:
                status = process.poll()
                if status == EXIT_ADDRESS_IN_USE:  # the port was taken after we picked it: as Prefect does, take another
                    port = free_local_port()
                    process = spawn_server(port)
                elif status is not None:
                    raise RuntimeError(f"the temporary Prefect API server exited with status {status}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                        return process, port
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the temporary Prefect API server did not answer within {timeout:.0f} s "
                                       "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")
                time.sleep(HEALTH_POLL_SECONDS)
    except BaseException:  # a timeout, or Ctrl-C while waiting: leave no server behind
        stop_server(process)
        raise


def stop_server(process: subprocess.Popen) -> None:
    """Terminate the server and reap it (killed after 5 s, as Prefect does)."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def temporary_prefect_api() -> Iterator[str | None]:
    """Yield the API URL flows report to: the configured one, or a temporary local server's (stopped on exit)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    early = _take_early()
    if settings.api.url or not settings.server.ephemeral.enabled:
        if early is not None:
            stop_server(early[0])  # a profile names the API after all
        yield settings.api.url
        return
    if early is None:
        port = free_local_port()
        early = (spawn_server(port), port)
    process, port = wait_until_healthy(*early, float(settings.server.ephemeral.startup_timeout_seconds))
    url = f"http://127.0.0.1:{port}/api"
    try:
        with api_url_everywhere(url):
            yield url
    finally:
        stop_server(process)


@contextmanager
def api_url_everywhere(url: str) -> Iterator[None]:
    """Point every Prefect client of this run at `url`: this context, other threads and spawned workers."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # A settings context alone is not enough: Prefect's own threads (the process pool's message
    # forwarder, the events worker) do not inherit it and would start a second server of their own.
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
        refresh_global_settings_context()

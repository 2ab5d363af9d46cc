"""The temporary local Prefect API of a `yuliao run` when no PREFECT_API_URL is configured.

Prefect starts the same server by itself on a flow's first API call (`SubprocessASGIServer`: uvicorn
serving `prefect.server.api.server:create_app` in a child process, SQLite under PREFECT_HOME), but
only after importing the whole server API into the calling process: about 5 s of CPU in a process
that never serves a request. Starting that same command here skips the import; the flow then reports
to it through PREFECT_API_URL, exactly as it would to `yuliao server up`, and it is stopped when the
flow returns. A configured PREFECT_API_URL (env, profile or settings context) is used as it is.
"""

from __future__ import annotations

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
    """Return the uvicorn command line Prefect's SubprocessASGIServer runs for its ephemeral API."""
    import prefect

    return [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
            "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on"]


def server_environment() -> dict[str, str]:
    """Return the server's environment: per-run defaults, ours, the ephemeral flags and every explicitly set Prefect setting."""
    from prefect.settings import get_current_settings

    return {**PER_RUN_SERVER_DEFAULTS, **os.environ, **EPHEMERAL_SERVER_ENV,
            **get_current_settings().to_environment_variables(exclude_unset=True)}


def spawn_server(port: int) -> subprocess.Popen:
    """Start the ephemeral API server on `port` (returns at once; it answers /api/health when ready)."""
    return subprocess.Popen(server_command(port), env=server_environment())


def wait_until_healthy(process: subprocess.Popen, port: int, timeout: float) -> tuple[subprocess.Popen, int]:
    """Poll /api/health until the server answers; return the (process, port) that did (restarted on a port race)."""
    import httpx

    deadline = time.monotonic() + timeout
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
                stop_server(process)
                raise RuntimeError(f"the temporary Prefect API server did not answer within {timeout:.0f} s "
                                   "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")
            time.sleep(HEALTH_POLL_SECONDS)


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
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        yield settings.api.url
        return
    port = free_local_port()
    process, port = wait_until_healthy(spawn_server(port), port, float(settings.server.ephemeral.startup_timeout_seconds))
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

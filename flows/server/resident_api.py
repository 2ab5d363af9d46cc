"""The Prefect API flows report to: PREFECT_API_URL when configured, else a resident local server.

The resident server is started by the first command that runs a flow and kept for the next ones,
so only the first command of a session pays its start-up (~5-10 s of CPU). It is one per
YULIAO_HOME (its SQLite database is $PREFECT_HOME/prefect.db beneath it), serves the Prefect UI,
and runs in its own session, so a killed command does not take it down. It stops itself after
$YULIAO_SERVER_IDLE_SECONDS (default 1800) without a request and without a command using it;
`yuliao server down` stops it at once.

Coordination is two lock files in $YULIAO_HOME/prefect-api/ (flock, so a killed holder releases
them): every command that uses the server holds `clients.lock` shared for its whole life, and the
server stops only when it can take it exclusively; `start.lock` makes sure two commands that
start together start one server. `server.json` says where it is (pid, its start time, port, url).

With YULIAO_PREFECT_API=per-command, each command starts its own temporary API instead and stops
it when it ends (flows/server/ephemeral_api.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODE_ENV = "YULIAO_PREFECT_API"  # resident (default) | per-command
IDLE_ENV = "YULIAO_SERVER_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 1800
STATE_FILE = "server.json"
START_LOCK = "start.lock"
CLIENTS_LOCK = "clients.lock"
STARTUP_TIMEOUT_SECONDS = 120.0
# The resident server serves the API and the UI; background services (scheduler, late-run marker…)
# stay off as in `prefect server start --no-services`-like webserver-only mode: yuliao needs none.
RESIDENT_SERVER_ENV = {"PREFECT__SERVER_WEBSERVER_ONLY": "1", "PREFECT_UI_ENABLED": "1",
                       "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
RESIDENT_SERVER_DEFAULTS = {"PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
                            "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"}

_client_lock: int | None = None  # fd of clients.lock, held (shared) until this process exits


def state_dir() -> Path:
    """Return the directory of the resident server's state and locks ($YULIAO_HOME/prefect-api)."""
    return Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve() / "prefect-api"


def idle_seconds() -> float:
    """Return how long the resident server waits, unused, before it stops itself."""
    return float(os.environ.get(IDLE_ENV, DEFAULT_IDLE_SECONDS))


def per_command_mode() -> bool:
    """True when the user asked for a temporary API per command instead of the resident one."""
    return os.environ.get(MODE_ENV, "resident") == "per-command"


def configured_api_url() -> str | None:
    """Return the API URL configured: environment, Prefect's settings or profile, or a `yuliao server up` server."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if "prefect" in sys.modules:  # a settings context (a test harness) or a profile may name one
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url
    else:
        url = profile_api_url()
    return url or server_up_api_url()


def server_up_api_url() -> str | None:
    """Return the API URL of the server `yuliao server up` started, while its process is alive (same database)."""
    d = Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve() / "server"
    try:
        url = (d / "api_url").read_text().strip()
        pid = int((d / "server.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return url if url and process_alive(pid, None) else None


def profile_api_url() -> str | None:
    """Return PREFECT_API_URL of the active Prefect profile, read from profiles.toml without importing Prefect."""
    import tomllib

    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or data.get("active") or "ephemeral"
    return data.get("profiles", {}).get(active, {}).get("PREFECT_API_URL") or None


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when `url`/health answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def process_alive(pid: int, started: float | None) -> bool:
    """True when process `pid` exists, is not a zombie and (when given) started at `started`."""
    import psutil

    try:
        p = psutil.Process(pid)
        return p.status() != psutil.STATUS_ZOMBIE and (started is None or abs(p.create_time() - started) < 0.01)
    except psutil.Error:
        return False


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield fd
    finally:
        os.close(fd)


def hold_client_lock(directory: Path) -> None:
    """Take clients.lock shared, once per process, and keep it until exit: the server does not idle out under us."""
    global _client_lock
    if _client_lock is None:
        fd = os.open(directory / CLIENTS_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)  # waits while a server that decided to stop is stopping
        os.set_inheritable(fd, False)
        _client_lock = fd


def read_state(directory: Path, state_file: str = STATE_FILE) -> dict | None:
    """Return server.json (or another process's `state_file`), or None when there is none (or it is torn)."""
    try:
        return json.loads((directory / state_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def resident_environment(port: int) -> dict[str, str]:
    """Return the resident server's environment: its defaults, ours, webserver-only with the UI on this port."""
    return {**RESIDENT_SERVER_DEFAULTS, **os.environ, **RESIDENT_SERVER_ENV,
            "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}


def spawn_resident(directory: Path) -> dict:
    """Start a resident server in its own session (stdout/stderr to server.log); record and return its state."""
    import psutil

    from flows.server.ephemeral_api import free_local_port

    port = free_local_port()
    cmd = [sys.executable, "-m", "flows.server.server_process", "--host", "127.0.0.1", "--port", str(port),
           "--idle-seconds", str(idle_seconds()), "--clients-lock", str(directory / CLIENTS_LOCK),
           "--start-lock", str(directory / START_LOCK), "--state", str(directory / STATE_FILE)]
    env = resident_environment(port)
    env.pop("PREFECT_API_URL", None)
    with open(directory / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} yuliao: started resident Prefect API pid {proc.pid} "
                  f"port {port} for command pid {os.getpid()}\n".encode())
    state = {"pid": proc.pid, "pid_started": psutil.Process(proc.pid).create_time(), "port": port,
             "url": f"http://127.0.0.1:{port}/api", "started_at": time.time(), "idle_seconds": idle_seconds()}
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, directory / STATE_FILE)
    return state


def ensure_resident() -> dict:
    """Return the state of the resident server, starting one (without waiting for it) if none is alive."""
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    hold_client_lock(directory)
    with _locked(directory / START_LOCK, fcntl.LOCK_EX):
        state = read_state(directory)
        if state and process_alive(state["pid"], state.get("pid_started")):
            return state
        return spawn_resident(directory)


def resident_api_url(timeout: float = STARTUP_TIMEOUT_SECONDS) -> str:
    """Return the URL of a healthy resident server, starting one if needed (waits for it to answer)."""
    deadline = time.monotonic() + timeout
    for _ in range(3):  # a server that lost its port to a race exits; the next attempt starts another
        state = ensure_resident()
        while process_alive(state["pid"], state.get("pid_started")):
            if healthy(state["url"], timeout=1.0):
                return state["url"]
            if time.monotonic() > deadline:
                raise RuntimeError(f"the resident Prefect API (pid {state['pid']}) did not answer within {timeout:.0f} s; "
                                   f"see {state_dir() / 'server.log'}")
            time.sleep(0.05)
    raise RuntimeError(f"the resident Prefect API would not start; see {state_dir() / 'server.log'}")


def start_early() -> None:
    """Start the resident server now, without waiting, when a flow is about to run and no API is configured.

    Only before Prefect is imported (its settings are then the environment and the profile), so the
    server boots on the other core while the command validates its input and imports Prefect.
    """
    if per_command_mode() or "prefect" in sys.modules or configured_api_url():
        return
    ensure_resident()


@contextmanager
def flow_api() -> Iterator[str | None]:
    """Yield the API URL this command's flows report to: configured, resident, or per-command temporary."""
    configured = configured_api_url()
    if configured:
        yield configured
        return
    from flows.server.ephemeral_api import api_url_everywhere, temporary_prefect_api

    if per_command_mode():
        with temporary_prefect_api() as url:
            yield url
        return
    from prefect.settings import get_current_settings

    if not get_current_settings().server.ephemeral.enabled:  # a profile that turned local servers off
        yield None
        return
    url = resident_api_url()
    with api_url_everywhere(url):
        yield url


def terminate_process(pid: int, started: float | None, timeout: float, poll: float = 0.05) -> None:
    """SIGTERM `pid` (if it is still the process started at `started`); SIGKILL it after `timeout` seconds."""
    import signal

    if not process_alive(pid, started):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid, started) and time.monotonic() < deadline:
        time.sleep(poll)
    if process_alive(pid, started):
        os.kill(pid, signal.SIGKILL)


def stop_recorded_process(directory: Path, timeout: float, state_file: str = STATE_FILE,
                          leftovers: tuple[str, ...] = ()) -> dict | None:
    """Stop the process `state_file` in `directory` records (SIGTERM, SIGKILL after `timeout`); remove its files.

    Returns the state it had, or None when nothing was recorded. The files go only if no new process
    recorded itself meanwhile (checked under the start lock).
    """
    state = read_state(directory, state_file)
    if not state:
        return None
    terminate_process(state["pid"], state.get("pid_started"), timeout)
    with _locked(directory / START_LOCK, fcntl.LOCK_EX):
        current = read_state(directory, state_file)
        if current and current.get("pid") == state["pid"]:
            for name in (state_file, *leftovers):
                (directory / name).unlink(missing_ok=True)
    return state


def stop_resident(timeout: float = 30.0) -> dict | None:
    """Stop the resident server (SIGTERM, SIGKILL after `timeout`); return the state it had, or None."""
    return stop_recorded_process(state_dir(), timeout)

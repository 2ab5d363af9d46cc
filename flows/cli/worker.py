"""The resident yuliao worker (at a terminal, or YULIAO_WORKER=resident): flow commands run as forks of one warm process.

Most of a small `yuliao run`'s cost is fixed: importing Prefect, pyarrow and the operators (scipy,
numba, ftfy, phonenumbers…) and building per-process tables, before a document is read
(bench/results/cli_startup.md). The worker does that once. For each command it forks a child that
becomes the command: the child takes the client's stdin/stdout/stderr (passed over a Unix socket
with SCM_RIGHTS), its working directory, environment and arguments, and runs the `yuliao` app as
usual, so the run reports to the same Prefect API and shows in its UI. The client (`yuliao` itself)
only forwards signals and exits with the child's status (dying of the same signal when the child
was killed, so callers see what they would have seen).

Nothing outlives a killed client: each child leads its own process group, and a thread in it
SIGKILLs that group as soon as the client's end of the socket closes. The worker is one per
YULIAO_HOME ($YULIAO_HOME/worker/: worker.json, worker.sock, worker.log, start.lock). The first flow
command that finds none starts it in the background and runs in-process itself (it pays its imports
either way); later commands use it. It stops after $YULIAO_SERVER_IDLE_SECONDS (default 1800) with
no command running, or at `yuliao server down`. Fork safety: the worker starts no thread before it
forks (checked after its imports; a warm-up that would start one is skipped).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

WORKER_ENV = "YULIAO_WORKER"  # "resident": on; "off" (or any other value): in-process; unset: on at a terminal
STATE_FILE = "worker.json"
SOCKET_FILE = "worker.sock"
START_LOCK = "start.lock"
CONNECT_TIMEOUT_SECONDS = 2.0
MAX_UNIX_PATH = 100  # sockaddr_un holds 104-108 bytes; a longer home runs in-process
RETRY_AFTER_REFUSAL_SECONDS = 600.0  # a worker that refused to serve is not started again sooner (same code)
WORKER_CODE = [""]  # the code stamp of the source this worker imported


def worker_mode(setting: str | None = None, interactive: bool | None = None) -> bool:
    """True when flow commands should run in the resident worker: YULIAO_WORKER=resident, or unset at a terminal.

    A person at a terminal waits for every command; scripts, schedules and CI (no terminal on stdin
    and stderr) keep one process per command unless they ask for the worker.
    """
    setting = (os.environ.get(WORKER_ENV, "") if setting is None else setting).strip().lower()
    if setting:
        return setting == "resident"
    return (os.isatty(0) and os.isatty(2)) if interactive is None else interactive


def worker_dir() -> Path:
    """Return the worker's state directory ($YULIAO_HOME/worker)."""
    return Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve() / "worker"


def _idle_seconds() -> float:
    from flows.server.resident_api import idle_seconds

    return idle_seconds()


def _send(conn: socket.socket, message: dict) -> None:
    data = json.dumps(message).encode()
    conn.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv(conn: socket.socket) -> dict | None:
    """Return the next length-prefixed JSON message, or None at end of stream."""
    head = _recv_exact(conn, 4)
    if head is None:
        return None
    body = _recv_exact(conn, struct.unpack("!I", head)[0])
    return None if body is None else json.loads(body)


def code_stamp() -> str:
    """Return a digest of the yuliao source files' paths and mtimes: a worker serves only the code it imported."""
    import hashlib

    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256(sys.executable.encode())
    for package in ("flows", "transforms", "quality"):
        for f in sorted((root / package).rglob("*.py")):
            h.update(f"{f}\0{f.stat().st_mtime_ns}\0".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- client side (the `yuliao` command)


def read_state(directory: Path) -> dict | None:
    """Return worker.json, or None when there is none (or it is torn)."""
    from flows.server.resident_api import read_state as read_state_file

    return read_state_file(directory, STATE_FILE)


def spawn_worker(directory: Path) -> None:
    """Start a worker in its own session (output to worker.log), unless a live one is recorded; do not wait for it."""
    from flows.server.resident_api import _locked, process_alive

    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / START_LOCK, fcntl.LOCK_EX):
        state = read_state(directory)
        if state and process_alive(state["pid"], state.get("pid_started")):
            return
        if recently_refused(state):  # it would refuse again: no warm-up in the background of every command
            return
        cmd = [sys.executable, "-m", "flows.cli.worker", "--serve", str(directory), "--idle-seconds", str(_idle_seconds())]
        with open(directory / "worker.log", "ab") as log:
            proc = subprocess.Popen(cmd, env=dict(os.environ), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        import psutil

        _write_state(directory, {"pid": proc.pid, "pid_started": psutil.Process(proc.pid).create_time(),
                                 "socket": str(directory / SOCKET_FILE), "ready": False})


def _write_state(directory: Path, state: dict) -> None:
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, directory / STATE_FILE)


def connect_worker() -> socket.socket | None:
    """Return a connection to a ready worker of this YULIAO_HOME, or None (starting one for the next command)."""
    directory = worker_dir()
    path = directory / SOCKET_FILE
    if len(str(path)) > MAX_UNIX_PATH:
        return None
    state = read_state(directory)
    if state and state.get("ready"):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(CONNECT_TIMEOUT_SECONDS)
        try:
            conn.connect(str(path))
            conn.settimeout(None)
            return conn
        except OSError:
            conn.close()
    spawn_worker(directory)
    return None


def run_in_worker(argv: list[str]) -> int | None:
    """Run `yuliao ARGV` in the resident worker and return its exit status; None when it ran nowhere (run it here)."""
    conn = connect_worker()
    if conn is None:
        return None
    header = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "code": code_stamp()}).encode()
    try:
        socket.send_fds(conn, [struct.pack("!I", len(header))], [0, 1, 2])
        conn.sendall(header)
        started = _recv(conn)
    except OSError:
        started = None
    if not started or "started" not in started:
        conn.close()
        return None  # the worker was stopping: nothing ran, so run the command here

    def forward(signum: int, _frame) -> None:
        try:
            _send(conn, {"signal": signum})
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    result = _recv(conn)
    conn.close()
    if result is None:  # the worker itself died: the child's group was killed with it
        return 1
    if result.get("signal"):
        if result["signal"] not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
            signal.signal(result["signal"], signal.SIG_DFL)
        os.kill(os.getpid(), result["signal"])  # die as the command died (a test's SIGKILL checkpoint, Ctrl-C)
        time.sleep(1)
    return int(result.get("exit", 1))


def stop_worker(timeout: float = 10.0) -> dict | None:
    """Stop the resident worker and its running commands (SIGTERM, SIGKILL after `timeout`); return its state or None."""
    from flows.server.resident_api import stop_recorded_process

    return stop_recorded_process(worker_dir(), timeout, state_file=STATE_FILE, leftovers=(SOCKET_FILE,))


# ---------------------------------------------------------------- worker side


WARM_TEXTS = (  # one line per script the bundled recipes route differently, with a phone number and an e-mail for PII
    "这是一个用于预热的中文句子，包含一些常见的词语，电话 13800138000。",
    "這是一個用於預熱的繁體中文句子。",
    "呢個係用嚟熱身嘅廣東話句子，你明唔明呀？",
    "This is an English sentence used to warm up the worker; write to someone@example.org.",
    "これはワーカーを温めるための日本語の文です。",
    "이것은 작업자를 준비시키는 한국어 문장입니다.",
)
WARM_RECIPE = Path(__file__).resolve().parents[2] / "configs" / "recipes" / "demo.yaml"


def warm_operators(recipe: Path) -> None:
    """Run `recipe`'s operators (row ops, then each corpus op's signatures and reduce) on WARM_TEXTS in memory.

    What a command's first batch would otherwise pay in every fork: numba loading its cached kernels,
    language and PII tables, CJK codecs. Pure transforms: no file, no Prefect run, no thread.
    """
    import codecs

    from flows.io.recipe import load_recipe
    from flows.plan import split_segments
    from transforms.ops import OpStats, live_mask
    from transforms.schema import docs_from_pylist, ensure_decision_columns

    for encoding in ("gb18030", "big5hkscs", "idna"):  # the readers' fallbacks import their codecs on first use
        codecs.lookup(encoding)
    batch = ensure_decision_columns(docs_from_pylist([
        {"id": f"warm-{i}", "text": text, "source": "warm-up", "source_uri": f"warm-up:{i}", "raw_sha256": "0" * 64}
        for i, text in enumerate(WARM_TEXTS)]))
    for segment in split_segments(load_recipe(recipe).ops):
        for op in segment.ops:
            batch = op.apply(batch, OpStats())
        if segment.corpus is not None:
            live = batch.filter(live_mask(batch))
            segment.corpus.reduce(segment.corpus.signatures(live, 0))


def preload() -> list[str]:
    """Import what flow commands import and build the tables every run builds; return what was warmed."""
    import threading

    warmed = []
    import prefect  # noqa: F401

    import flows.cli.main  # noqa: F401  (registers every command group)
    import flows.curate  # noqa: F401
    import flows.entrypoints  # noqa: F401
    import flows.release  # noqa: F401
    import flows.report.artifacts  # noqa: F401
    # What every flow call imports late (measured in a forked `run`): Prefect serialises parameters
    # with FastAPI's encoder, draws nothing but imports its visualisation module, runs anyio's asyncio
    # backend; the Parquet writer's first call imports pyarrow.dataset; the resident API check psutil.
    import anyio._backends._asyncio  # noqa: F401
    import fastapi.encoders  # noqa: F401
    import prefect.artifacts  # noqa: F401
    import prefect.utilities.visualization  # noqa: F401
    import psutil  # noqa: F401
    import pyarrow.dataset  # noqa: F401
    from transforms.registry import known_ops

    known_ops()  # every operator module: scipy, numba, ftfy, phonenumbers…
    warmed.append("imports")
    try:  # the text-statistics class table (~1 CPU-s per process): pure numpy/pyarrow, no thread left behind
        from quality.signals import char_class_table

        char_class_table()
        warmed.append("char_class_table")
    except (ImportError, AttributeError):
        pass
    if WARM_RECIPE.is_file():
        try:
            warm_operators(WARM_RECIPE)
            warmed.append(f"operators of {WARM_RECIPE.name}")
        except Exception as exc:  # a warm-up that fails costs speed, never a command: the command builds what it needs
            print(f"yuliao worker: operator warm-up skipped ({type(exc).__name__}: {exc})", flush=True)
    if threading.active_count() != 1:
        raise RuntimeError(f"the worker started threads while warming up ({threading.enumerate()}); forking is unsafe")
    return warmed


def _reopen_std_streams() -> None:
    """Point sys.stdin/stdout/stderr at fds 0-2 afresh (they were the worker's log until dup2)."""
    import io

    sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8", errors="replace")
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", line_buffering=os.isatty(1),
                                  write_through=False)
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  line_buffering=True)


def _watch_client(conn: socket.socket) -> None:
    """In the command: deliver the client's forwarded signals; kill the whole group when the client goes away."""
    import threading

    def run() -> None:
        while True:
            try:
                msg = _recv(conn)
            except OSError:
                msg = None
            if msg is None:
                os.killpg(os.getpgid(0), signal.SIGKILL)  # the client died: nothing may outlive it
                return
            if msg.get("signal"):
                os.kill(os.getpid(), int(msg["signal"]))

    threading.Thread(target=run, name="yuliao-client-watch", daemon=True).start()


def become_command(conn: socket.socket, header: dict, fds: list[int]) -> None:
    """In the forked child: take the client's streams, directory, environment and arguments, run `yuliao`, exit."""
    if header.get("code") != WORKER_CODE[0]:  # another checkout, or the code changed since the worker imported it
        os.kill(os.getppid(), signal.SIGTERM)  # a stale worker stops; the client runs the command itself
        os._exit(75)
    os.setpgid(0, 0)
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    _reopen_std_streams()
    os.chdir(header["cwd"])
    os.environ.clear()
    os.environ.update(header["env"])
    argv = header["argv"]
    sys.argv = ["yuliao", *argv]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging

    from flows.cli.main import app, configure_environment

    configure_environment("-v" in argv or "--verbose" in argv)  # as the in-process command would, before Prefect
    refresh_global_settings_context()  # Prefect read its settings when the worker imported it: read them again
    setup_logging(incremental=False)  # and its log level and handlers (on the client's stderr now)
    _watch_client(conn)
    _send(conn, {"started": os.getpid()})
    code = 0
    try:
        app(argv, prog_name="yuliao")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the app's own handlers print the user-facing errors; anything else is a crash
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    os._exit(code)


def commands_running() -> bool:
    """True while a yuliao command of this home holds the resident API's clients lock (e.g. one running in-process)."""
    from flows.server.resident_api import CLIENTS_LOCK, state_dir

    path = state_dir() / CLIENTS_LOCK
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the lock if we took it


def record_refusal(directory: Path, reason: str) -> None:
    """Record in worker.json that this worker will not serve, and why, so that commands stop starting it for a while."""
    import psutil

    state = read_state(directory) or {}
    if state.get("pid") not in (None, os.getpid()):
        return  # another worker took over meanwhile: its record stands
    # pid_started too: `server down` must never signal a later process that reuses this pid.
    _write_state(directory, state | {"pid": os.getpid(), "pid_started": psutil.Process().create_time(), "ready": False,
                                     "refused": reason, "refused_at": time.time(), "code": WORKER_CODE[0]})
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} yuliao worker {os.getpid()}: not serving ({reason}); commands run "
          f"in-process and do not start a worker for {RETRY_AFTER_REFUSAL_SECONDS:.0f} s", flush=True)


def recently_refused(state: dict | None, now: float | None = None) -> bool:
    """True when the recorded worker refused to serve the same code less than RETRY_AFTER_REFUSAL_SECONDS ago."""
    if not state or "refused_at" not in state:
        return False
    age = (time.time() if now is None else now) - float(state["refused_at"])
    return age < RETRY_AFTER_REFUSAL_SECONDS and state.get("code") == code_stamp()


def serve(directory: Path, idle: float) -> None:
    """Warm up, then fork one child per connection until idle for `idle` seconds with no child running."""
    import select

    WORKER_CODE[0] = code_stamp()  # before the imports: an edit made while warming up makes the worker stale
    try:
        warmed = preload()
    except Exception as exc:  # e.g. a thread started by an import: forking would be unsafe, so never serve
        record_refusal(directory, f"{type(exc).__name__}: {exc}")
        return
    path = directory / SOCKET_FILE
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    state = read_state(directory) or {}
    if state.get("pid") != os.getpid():  # started by hand, or another worker took over: do not serve
        import psutil

        state = {"pid": os.getpid(), "pid_started": psutil.Process().create_time(), "socket": str(path)}
    _write_state(directory, state | {"ready": True, "warmed": warmed})
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} yuliao worker {os.getpid()}: ready ({', '.join(warmed)})", flush=True)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    children: dict[int, socket.socket] = {}
    last_busy = time.monotonic()
    while not stopping:
        try:
            ready, _, _ = select.select([server], [], [], 0.2)
        except InterruptedError:
            ready = []
        if ready:
            conn, _ = server.accept()
            try:
                head, fds, _, _ = socket.recv_fds(conn, 4, 3)
            except OSError:
                conn.close()
                continue
            if len(head) != 4 or len(fds) != 3:
                for fd in fds:
                    os.close(fd)
                conn.close()
                continue
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                try:
                    server.close()
                    for c in children.values():
                        c.close()
                    become_command(conn, read_header(conn, struct.unpack("!I", head)[0]), fds)
                finally:
                    os._exit(70)  # become_command never returns; a failure before the app ran ends here
            for fd in fds:
                os.close(fd)
            children[pid] = conn
            print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} yuliao worker: command pid {pid}", flush=True)
        for pid in list(children):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                conn = children.pop(pid)
                result = {"signal": os.WTERMSIG(status)} if os.WIFSIGNALED(status) else {"exit": os.WEXITSTATUS(status)}
                try:
                    _send(conn, result)
                except OSError:
                    pass
                conn.close()
                last_busy = time.monotonic()
        if children or (time.monotonic() - last_busy > idle and commands_running()):
            last_busy = time.monotonic()
        elif time.monotonic() - last_busy > idle:
            break
    server.close()
    for pid in children:  # `server down` while commands run: they end with the worker
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    from flows.server.resident_api import _locked

    with _locked(directory / START_LOCK, fcntl.LOCK_EX):
        if (read_state(directory) or {}).get("pid") == os.getpid():
            (directory / STATE_FILE).unlink(missing_ok=True)
            path.unlink(missing_ok=True)
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} yuliao worker {os.getpid()}: stopped", flush=True)


def read_header(conn: socket.socket, size: int) -> dict:
    """Read the client's header (argv, cwd, env) that follows its file descriptors."""
    body = _recv_exact(conn, size)
    if body is None:
        raise ConnectionError("the client went away before sending its command")
    return json.loads(body)


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", type=Path, required=True, help="the worker's state directory")
    ap.add_argument("--idle-seconds", type=float, default=1800.0)
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    serve(args.serve, args.idle_seconds)


if __name__ == "__main__":
    main()

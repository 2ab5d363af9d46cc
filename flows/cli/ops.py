"""Operations CLI: `yuliao report`, `yuliao resume`, `yuliao server up|down|status`.

(The resident Prefect API that flows use by default is flows/server/resident_api.py; `server down` stops
it too and `server status` shows it.)

`server up` starts a local Prefect server (SQLite under $PREFECT_HOME, analytics off), waits for
/api/health, creates the `yuliao-local` process work pool, deploys configs/prefect.yaml and starts
a worker, each in its own process group with its pid and log under `.yuliao/server/`, so
`server down` stops exactly those processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import webbrowser
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.cli.exit_codes import ExitCode

err = Console(stderr=True)
REPO_ROOT = Path(__file__).resolve().parents[2]
WORK_POOL = "yuliao-local"
PREFECT_FILE = REPO_ROOT / "configs" / "prefect.yaml"
HEALTH_TIMEOUT_SECONDS = 180


def _state_dir() -> Path:
    return Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve() / "server"


def _prefect() -> str:
    exe = Path(sys.executable).parent / "prefect"
    return str(exe) if exe.exists() else "prefect"


def _alive(pid: int) -> bool:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child that exited: reap it (not a zombie "alive")
            return False
    except ChildProcessError:
        pass  # started by an earlier `yuliao server up`: not our child
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _pids() -> dict[str, int]:
    out = {}
    for f in sorted(_state_dir().glob("*.pid")):
        try:
            out[f.stem] = int(f.read_text().strip())
        except ValueError:
            continue
    return out


def _start(name: str, cmd: list[str], env: dict[str, str]) -> int:
    """Start `cmd` in its own process group, logging to .yuliao/server/<name>.log; record its pid."""
    d = _state_dir()
    d.mkdir(parents=True, exist_ok=True)
    log = open(d / f"{name}.log", "ab")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    (d / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _healthy(api_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def server_env(api_url: str, ui: bool) -> dict[str, str]:
    """Environment for the server, worker and deploy processes: local SQLite, no analytics, this API."""
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve() / "prefect"))
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PREFECT_SERVER_UI_ENABLED"] = "true" if ui else "false"
    env["PREFECT_API_URL"] = api_url
    env["YULIAO_ROOT"] = str(REPO_ROOT)
    env.setdefault("PYTHONPATH", str(REPO_ROOT))
    return env


def server_up(host: str, port: int, ui: bool, deploy: bool, worker: bool) -> str:
    """Start server (+ deployments, + worker); return the API URL. Reuses a server that is already healthy."""
    api_url = f"http://{host}:{port}/api"
    env = server_env(api_url, ui)
    if not _healthy(api_url):
        cmd = [_prefect(), "server", "start", "--host", host, "--port", str(port), "--analytics-off"]
        cmd.append("--ui" if ui else "--no-ui")
        pid = _start("server", cmd, env)
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while not _healthy(api_url):
            if not _alive(pid):
                raise RuntimeError(f"prefect server exited; see {_state_dir() / 'server.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server not healthy after {HEALTH_TIMEOUT_SECONDS}s; see {_state_dir() / 'server.log'}")
            time.sleep(1)
        err.print(f"prefect server up at {api_url} (pid {pid})")
        (_state_dir() / "api_url").write_text(api_url)  # flow commands report here while it is up (resident_api)
    else:
        err.print(f"prefect server already answering at {api_url}")
    if deploy:
        pool = subprocess.run([_prefect(), "work-pool", "create", WORK_POOL, "--type", "process"], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True)
        if pool.returncode != 0 and "already exists" not in (pool.stdout + pool.stderr):
            raise RuntimeError(f"work pool {WORK_POOL} not created: {pool.stdout}{pool.stderr}")
        dep = subprocess.run([_prefect(), "--no-prompt", "deploy", "--all", "--prefect-file", str(PREFECT_FILE)], cwd=REPO_ROOT,
                             env=env, capture_output=True, text=True)
        (_state_dir() / "deploy.log").write_text(dep.stdout + dep.stderr)
        if dep.returncode != 0:
            raise RuntimeError(f"prefect deploy failed; see {_state_dir() / 'deploy.log'}")
        err.print(f"deployed {PREFECT_FILE.relative_to(REPO_ROOT)} to work pool {WORK_POOL}")
    if worker and not (_pids().get("worker") and _alive(_pids()["worker"])):
        pid = _start("worker", [_prefect(), "worker", "start", "--pool", WORK_POOL, "--type", "process",
                                "--name", f"yuliao-{os.uname().nodename}"], env)
        err.print(f"worker polling {WORK_POOL} (pid {pid})")
    return api_url


def server_down() -> list[str]:
    """Stop the processes `server up` started (by their recorded process groups); return what was stopped."""
    stopped = []
    for name in ("worker", "server"):  # worker first: it must not pick up runs from a dying server
        pid = _pids().get(name)
        if pid is None:
            continue
        if _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.5)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
            stopped.append(f"{name} (pid {pid})")
        (_state_dir() / f"{name}.pid").unlink(missing_ok=True)
    (_state_dir() / "api_url").unlink(missing_ok=True)
    return stopped


def register(app: typer.Typer) -> None:
    """Add the operations commands to the `yuliao` app."""

    @app.command("report")
    def report_cmd(
        path: Path = typer.Argument(..., help="run directory, run id (with --workspace) or release directory"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file to write (default: <dir>/report.html)"),
        annotations: Optional[Path] = typer.Option(None, "--annotations", help="annotations Parquet file/dir (columns item, annotator, label)"),
        workspace: Path = typer.Option(Path(os.environ.get("YULIAO_WORKSPACE", ".yuliao/workspace")), "--workspace", "-w"),
        open_: bool = typer.Option(False, "--open", help="open the report in a browser"),
    ) -> None:
        """Write the self-contained HTML report (charts inline, opens offline) of a run or a release."""
        from flows.report.html import write_report

        target = path if path.is_dir() else workspace / "runs" / str(path)
        try:
            written = write_report(target, out, annotations)
        except FileNotFoundError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(ExitCode.BAD_INPUT) from None
        typer.echo(str(written))
        if open_:
            webbrowser.open(written.resolve().as_uri())

    @app.command("resume")
    def resume_cmd(
        run: Optional[str] = typer.Argument(None, help="run id or directory; default: the newest incomplete run"),
        workspace: Path = typer.Option(Path(os.environ.get("YULIAO_WORKSPACE", ".yuliao/workspace")), "--workspace", "-w"),
        runner: Optional[str] = typer.Option(None, "--runner", help="task runner: thread, process or dask"),
        workers: Optional[int] = typer.Option(None, "--workers"),
    ) -> None:
        """Resume a killed or failed run: finished shards and stages are reused, the rest is redone."""
        from flows.cli.main import print_run_summary
        from flows.resume import INVOCATION
        from flows.run_record import ConservationError
        from flows.entrypoints import run_recipe
        from flows.io.store import read_json

        if run is None:
            runs = workspace / "runs"
            pending = [d for d in sorted(runs.iterdir(), reverse=True) if (d / INVOCATION).exists()
                       and not (d / "run.json").exists()] if runs.is_dir() else []
            if not pending:
                err.print(f"no incomplete run under {runs}")
                raise typer.Exit(ExitCode.BAD_INPUT)
            run_dir = pending[0]
        else:
            run_dir = Path(run) if Path(run).is_dir() else workspace / "runs" / run
        if not (run_dir / INVOCATION).exists():
            err.print(f"[red]{run_dir} has no {INVOCATION}: not a run started by this yuliao version[/red]")
            raise typer.Exit(ExitCode.BAD_INPUT)
        inv = read_json(run_dir / INVOCATION)
        err.print(f"resuming {run_dir.name} of recipe {inv['recipe_name']} ({inv['recipe_path']})")
        from flows.cli.main import start_flow_api_early

        start_flow_api_early()
        try:
            done = run_recipe(inv["recipe_path"], workspace=str(run_dir.parent.parent), inputs=inv.get("inputs"),
                              run_id=run_dir.name, runner=runner, workers=workers)
        except ConservationError as exc:
            err.print(f"[red]conservation check failed[/red]: {exc}")
            raise typer.Exit(ExitCode.LOST_RECORDS) from None
        rec = read_json(done / "run.json")
        err.print(f"reused {rec['resume']['shard_stages_reused']} of {rec['resume']['shard_stages']} shard stages")
        print_run_summary(done)

    server = typer.Typer(help="A local Prefect server, worker and the deployments of configs/prefect.yaml.", no_args_is_help=True)
    app.add_typer(server, name="server")

    @server.command("up")
    def up_cmd(
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(4200, "--port"),
        ui: bool = typer.Option(True, "--ui/--no-ui", help="serve the Prefect UI"),
        deploy: bool = typer.Option(True, "--deploy/--no-deploy", help="deploy configs/prefect.yaml"),
        worker: bool = typer.Option(True, "--worker/--no-worker", help="start a process worker for the yuliao-local pool"),
    ) -> None:
        """Start the server (SQLite), deploy the schedules, start a worker; print the UI address."""
        try:
            api = server_up(host, port, ui, deploy, worker)
        except RuntimeError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(ExitCode.FAILED) from None
        err.print(f"export PREFECT_API_URL={api}   # so `yuliao run` reports to this server")
        typer.echo(api.removesuffix("/api") if ui else api)

    @server.command("down")
    def down_cmd() -> None:
        """Stop the worker and server that `yuliao server up` started, and the resident Prefect API."""
        from flows.server.resident_api import stop_resident
        from flows.cli.worker import stop_worker

        stopped = server_down()
        worker = stop_worker()  # before the API: its running commands report to it
        if worker:
            stopped.append(f"resident yuliao worker (pid {worker['pid']})")
        resident = stop_resident()
        if resident:
            stopped.append(f"resident Prefect API {resident['url']} (pid {resident['pid']})")
        err.print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))

    @server.command("status")
    def status_cmd(port: int = typer.Option(4200, "--port"), host: str = typer.Option("127.0.0.1", "--host")) -> None:
        """Show whether the server answers, which recorded processes are alive, and the resident Prefect API."""
        from flows.server.resident_api import healthy, process_alive, read_state, state_dir

        resident = read_state(state_dir())
        if resident and process_alive(resident["pid"], resident.get("pid_started")):
            ui = resident["url"].removesuffix("/api")
            typer.echo(f"resident api {resident['url']}: {'healthy' if healthy(resident['url']) else 'not answering'} "
                       f"(pid {resident['pid']}, stops after {resident['idle_seconds']:.0f} s unused; UI {ui})")
        else:
            typer.echo("resident api: not running (the next command that runs a flow starts it)")
        from flows.cli.worker import read_state as worker_state
        from flows.cli.worker import worker_dir

        worker = worker_state(worker_dir())
        if worker and process_alive(worker["pid"], worker.get("pid_started")):
            typer.echo(f"resident worker: pid {worker['pid']}, {'ready' if worker.get('ready') else 'warming up'}")
        elif worker and worker.get("refused"):
            typer.echo(f"resident worker: refused to serve ({worker['refused']}); commands run in-process "
                       "(`yuliao server down` clears this, or it is retried after 10 minutes)")
        api = f"http://{host}:{port}/api"
        typer.echo(f"api {api}: {'healthy' if _healthy(api) else 'not answering'}")
        for name, pid in _pids().items():
            typer.echo(f"{name}: pid {pid} {'alive' if _alive(pid) else 'gone'}")

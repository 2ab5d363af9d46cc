"""The `yuliao` command line: the app, `run` and `check`; every other command group is a module of flows/cli/."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.cli.exit_codes import ExitCode


console = Console(stderr=True)
app = typer.Typer(
    name="yuliao",
    help="yuliao (语料): raw text -> curated, annotated, versioned Parquet datasets with record-level lineage.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def configure_environment(verbose: bool = False) -> None:
    """Quiet, offline defaults for Prefect and Hugging Face (explicit env vars still win)."""
    home = Path(os.environ.get("YULIAO_HOME", ".yuliao")).resolve()
    home.mkdir(parents=True, exist_ok=True)  # Prefect cannot create its SQLite file in a missing dir
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ["PREFECT_LOGGING_LEVEL"] = "INFO" if verbose else os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_ENABLED", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HOME", str(home / "hf"))


class RichProgress:
    """Progress listener drawing a rich bar over shards."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=console, transient=False)
        self._task = None

    def start(self, total: int, description: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, label: str) -> None:
        if self._task is not None:
            self._progress.advance(self._task)

    def stop(self) -> None:
        self._progress.stop()


# Commands (and `annotate` subcommands) that run Prefect flows; every other command reads and writes
# files only and never starts or contacts Prefect.
FLOW_COMMANDS = {"run", "resume", "release"}
VALIDATE_FIRST = {"run", "resume"}  # these start the API themselves once the recipe is known to be good
FLOW_SUBCOMMANDS = {"annotate": {"push", "collect", "status"}}


def runs_a_flow(command: str | None, rest: list[str]) -> bool:
    """True when `yuliao <command> <rest…>` runs a Prefect flow (and so needs the Prefect API)."""
    if command in FLOW_COMMANDS:
        return True
    sub = next((a for a in rest if not a.startswith("-")), None)
    return sub in FLOW_SUBCOMMANDS.get(command or "", set())


@app.callback()
def _main(ctx: typer.Context, verbose: bool = typer.Option(False, "--verbose", "-v", help="show Prefect's own logs")) -> None:
    configure_environment(verbose)
    argv = sys.argv[1:]  # Click hands a group's callback no view of the subcommand's arguments
    rest = argv[argv.index(ctx.invoked_subcommand) + 1:] if ctx.invoked_subcommand in argv else []
    if ctx.invoked_subcommand not in VALIDATE_FIRST and runs_a_flow(ctx.invoked_subcommand, rest):
        start_flow_api_early()


def start_flow_api_early() -> None:
    """Start the Prefect API a flow will need now, so it boots while the command checks input and imports Prefect."""
    from flows.server.resident_api import per_command_mode, start_early

    if per_command_mode():
        from flows.server.ephemeral_api import start_server_early

        start_server_early()  # stopped at exit if the command never ran its flow
    else:
        start_early()


@app.command("run")
def run_cmd(
    recipe: Path = typer.Argument(..., help="recipe YAML, e.g. configs/recipes/demo.yaml"),
    workspace: Optional[Path] = typer.Option(None, "--workspace", "-w", help="workspace dir (default: the recipe's)"),
    input_paths: Optional[list[str]] = typer.Option(None, "--input", "-i", help="override the inputs' paths (file, dir or glob; repeatable)"),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="resume or name a run (default: a new id)"),
    runner: Optional[str] = typer.Option(None, "--runner", help="task runner: thread, process or dask"),
    workers: Optional[int] = typer.Option(None, "--workers", help="parallel shard tasks"),
) -> None:
    """Curate: read the recipe's inputs, apply its operators, write kept/dropped/quarantined Parquet."""
    run_dir = validate_and_run(recipe, workspace, input_paths, run_id, runner, workers)
    print_run_summary(run_dir)


def validate_and_run(recipe: Path, workspace: Path | None, input_paths: list[str] | None, run_id: str | None,
                     runner: str | None, workers: int | None) -> Path:
    """Check the recipe, then run it; exit with ExitCode.BAD_INPUT / ExitCode.LOST_RECORDS on those failures."""
    from flows import progress
    from flows.io.recipe import RecipeError

    try:
        from flows.plan import override_inputs, plan_shards
        from flows.io.recipe import load_recipe

        rec = load_recipe(recipe)
        if input_paths:
            rec = override_inputs(rec, input_paths)
        plan_shards(rec)
    except RecipeError as exc:
        console.print(f"[red]recipe error[/red]\n{exc}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    start_flow_api_early()  # boots (if it is not up) while Prefect and the operators are imported
    from flows.run_record import ConservationError
    from flows.entrypoints import run_recipe

    progress.set_listener(RichProgress() if sys.stderr.isatty() or os.environ.get("YULIAO_PROGRESS") else None)
    try:
        run_dir = run_recipe(str(recipe), workspace=str(workspace) if workspace else None, inputs=input_paths,
                             run_id=run_id, runner=runner, workers=workers)
    except RecipeError as exc:
        console.print(f"[red]recipe error[/red]\n{exc}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except ConservationError as exc:
        console.print(f"[red]conservation check failed[/red]: {exc}")
        raise typer.Exit(ExitCode.LOST_RECORDS) from None
    finally:
        progress.set_listener(None)
    return run_dir


def print_run_summary(run_dir: Path) -> None:
    """Print the funnel of a finished run and where its output is."""
    from rich.table import Table

    from flows.io.store import read_json

    rec = read_json(run_dir / "run.json")
    t = rec["totals"]
    table = Table(title=f"run {rec['run_id']} ({rec['seconds']} s)")
    for col in ("read", "kept", "dropped", "quarantined"):
        table.add_column(col, justify="right")
    table.add_row(*(str(t[c]) for c in ("read", "kept", "dropped", "quarantined")))
    console.print(table)
    if rec["drops_by_reason"]:
        console.print("dropped by reason: " + ", ".join(f"{k}={v}" for k, v in rec["drops_by_reason"].items()))
    if rec["quarantine_by_error"]:
        console.print("quarantined by error: " + ", ".join(f"{k}={v}" for k, v in rec["quarantine_by_error"].items())
                      + f"  (details: {run_dir / 'quarantine'})")
    # stdout carries only the machine-usable answer: where the curated output is.
    typer.echo(f"kept: {run_dir / 'kept'}")
    typer.echo(f"run record: {run_dir / 'run.json'}")
    if (run_dir / "report.html").exists():
        typer.echo(f"report: {run_dir / 'report.html'}")


@app.command("ops")
def ops_cmd() -> None:
    """List the operators a recipe can use, with their parameters."""
    from transforms.registry import known_ops

    for name, cls in known_ops().items():
        params = ", ".join(f"{k}={'…' if f.is_required() else repr(f.default)}" for k, f in cls.model_fields.items())
        typer.echo(f"{name}@{cls.version} [{cls.kind}] {cls.summary}\n    {params or '(no parameters)'}")


@app.command("check")
def check_cmd(recipe: Path = typer.Argument(..., help="recipe YAML to validate")) -> None:
    """Validate a recipe (keys, ops, parameters, inputs) without running it."""
    from flows.plan import plan_shards
    from flows.io.recipe import RecipeError, load_recipe

    try:
        rec = load_recipe(recipe)
        shards = plan_shards(rec)
    except RecipeError as exc:
        console.print(f"[red]recipe error[/red]\n{exc}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    typer.echo(f"{recipe}: ok ({len(rec.ops)} ops, {len(shards)} input file(s))")


def _register_subcommands() -> None:
    from flows.cli import annotate, convert, dedup, keys, langid, ops, quality, release

    for module in (annotate, convert, dedup, keys, langid, ops, quality, release):
        module.register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point: flow commands go to the resident worker at a terminal or with YULIAO_WORKER=resident."""
    argv = sys.argv[1:]
    command = next((a for a in argv if not a.startswith("-")), None)
    if command is not None and runs_a_flow(command, argv[argv.index(command) + 1:]):
        from flows.cli.worker import run_in_worker, worker_mode

        if worker_mode():
            configure_environment("-v" in argv[:argv.index(command)] or "--verbose" in argv[:argv.index(command)])
            code = run_in_worker(argv)
            if code is not None:
                sys.exit(code)
    app()


if __name__ == "__main__":
    main()

"""`yuliao annotate push|collect|status`: the Label Studio loop from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.cli.exit_codes import ExitCode

console = Console(stderr=True)

annotate_app = typer.Typer(
    help="Annotation loop with Label Studio: push sampled records, collect annotations, show progress. "
    "Server: YULIAO_LS_URL / YULIAO_LS_TOKEN, or the local one from 'bash scripts/label_studio.sh start'.",
    no_args_is_help=True,
)


def _workspace_for(source: str, workspace: Optional[Path]) -> Path:
    """Default workspace: the one a run directory lives in (<ws>/runs/<id>), else .yuliao/workspace."""
    if workspace is not None:
        return workspace
    path = Path(source)
    if path.is_dir() and path.parent.name == "runs":
        return path.parent.parent
    return Path(".yuliao/workspace")


def run_flow(flow_obj, *args):  # noqa: ANN001, ANN202 - any yuliao flow and its arguments
    """Run a flow as a Prefect flow run when a Prefect API is configured, else as the plain function it wraps.

    Without a configured API a flow run would first start a temporary Prefect server (seconds of CPU
    on a 2-core machine, and more than the work itself for most pushes and collects); the run record
    it would keep dies with that server anyway. With `yuliao server up` (PREFECT_API_URL) every
    command is recorded as a flow run. Either way a refusal comes back as the exception itself.
    """
    from prefect.settings import get_current_settings
    from prefect.states import State

    result = flow_obj(*args) if get_current_settings().api.url else flow_obj.fn(*args)
    if isinstance(result, State):  # the flow's own refusal (flows.annotate.refused), returned by .fn
        raise result.data if isinstance(result.data, BaseException) else RuntimeError(result.message)
    return result


def _say(prefix: str, exc: Exception) -> None:
    """Print one unwrapped line: what went wrong and what to do next (the exception's message says both)."""
    from rich.markup import escape

    console.print(f"[red]{prefix}[/red]: {escape(str(exc))}", soft_wrap=True, highlight=False)


def _fail_unavailable(exc: Exception) -> None:
    _say("Label Studio unavailable", exc)
    raise typer.Exit(ExitCode.UNAVAILABLE)


@annotate_app.command("push")
def push_cmd(
    source: str = typer.Argument(..., help="a run dir (<workspace>/runs/<run_id>, its kept/ Parquet is used), a Parquet file or a glob"),
    config: str = typer.Option("quality_rating", "--config", "-c", help="labeling config: quality_rating, domain_classification, pii_review"),
    k: int = typer.Option(3, "--k", min=1, help="annotations wanted per task (Label Studio overlap)"),
    sample: Optional[int] = typer.Option(None, "--sample", "-n", min=0, help="records to send (default: all not yet in the project)"),
    strategy: str = typer.Option("auto", "--strategy", help="stratified (source x lang), least_certain (score_quality near 0.5), auto"),
    seed: int = typer.Option(0, "--seed", help="sampling seed"),
    gold: Optional[Path] = typer.Option(None, "--gold", help="gold tasks: Parquet/JSONL with id, text, answer (answers stay in yuliao)"),
    project: Optional[str] = typer.Option(None, "--project", help="project title (<= 50 chars; default 'yuliao <config>')"),
    workspace: Optional[Path] = typer.Option(None, "--workspace", "-w", help="workspace holding the task map (default: the run's)"),
    allow_unredacted: bool = typer.Option(False, "--allow-unredacted", help="send text that redact_pii did not redact"),
    batch_size: int = typer.Option(5000, "--batch-size", min=1, help="tasks per import request (each request is atomic on the server; fewer is faster)"),
    predictions: bool = typer.Option(True, "--predictions/--hide-predictions",
                                     help="send yuliao's scores as pre-filled suggestions (hide them to avoid anchoring annotators)"),
) -> None:
    """Push sampled records (with predictions and gold tasks) to a Label Studio project; safe to repeat or resume."""
    from flows.annotate import AnnotateError, push_flow, resolve_source
    from flows.io.label_studio import LabelStudioUnavailable, connect_api, get_config, server_settings

    ws = _workspace_for(source, workspace)
    try:  # check the cheap things before a flow run starts
        get_config(config)
        resolve_source(source)
        connect_api(server_settings())
    except (AnnotateError, ValueError) as exc:
        _say("push refused", exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except LabelStudioUnavailable as exc:
        _fail_unavailable(exc)
    try:
        from flows.server.resident_api import flow_api

        with flow_api():
            record = run_flow(push_flow, source, config, str(ws), k, sample, strategy, seed, str(gold) if gold else None, project,
                               allow_unredacted, batch_size, predictions)
    except (AnnotateError, ValueError) as exc:
        _say("push refused", exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except LabelStudioUnavailable as exc:
        _fail_unavailable(exc)
    rec = record.get("reconcile", {})
    console.print(
        f"project {record['project_id']} '{record['project_title']}': imported {record['imported']} task(s) "
        f"({record['gold_tasks']} gold) in {record['batches']} batch(es); {record['already_present']} already there; "
        f"{record['tasks_in_project']} in the project"
        + (f"; reconciled: adopted {rec.get('adopted')}, forgotten {rec.get('forgotten')}, duplicates deleted {rec.get('duplicates_deleted')}"
           if any(rec.get(x) for x in ("adopted", "forgotten", "duplicates_deleted")) else "")
    )
    typer.echo(record["url"])


@annotate_app.command("collect")
def collect_cmd(
    workspace: Path = typer.Option(Path(".yuliao/workspace"), "--workspace", "-w", help="workspace the push used"),
    project: Optional[int] = typer.Option(None, "--project", "-p", help="project id (default: every project pushed from this workspace)"),
    min_confidence: float = typer.Option(0.8, "--min-confidence", "--threshold", min=0.0, max=1.0,
                                         help="records whose aggregated label has a lower confidence (Dawid-Skene posterior, or majority share with majority_vote) go to adjudication"),
    method: str = typer.Option("dawid_skene", "--method", help="aggregation: dawid_skene or majority_vote"),
    send_back: bool = typer.Option(False, "--send-back", help="raise the overlap of flagged tasks so one more annotator sees them"),
) -> None:
    """Fetch new and updated annotations into Parquet; recompute agreement, labels and the adjudication list."""
    from flows.annotate import AnnotateError, collect_flow
    from flows.io.label_studio import LabelStudioUnavailable

    from flows.io.label_studio import connect_api, server_settings

    try:
        connect_api(server_settings())
        from flows.server.resident_api import flow_api

        with flow_api():
            reports = run_flow(collect_flow, str(workspace), project, min_confidence, method, send_back)
    except AnnotateError as exc:
        _say("collect refused", exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except LabelStudioUnavailable as exc:
        _fail_unavailable(exc)
    if not reports:
        console.print(f"no projects pushed from {workspace}; run 'yuliao annotate push' first")
    for r in reports:
        s = r.get("summary") or {}
        console.print(
            f"project {r['project_id']}: {r['fetched']} new/updated annotation(s), {r['annotations_total']} in total; "
            f"alpha(nominal)={_fmt(s.get('alpha_nominal'))} alpha(ordinal)={_fmt(s.get('alpha_ordinal'))} "
            f"fleiss={_fmt(s.get('fleiss_kappa'))}; {r['records_labelled']} record(s) labelled, "
            f"{r['flagged_for_adjudication']} flagged for adjudication"
        )
        typer.echo(r["files"]["annotations"])


@annotate_app.command("apply")
def apply_cmd(
    run: Path = typer.Argument(..., help="the run whose records were pushed (<workspace>/runs/<run_id>)"),
    project: list[int] = typer.Option(..., "--project", "-p", help="project id(s) whose collected labels to add (repeatable)"),
    workspace: Optional[Path] = typer.Option(None, "--workspace", "-w", help="workspace the push used (default: the run's)"),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="id of the derived run (default: <run_id>-labelled)"),
) -> None:
    """Write a derived run whose kept Parquet carries the aggregated label_* columns (release it with 'yuliao release')."""
    from flows.annotate import AnnotateError, apply_labels

    ws = _workspace_for(str(run), workspace)
    try:
        target = apply_labels(run, ws, list(project), run_id)
    except (AnnotateError, FileNotFoundError) as exc:
        _say("apply refused", exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    console.print(f"labels of project(s) {', '.join(map(str, project))} added to a derived run")
    typer.echo(target)


@annotate_app.command("add-annotator")
def add_annotator_cmd(
    emails: list[str] = typer.Argument(..., help="annotators' email addresses"),
    out: Path = typer.Option(Path(".yuliao/annotators"), "--out", "-o", help="directory for each one's password and API token (0700, files 0600)"),
) -> None:
    """Create annotator accounts through the organisation's invite link; print where each one's token and password are."""
    from flows.io.label_studio import LabelStudioUnavailable, add_annotator, connect_api, label_studio_errors, server_settings

    try:
        settings = server_settings()
        ls = connect_api(settings)
    except LabelStudioUnavailable as exc:
        _fail_unavailable(exc)
    failed = 0
    for email in emails:
        try:
            with label_studio_errors(settings, f"signing up {email}", "start it again and rerun: accounts already made are kept"):
                account = add_annotator(ls, settings, email, out)
        except LabelStudioUnavailable as exc:
            _fail_unavailable(exc)
        except (ValueError, RuntimeError) as exc:
            _say(f"{email} not added", exc)
            failed += 1
            continue
        console.print(f"{email}: {'account created' if account.created else 'already added'}; "
                      f"password in {account.password_path}", soft_wrap=True, highlight=False)
        typer.echo(f"{email}\t{account.token_path}")
    console.print(f"log in at {settings.url} (email + the password file); the token file is for API use", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(ExitCode.BAD_INPUT)


def _fmt(v: object) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


@annotate_app.command("status")
def status_cmd(
    workspace: Path = typer.Option(Path(".yuliao/workspace"), "--workspace", "-w", help="workspace the push used"),
    project: Optional[int] = typer.Option(None, "--project", "-p", help="project id (default: all from this workspace)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Progress per project: tasks and annotations done/needed, per annotator, agreement so far (as of the last collect)."""
    from rich.table import Table

    from flows.annotate import status_flow
    from flows.io.label_studio import LabelStudioUnavailable

    from flows.io.label_studio import connect_api, server_settings

    try:
        connect_api(server_settings())
        from flows.server.resident_api import flow_api

        with flow_api():
            statuses = run_flow(status_flow, str(workspace), project)
    except LabelStudioUnavailable as exc:
        _fail_unavailable(exc)
    if as_json:
        typer.echo(json.dumps(statuses, ensure_ascii=False, indent=2, default=str))
        return
    for st in statuses:
        table = Table(title=f"project {st['project_id']} '{st['title']}' ({st['config']}) {st['url']}")
        for col in ("tasks", "gold", "finished", "annotations done/needed", "skipped", "alpha", "flagged"):
            table.add_column(col, justify="right")
        agreement = st.get("agreement") or {}
        alpha = agreement.get("alpha_ordinal") if agreement.get("alpha_ordinal") is not None else agreement.get("alpha_nominal")
        table.add_row(str(st["tasks"]), str(st["gold_tasks"]), str(st["tasks_finished"]),
                      f"{st['annotations_done']}/{st['annotations_needed']}", str(st["annotations_skipped"]), _fmt(alpha),
                      _fmt(st.get("flagged_for_adjudication")))
        console.print(table)
        if st.get("annotators"):
            per = Table(title=f"annotators (as of last collect {st['last_collect']})")
            for col in ("annotator", "annotations", "gold accuracy", "consensus agreement", "median lead time s"):
                per.add_column(col)
            for a in st["annotators"]:
                per.add_row(a["annotator"], str(a.get("annotations", "-")), _fmt(a.get("gold_accuracy")),
                            _fmt(a.get("consensus_agreement")), _fmt(a.get("median_lead_time_s")))
            console.print(per)
    if not statuses:
        console.print(f"no projects pushed from {workspace}")


def register(app: typer.Typer) -> None:
    """Add the `annotate` command group to the yuliao CLI."""
    app.add_typer(annotate_app, name="annotate")

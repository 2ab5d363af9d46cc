"""`yuliao suggest-thresholds RUN_DIR` and `yuliao quality train|show|models`: quality thresholds and the learned scorer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
out = Console()
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

quality_app = typer.Typer(help="The learned quality scorer: train from annotations, list and show model versions.", no_args_is_help=True)
PRESETS_DIR = Path(__file__).resolve().parents[2] / "configs" / "recipes" / "presets"


def _workspace_for(run_dir: Path | None, workspace: Optional[Path]) -> Path:
    if workspace is not None:
        return workspace
    if run_dir is not None and run_dir.parent.name == "runs":
        return run_dir.parent.parent
    return Path(".yuliao/workspace")


def read_run_rows(run_dir: Path) -> pa.Table:
    """Return kept and dropped rows of a run (dropped rows carry the signals they were judged on)."""
    import pyarrow as pa

    from flows.io.store import read_parts

    parts = [t for t in (read_parts(run_dir / "kept"), read_parts(run_dir / "dropped")) if t is not None]
    if not parts:
        raise FileNotFoundError(f"{run_dir} has no kept/ or dropped/ part files; pass a run directory (<workspace>/runs/<run_id>)")
    return pa.concat_tables(parts, promote_options="permissive")


def _preset_ops(preset: str) -> list[dict]:
    path = Path(preset) if preset.endswith((".yaml", ".yml")) else PRESETS_DIR / f"{preset}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise FileNotFoundError(f"preset {preset!r} not found (known: {known}, or a recipe/preset YAML path)")
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")).get("ops", [])


def _fmt_examples(examples: list[tuple]) -> str:
    return "\n".join(f"{float(v):.3f} {text}" for v, _id, text in examples)


def suggest_thresholds_cmd(
    run_dir: Path = typer.Argument(..., help="a run directory, <workspace>/runs/<run_id>"),
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="also show this preset's thresholds (zh_web, zh_longform, en_web, or a YAML path)"),
    signal: Optional[list[str]] = typer.Option(None, "--signal", "-s", help="only these signal columns (repeatable)"),
    quantiles: str = typer.Option("0.01,0.02,0.05,0.1,0.2", "--quantiles", help="drop shares to propose thresholds at"),
    examples: int = typer.Option(2, "--examples", "-e", min=0, help="boundary examples per side"),
    compute: bool = typer.Option(False, "--compute", help="compute the signals from the text when the run has none"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="also write the report as JSON here"),
) -> None:
    """Show, per quality signal and candidate threshold, how many documents of a run it would drop, with boundary examples."""
    from quality.filters import preset_thresholds, threshold_report
    from quality.signals import score_all_signals
    from transforms.schema import DECISION_FIELDS

    try:
        table = read_run_rows(run_dir)
        current = preset_thresholds(_preset_ops(preset)) if preset else {}
        qs = tuple(float(q) for q in quantiles.split(","))
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if not any(c.startswith("signal_") for c in table.column_names):
        if not compute:
            console.print(f"[red]error[/red]: {run_dir} has no signal_* columns: add the score_* ops to the recipe "
                          "(see configs/recipes/presets/) or pass --compute")
            raise typer.Exit(EXIT_BAD_INPUT)
        table = table.drop_columns([f.name for f in DECISION_FIELDS if f.name in table.column_names])
        table = score_all_signals(table)
    report = threshold_report(table, qs, current, examples, tuple(signal) if signal else None)
    if not report:
        console.print(f"[red]error[/red]: none of the requested signals is in {run_dir}")
        raise typer.Exit(EXIT_BAD_INPUT)
    out.print(f"{run_dir}: {table.num_rows} documents (kept + dropped)")
    for item in report:
        t = Table(title=f"{item['column']} ({item['kind']}) -> {item['filter']}.{item['param']}, reason '{item['reason']}'; "
                        f"{item['scored']} scored", title_justify="left", show_lines=True)
        t.add_column("threshold", justify="right")
        t.add_column("would drop", justify="right")
        t.add_column("of them kept now", justify="right")
        t.add_column("dropped, nearest the cut")
        t.add_column("kept, nearest the cut")
        for row in item["rows"]:
            mark = " ◀ preset" if row["current"] else ""
            now = "-" if row["dropped_now_kept"] is None else str(row["dropped_now_kept"])
            t.add_row(f"{row['threshold']:g}{mark}", f"{row['dropped']} ({row['dropped_share']:.1%})", now,
                      _fmt_examples(row["dropped_examples"]), _fmt_examples(row["kept_examples"]))
        out.print(t)
    if json_out:
        json_out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        console.print(f"report written to {json_out}")


@quality_app.command("train")
def train_cmd(
    annotations: Path = typer.Option(..., "--annotations", "-a", help="aggregated annotations Parquet (id, label_<name>...)"),
    documents: Path = typer.Option(..., "--documents", "-d", help="Parquet with id and text of the annotated documents (a run's kept/ part or an export)"),
    workspace: Path = typer.Option(Path(".yuliao/workspace"), "--workspace", "-w", help="models go to <workspace>/models/quality/v<N>"),
    label_column: str = typer.Option("label_quality", "--label-column", help="annotation column holding the label"),
    positive: list[str] = typer.Option(["good"], "--positive", help="label values meaning good (repeatable)"),
    negative: Optional[list[str]] = typer.Option(None, "--negative", help="label values meaning bad (default: every other value)"),
    group_column: Optional[str] = typer.Option(None, "--group-column", help="documents column whose groups never straddle train/held-out"),
    annotation_set: Optional[str] = typer.Option(None, "--annotation-set", help="name recorded in lineage (default: file stem@sha256)"),
    target_precision: float = typer.Option(0.9, "--target-precision", min=0.0, max=1.0, help="precision of 'keep' the threshold must reach"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Train the learned quality scorer from annotations and store it as the next version."""
    from flows.io.quality_model import train_from_files

    try:
        path, model = train_from_files(annotations, documents, workspace, label_column=label_column, positive=tuple(positive),
                                       negative=tuple(negative) if negative else None, group_column=group_column,
                                       annotation_set=annotation_set, target_precision=target_precision, seed=seed)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    _print_card(model.card.model_dump(mode="json"))
    out.print(f"model written to {path}")
    out.print("recipe ops:\n"
              f"  - op: score_quality\n    model: {model.card.version}\n"
              f"  - op: filter_quality_score\n    min_score: {model.card.threshold:.4f}", markup=False)


def _print_card(card: dict) -> None:
    best = max(card["baselines"].items(), key=lambda kv: kv[1]) if card["baselines"] else ("-", float("nan"))
    t = Table(title=f"quality model {card['version']} ({card['annotation_set']})", title_justify="left")
    t.add_column("metric")
    t.add_column("value", justify="right")
    for k, v in [("train / held-out rows", f"{card['n_train']} / {card['n_heldout']}"),
                 ("held-out AUC", f"{card['heldout_auc']:.4f}"),
                 (f"threshold (target precision {card['target_precision']})", f"{card['threshold']:.4f}" + ("" if card["target_precision_met"] else " (target not reached)")),
                 ("held-out precision / recall at threshold", f"{card['heldout_precision']:.4f} / {card['heldout_recall']:.4f}"),
                 ("held-out share kept", f"{card['heldout_kept_share']:.4f}"),
                 (f"best single signal AUC ({best[0]})", f"{best[1]:.4f}")]:
        t.add_row(k, v)
    out.print(t)


@quality_app.command("show")
def show_cmd(
    model: str = typer.Argument("latest", help="latest, v<N> or a model directory"),
    workspace: Path = typer.Option(Path(".yuliao/workspace"), "--workspace", "-w"),
    as_json: bool = typer.Option(False, "--json", help="print model.json as it is"),
) -> None:
    """Show a stored model's card: lineage, held-out metrics, threshold and baselines."""
    from flows.io.quality_model import resolve_model_dir

    try:
        path = resolve_model_dir(workspace, model)
    except FileNotFoundError as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    card = json.loads((path / "model.json").read_text(encoding="utf-8"))
    if as_json:
        typer.echo(json.dumps(card, ensure_ascii=False, indent=2))
        return
    _print_card(card)
    out.print(f"{path}")


@quality_app.command("models")
def models_cmd(workspace: Path = typer.Option(Path(".yuliao/workspace"), "--workspace", "-w")) -> None:
    """List stored quality-model versions with their annotation set and held-out AUC."""
    from flows.io.quality_model import model_versions, models_root

    versions = model_versions(workspace)
    if not versions:
        console.print(f"no models under {models_root(workspace)}")
        return
    for v in versions:
        card = json.loads((models_root(workspace) / f"v{v}" / "model.json").read_text(encoding="utf-8"))
        out.print(f"v{v}  AUC {card['heldout_auc']:.4f}  threshold {card['threshold']:.4f}  {card['annotation_set']}")


def register(app: typer.Typer) -> None:
    """Add `suggest-thresholds` and the `quality` group to the yuliao CLI."""
    app.command("suggest-thresholds")(suggest_thresholds_cmd)
    app.add_typer(quality_app, name="quality")

"""The annotation loop as Prefect flows: push sampled records to Label Studio, collect annotations, report status.

Files (under ``<workspace>/annotation/``):
  label_studio.sqlite                      task<->record map, gold answers, collect watermarks (per server)
  project-<id>/annotations.parquet         one row per annotation, upserted by annotation id on each collect
  project-<id>/labels.parquet              one aggregated label + confidence per record (``label_*`` columns)
  project-<id>/agreement.json              project/label/pair agreement, annotator gold accuracy and consensus
  project-<id>/adjudication.parquet        records whose aggregated label's confidence is below --min-confidence
  project-<id>/pushes/<push_id>.json       what each push sent
"""

from __future__ import annotations

import glob
import json
import math
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import yaml
from prefect import flow, task
from prefect.context import FlowRunContext
from prefect.states import Failed, State

from flows.io.label_studio import (
    RECORD_KEY,
    LabelStudioUnavailable,
    WATERMARK_OVERLAP,
    LabelConfig,
    LabelStudioAPI,
    LabelStudioHTTPError,
    MappingStore,
    ServerSettings,
    connect_api,
    ensure_project,
    export_annotations,
    fetch_annotations,
    get_config,
    label_studio_errors,
    push_tasks,
    request_more_annotations,
    server_settings,
    span_prediction_regions,
    tasks_updated_since,
)
from flows.io.annotation_layout import (
    ADJUDICATION_FILE,
    AGREEMENT_FILE,
    ANNOTATIONS_FILE,
    LABELS_FILE,
    MAPPING_DB,
    PUSHES_DIR,
    annotation_root,
    project_dir,
)
from flows.io.store import write_json_atomic
from quality.aggregate import (
    Control,
    aggregate_labels,
    aggregate_multi_choice,
    aggregate_spans,
    control_label_columns,
    control_labels,
    controls_from_config,
    is_label_value_column,
    label_columns,
    majority_vote,
    option_presence_labels,
    outer_join_on_id,
    spans_from_result,
)
from quality.agreement import (
    MIN_CONFIDENCE,
    agreement_per_label,
    annotator_consensus_agreement,
    annotator_gold_accuracy,
    cohen_kappa_pairs,
    flag_low_confidence,
    item_agreement,
    krippendorff_alpha,
    span_agreement,
    summarize_agreement,
)
from quality.sampling import sample_for_annotation

ANNOTATION_SCHEMA = pa.schema([
    pa.field("project_id", pa.int64()),
    pa.field("annotation_id", pa.int64()),
    pa.field("task_id", pa.int64()),
    pa.field("record_id", pa.string()),
    pa.field("annotator_id", pa.int64()),
    pa.field("annotator", pa.string()),
    pa.field("result", pa.string()),  # Label Studio result JSON, as stored on the server
    pa.field("was_cancelled", pa.bool_()),
    pa.field("ground_truth", pa.bool_()),
    pa.field("lead_time", pa.float64()),  # seconds the annotator spent
    pa.field("created_at", pa.timestamp("us", tz="UTC")),
    pa.field("updated_at", pa.timestamp("us", tz="UTC")),
])
# A schema, not an empty table: Schema.empty_table() imports pandas, which push and status never need.
FLAGGED_SCHEMA = pa.schema([("item", pa.string()), ("n_judgements", pa.int64()), ("majority_label", pa.string()),
                           ("majority_share", pa.float64()), ("pairwise_agreement", pa.float64()), ("aggregated_label", pa.string()),
                           ("confidence", pa.float64()), ("reason", pa.string())])
PREDICTION_COLUMNS: dict[str, str] = {"quality_rating": "score_quality", "domain_classification": "pred_domain", "pii_review": "pii_spans"}
MODEL_VERSION_PREFIX = "yuliao"
# Tasks per import request. Each request is one transaction on the server (it lands whole or not at
# all, and a rerun adopts what landed), and each costs ~1 s of fixed server work under load: 4
# requests of 500 took 13.8 s where one of 2,000 took 9.6-10.2 s (bench/results/label_studio.md).
DEFAULT_BATCH_SIZE = 5000


class AnnotateError(ValueError):
    """Bad input to push/collect; the message says what to do."""


def open_store(workspace: Path, settings: ServerSettings) -> MappingStore:
    """Open the workspace's durable task<->record map for this server."""
    return MappingStore(annotation_root(workspace) / MAPPING_DB, settings.url)


# --- reading what to push --------------------------------------------------------------------


def resolve_source(source: str) -> tuple[list[Path], Path | None]:
    """Return (Parquet files, run dir or None) for a run dir, a kept/ dir, a Parquet file or a glob."""
    path = Path(source)
    if path.is_dir() and (path / "kept").is_dir():
        return sorted((path / "kept").glob("*.parquet")), path
    if path.is_dir():
        run_dir = path.parent if path.name == "kept" and (path.parent / "run.json").exists() else None
        return sorted(path.glob("*.parquet")), run_dir
    if path.is_file():
        return [path], None
    files = sorted(Path(p) for p in glob.glob(source))
    if not files:
        raise AnnotateError(f"{source}: no run directory, Parquet file or glob match; pass <workspace>/runs/<run_id> or a .parquet path")
    return files, None


def run_id_of(run_dir: Path | None) -> str | None:
    """Return the run id a run directory records (its folder name if run.json lacks one), or None."""
    if run_dir is None:
        return None
    record = run_dir / "run.json"
    run = json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}
    return str(run.get("run_id") or run_dir.name)


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read one Parquet file whole (ParquetFile, not pq.read_table: that imports pyarrow.dataset and with it pandas)."""
    with pq.ParquetFile(path) as parquet:
        return parquet.read(columns=columns)


def read_records(files: list[Path]) -> pa.Table:
    """Read and concatenate the Parquet files to push."""
    if not files:
        raise AnnotateError("no Parquet files to push (is the run's kept/ directory empty?)")
    table = pa.concat_tables([read_parquet(f) for f in files], promote_options="permissive")
    for col in ("id", "text"):
        if col not in table.column_names:
            raise AnnotateError(f"{files[0]}: no {col!r} column; push needs yuliao document Parquet")
    return table


def redaction_status(docs: pa.Table, run_dir: Path | None) -> tuple[bool, bool]:
    """Return (text is PII-redacted, recipe allows unredacted text) from the run's recipe or the records' columns."""
    recipe_file = run_dir / "recipe.yaml" if run_dir else None
    if recipe_file is not None and recipe_file.exists():
        recipe = yaml.safe_load(recipe_file.read_text(encoding="utf-8")) or {}
        ops = recipe.get("ops") or []
        redacted = any(isinstance(o, dict) and o.get("op") == "redact_pii" and o.get("mode", "redact") == "redact" for o in ops)
        allow = bool((recipe.get("annotation") or {}).get("allow_unredacted", False))
        return redacted, allow
    if "pii_counts" not in docs.column_names:
        return False, False
    # redact_pii ran; in detect mode it leaves the text as is and says so in the trace.
    if "trace" in docs.column_names:
        traces = pc.list_flatten(docs.column("trace"))
        detected = pc.any(pc.match_substring_regex(traces, pattern=r"^redact_pii@\d+: detected")).as_py()
        return not detected, False
    return True, False


def read_gold(path: Path) -> pa.Table:
    """Read gold records (Parquet or JSON lines) with columns id, text, answer."""
    table = read_parquet(path) if path.suffix == ".parquet" else pajson.read_json(path)
    missing = [c for c in ("id", "text", "answer") if c not in table.column_names]
    if missing:
        raise AnnotateError(f"{path}: gold file lacks column(s) {missing}; it needs id, text and answer (the known label)")
    return table.set_column(table.schema.get_field_index("id"), "id", pc.cast(table.column("id"), pa.string()))


def prediction_for(row: dict, config: LabelConfig, text: str, prediction_column: str | None) -> dict | None:
    """Build one Label Studio prediction from yuliao's own columns (score, predicted class, PII spans), or None."""
    value = row.get(prediction_column) if prediction_column else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if config.spans_control is not None:
        regions = span_prediction_regions(text, list(value), config.spans_control)
        return {"model_version": f"{MODEL_VERSION_PREFIX}-{prediction_column}", "result": regions} if regions else None
    if config.ordinal_order is not None:  # a [0, 1] score shown as the nearest rating
        score = min(max(float(value), 0.0), 1.0)
        rating = 1 + round(score * (len(config.ordinal_order) - 1))
        return {"model_version": f"{MODEL_VERSION_PREFIX}-{prediction_column}", "score": score,
                "result": [{"from_name": config.control, "to_name": "text", "type": "rating", "value": {"rating": rating}}]}
    return {"model_version": f"{MODEL_VERSION_PREFIX}-{prediction_column}",
            "result": [{"from_name": config.control, "to_name": "text", "type": "choices", "value": {"choices": [str(value)]}}]}


def build_tasks(docs: pa.Table, config: LabelConfig, prediction_column: str | None) -> list[dict]:
    """Turn records into Label Studio tasks: redacted text, the record id, optional predictions."""
    tasks = []
    columns = ["id", "text"] + [c for c in (prediction_column,) if c and c in docs.column_names]
    for row in docs.select(columns).to_pylist():
        task: dict = {"data": {"text": row["text"], RECORD_KEY: str(row["id"])}}
        prediction = prediction_for(row, config, row["text"], prediction_column if prediction_column in row else None)
        if prediction is not None:
            task["predictions"] = [prediction]
        tasks.append(task)
    return tasks


def interleave_gold(tasks: list[dict], gold_tasks: list[dict], seed: int) -> list[dict]:
    """Mix gold tasks in at seeded random positions so annotators cannot tell them apart by order."""
    combined = tasks + gold_tasks
    order = np.random.default_rng(seed).permutation(len(combined))
    return [combined[i] for i in order]


# --- push ---------------------------------------------------------------------------------------


def push_records(
    source: str, config_name: str, workspace: Path, annotations_per_task: int = 3, sample_size: int | None = None,
    strategy: str = "auto", seed: int = 0, gold_path: Path | None = None, project_title: str | None = None,
    allow_unredacted: bool = False, batch_size: int = DEFAULT_BATCH_SIZE, settings: ServerSettings | None = None,
    ls: LabelStudioAPI | None = None, on_batch: Callable[[int, int], None] | None = None, show_predictions: bool = True,
) -> dict:
    """Sample records, build tasks with predictions, mix in gold, and push them idempotently; return the push record."""
    config = get_config(config_name)
    files, run_dir = resolve_source(source)
    docs = read_records(files)
    redacted, recipe_allows = redaction_status(docs, run_dir)
    if not (redacted or recipe_allows or allow_unredacted):
        raise AnnotateError(
            f"{source}: the text was not PII-redacted (no redact_pii op in redact mode); annotators must see redacted text. "
            "Add redact_pii to the recipe, or set annotation.allow_unredacted: true in the recipe / pass --allow-unredacted"
        )
    settings = settings or server_settings()
    ls = ls or connect_api(settings)
    title = project_title or f"yuliao {config.name}"
    with label_studio_errors(settings, "pushing", RESUME_PUSH):
        return _push_to_project(ls, settings, config, title, source, files, run_dir, docs, redacted, workspace, annotations_per_task,
                                sample_size, strategy, seed, gold_path, batch_size, on_batch, show_predictions)


RESUME_PUSH = ("start it again ('bash scripts/label_studio.sh start' for the local one) and rerun the same command: "
               "the push resumes where it stopped, without duplicates")


def _push_to_project(
    ls: LabelStudioAPI, settings: ServerSettings, config: LabelConfig, title: str, source: str, files: list[Path], run_dir: Path | None,
    docs: pa.Table, redacted: bool, workspace: Path, annotations_per_task: int, sample_size: int | None, strategy: str, seed: int,
    gold_path: Path | None, batch_size: int, on_batch: Callable[[int, int], None] | None, show_predictions: bool = True,
) -> dict:
    """Find or create the project, then sample, build and import the tasks; return the push record."""
    project_id, created = ensure_project(ls, title, config.xml(), annotations_per_task,
                                         description=f"yuliao {config.name}: {annotations_per_task} annotations per task",
                                         show_predictions=show_predictions)
    push_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    with open_store(workspace, settings) as store:
        store.record_project(project_id, title, config.name, annotations_per_task)
        # The sample depends only on (records, size, strategy, seed), not on what the project already
        # holds: rerunning a push (e.g. after a crash) asks for the same records and push_tasks skips
        # those already there. A larger size with the same seed contains the smaller sample.
        n = docs.num_rows if sample_size is None else sample_size
        chosen = sample_for_annotation(docs, n, strategy, seed)  # type: ignore[arg-type]
        prediction_column = PREDICTION_COLUMNS.get(config.name) if show_predictions else None
        tasks = build_tasks(chosen, config, prediction_column)
        kinds = {t["data"][RECORD_KEY]: "record" for t in tasks}
        if gold_path is not None:
            gold = read_gold(gold_path)
            answers = dict(zip(gold.column("id").to_pylist(), (str(a) for a in gold.column("answer").to_pylist())))
            store.set_gold(project_id, answers)
            gold_tasks = build_tasks(gold, config, prediction_column)
            kinds.update({t["data"][RECORD_KEY]: "gold" for t in gold_tasks})
            tasks = interleave_gold(tasks, gold_tasks, seed)
        report = push_tasks(ls, store, project_id, tasks, kinds, push_id, batch_size=batch_size, on_batch=on_batch)
        mapped = len(store.tasks(project_id))
    record = {
        "push_id": push_id, "server": settings.url, "project_id": project_id, "project_title": title, "project_created": created,
        "config": config.name, "annotations_per_task": annotations_per_task, "source": str(source),
        "files": [str(f) for f in files], "run_id": run_id_of(run_dir), "run_dir": str(run_dir.resolve()) if run_dir else None,
        "strategy": strategy, "seed": seed, "sample_size": sample_size,
        "gold_file": str(gold_path) if gold_path else None, "records_read": docs.num_rows, "sampled": chosen.num_rows,
        "tasks_requested": report.requested, "already_present": report.already_present, "imported": report.imported,
        "batches": report.batches, "tasks_in_project": mapped,
        "gold_tasks": sum(1 for k in kinds.values() if k == "gold"),
        "reconcile": report.reconcile.__dict__, "redacted": redacted, "url": f"{settings.url}/projects/{project_id}",
        "label_studio_requests": ls.requests_sent,  # by this push's client, the whoami check included
    }
    write_json_atomic(project_dir(workspace, project_id) / PUSHES_DIR / f"{push_id}.json", record)
    return record


@flow(name="yuliao-annotate-push", log_prints=True)
def push_flow(
    source: str, config_name: str, workspace: str, annotations_per_task: int = 3, sample_size: int | None = None,
    strategy: str = "auto", seed: int = 0, gold_path: str | None = None, project_title: str | None = None,
    allow_unredacted: bool = False, batch_size: int = DEFAULT_BATCH_SIZE, show_predictions: bool = True,
) -> dict:
    """Push sampled records (and gold tasks) from a run or Parquet to a Label Studio project."""
    try:
        return push_records(source, config_name, Path(workspace), annotations_per_task, sample_size, strategy, seed,
                            Path(gold_path) if gold_path else None, project_title, allow_unredacted, batch_size,
                            show_predictions=show_predictions)
    except (AnnotateError, ValueError, LabelStudioUnavailable) as exc:
        return refused(exc)


def refused(exc: Exception) -> State:
    """Fail the flow run with the error's message and no traceback in the log: the error already says what to do."""
    return Failed(message=str(exc), data=exc)


# --- collect ------------------------------------------------------------------------------------


def _import_statistics() -> None:
    import krippendorff  # noqa: F401
    import pandas  # noqa: F401


def warm_statistics() -> None:
    """Import the statistics libraries (~0.7 s of CPU: pandas, krippendorff) in a background thread.

    Started before the export request, so that the import runs while this process waits on the
    server; the first statistic then finds the modules loaded (Python's import lock makes a
    concurrent import wait, never import twice).
    """
    import threading

    threading.Thread(target=_import_statistics, name="warm-statistics", daemon=True).start()


def _fingerprint(gold: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(sorted(gold.items()), ensure_ascii=False).encode("utf-8")).hexdigest()


def _previous_report(out_dir: Path, inputs: dict) -> dict | None:
    """Return the last collect's report if it was computed from the same inputs and its files are all there, else None."""
    files = [out_dir / f for f in (AGREEMENT_FILE, ANNOTATIONS_FILE, LABELS_FILE, ADJUDICATION_FILE)]
    if not all(f.is_file() for f in files):
        return None
    report = json.loads((out_dir / AGREEMENT_FILE).read_text(encoding="utf-8"))
    return report if report.get("inputs") == inputs else None


def count_changed(path: Path, rows: list[dict]) -> int:
    """Return how many of the rows are new or differ (result, skip, update time) from the project's stored table."""
    if not path.exists():
        return len(rows)
    old = read_parquet(path, columns=["annotation_id", "result", "was_cancelled", "updated_at"]).to_pylist()
    seen = {r["annotation_id"]: (r["result"], r["was_cancelled"], r["updated_at"]) for r in old}
    return sum(seen.get(r["annotation_id"]) != (r["result"], r["was_cancelled"], r["updated_at"]) for r in rows)


def upsert_annotations(path: Path, rows: list[dict]) -> pa.Table:
    """Merge new/updated annotation rows into the project's Parquet table (by annotation id) and write it atomically."""
    new = pa.Table.from_pylist(rows, schema=ANNOTATION_SCHEMA)
    if path.exists():
        old = read_parquet(path).select(ANNOTATION_SCHEMA.names).cast(ANNOTATION_SCHEMA)
        old = old.filter(pc.invert(pc.is_in(old.column("annotation_id"), value_set=new.column("annotation_id"))))
        new = pa.concat_tables([old, new])
    new = new.sort_by([("task_id", "ascending"), ("annotation_id", "ascending")])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(new, tmp, compression="zstd")
    tmp.replace(path)
    return new


def judgements_table(annotations: pa.Table) -> pa.Table:
    """Return the submitted (not skipped) annotations as (item=record id, annotator, result JSON)."""
    done = annotations.filter(pc.invert(annotations.column("was_cancelled")))
    return pa.table({"item": pc.cast(done.column("record_id"), pa.string()), "annotator": done.column("annotator"),
                     "result": done.column("result")})


def labels_table(annotations: pa.Table, config: LabelConfig) -> pa.Table:
    """Return the long (item=record id, annotator, label) table of the config's main question, skipped tasks out."""
    return control_labels(judgements_table(annotations), config.control)


def _nan_to_none(rows: list[dict]) -> list[dict]:
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]


def _without_items(table: pa.Table, items: set[str]) -> pa.Table:
    return table.filter(pc.invert(pc.is_in(table.column("item"), value_set=pa.array(sorted(items), pa.string()))))


def control_report(judgements: pa.Table, control: Control, gold_items: set[str], method: str) -> tuple[dict, pa.Table]:
    """Aggregate and score one secondary control (rating, single or multi choice, spans); return (report, label columns)."""
    records = _without_items(judgements, gold_items)
    if control.kind == "multi":
        per_option = option_presence_labels(judgements, control)
        aggregated = aggregate_multi_choice({o: _without_items(t, gold_items) for o, t in per_option.items()}, method)  # type: ignore[arg-type]
        options = []
        for option, labels in per_option.items():
            alpha = krippendorff_alpha(labels, "nominal") if labels.num_rows else math.nan
            options.append({"option": option, "ticked": int(pc.sum(pc.equal(labels.column("label"), "1")).as_py() or 0),
                            "judgements": labels.num_rows, "alpha_nominal": alpha,
                            "records_labelled": int(sum(option in str(x).split("|") for x in aggregated.column("label").to_pylist()))})
        report = {"kind": "multi", "per_option": _nan_to_none(options)}
    elif control.kind == "spans":
        aggregated = aggregate_spans(records, control.name)
        report = {"kind": "spans"}
    else:
        labels = control_labels(judgements, control.name)
        aggregated = aggregate_labels(_without_items(labels, gold_items), method)  # type: ignore[arg-type]
        order = list(control.options) if control.kind == "rating" else None
        report = {"kind": control.kind, "summary": summarize_agreement(labels, ordinal_order=order).as_dict() if labels.num_rows else {}}
    report["records_labelled"] = aggregated.num_rows
    return report, control_label_columns(aggregated, control.name, method)  # type: ignore[arg-type]


def quality_report(annotations: pa.Table, config: LabelConfig, gold: dict[str, str], min_confidence: float,
                   method: str) -> tuple[dict, pa.Table, pa.Table]:
    """Return (agreement report, aggregated labels of every control by record id, records flagged for adjudication)."""
    judgements = judgements_table(annotations)
    labels = control_labels(judgements, config.control)
    order = list(config.ordinal_order) if config.ordinal_order else None
    summary = summarize_agreement(labels, ordinal_order=order).as_dict() if labels.num_rows else {}
    gold_table = pa.table({"item": list(gold), "label": list(gold.values())}, schema=pa.schema([("item", pa.string()), ("label", pa.string())]))
    per_annotator: dict[str, dict] = {}
    for r in annotator_consensus_agreement(labels).to_pylist() + annotator_gold_accuracy(labels, gold_table).to_pylist():
        per_annotator.setdefault(r["annotator"], {}).update(r)
    ann = annotations.to_pandas()
    for name, g in ann.groupby("annotator"):
        per_annotator.setdefault(name, {"annotator": name}).update(
            {"annotations": int(len(g)), "skipped": int(g["was_cancelled"].sum()),
             "median_lead_time_s": None if g["lead_time"].isna().all() else float(g["lead_time"].median())})
    # Gold items take part in fitting (they show who is reliable) but get no label and no adjudication.
    aggregated_all = aggregate_labels(labels, method)  # type: ignore[arg-type]
    is_gold = pc.is_in(aggregated_all.column("item"), value_set=pa.array(list(gold), pa.string()))
    aggregated = aggregated_all.filter(pc.invert(is_gold))
    record_labels = _without_items(labels, set(gold))
    flagged = (flag_low_confidence(aggregated, item_agreement(record_labels), min_confidence)
               if record_labels.num_rows else FLAGGED_SCHEMA.empty_table())
    spans = None
    if config.spans_control is not None:  # PII review: how well annotators agree on the spans themselves
        done = judgements.to_pylist()
        spans = span_agreement(pa.table({
            "item": pa.array([r["item"] for r in done], pa.string()), "annotator": pa.array([r["annotator"] for r in done], pa.string()),
            "spans": [spans_from_result(r["result"], config.spans_control) for r in done],
        })) if done else None
    controls: dict[str, dict] = {}
    label_tables = [label_columns(aggregated, config.column, method)]  # type: ignore[arg-type]
    for control in controls_from_config(config.xml()):
        if control.name == config.control:
            continue
        controls[control.name], columns = control_report(judgements, control, set(gold), method)
        label_tables.append(columns)
    report = {
        "control": config.control, "config": config.name, "method": method, "min_confidence": min_confidence,
        "span_agreement": spans, "summary": summary,
        "per_label": _nan_to_none(agreement_per_label(labels).to_pylist()) if labels.num_rows else [],
        "pairs": _nan_to_none(cohen_kappa_pairs(labels, weights="quadratic" if order else None, order=order).to_pylist()) if labels.num_rows else [],
        "annotators": _nan_to_none(sorted(per_annotator.values(), key=lambda r: r["annotator"])),
        "records_labelled": aggregated.num_rows, "flagged_for_adjudication": flagged.num_rows,
        "gold_items_answered": len(set(labels.column("item").to_pylist()) & set(gold)),
        "gold_accuracy": _gold_accuracy(aggregated_all, gold) if gold and labels.num_rows else None,
        "gold_majority_vote_accuracy": _gold_accuracy(majority_vote(labels), gold) if gold and labels.num_rows else None,
        "label_counts": dict(sorted(Counter(aggregated.column("label").to_pylist()).items())),
        "controls": controls,
    }
    return report, outer_join_on_id(label_tables), flagged


def _gold_accuracy(aggregated: pa.Table, gold: dict[str, str]) -> float | None:
    pairs = [(r["item"], r["label"]) for r in aggregated.to_pylist() if r["item"] in gold]
    return sum(gold[i] == label for i, label in pairs) / len(pairs) if pairs else None


def collect_project(
    workspace: Path, project_id: int, settings: ServerSettings | None = None, ls: LabelStudioAPI | None = None,
    min_confidence: float = MIN_CONFIDENCE, method: str = "dawid_skene", send_back: bool = False,
    overlap_seconds: float = WATERMARK_OVERLAP.total_seconds(),
) -> dict:
    """Fetch annotations changed since the last collect, upsert them, recompute agreement, labels and adjudication."""
    settings = settings or server_settings()
    ls = ls or connect_api(settings)
    with label_studio_errors(settings, f"collecting project {project_id}", "start it again and rerun collect: it picks up where the last one stopped"):
        return _collect_into(ls, settings, workspace, project_id, min_confidence, method, send_back, overlap_seconds)


def _collect_into(ls: LabelStudioAPI, settings: ServerSettings, workspace: Path, project_id: int, min_confidence: float, method: str,
                  send_back: bool, overlap_seconds: float) -> dict:
    """Fetch, upsert and score one project's annotations; write its files; return the report."""
    out_dir = project_dir(workspace, project_id)
    with open_store(workspace, settings) as store:
        info = store.project_info(project_id)
        if info is None:
            raise AnnotateError(f"project {project_id} on {settings.url} was not created by a yuliao push in {workspace}")
        config = get_config(info["config"])
        since = store.watermark(project_id)
        # A hint, not the truth (that is count_changed below): the watermark is the newest task update the
        # last export saw, so no overlap here; if something changed, import the statistics during the export.
        if tasks_updated_since(ls, project_id, since, overlap=timedelta(0)) != 0:
            warm_statistics()
        try:
            rows, newest = export_annotations(ls, project_id)
        except LabelStudioHTTPError as exc:
            if exc.status_code != 404:
                raise
            # A server without the one-request export (Enterprise): page through the tasks changed since the last collect.
            rows, newest = fetch_annotations(ls, project_id, since, overlap=timedelta(seconds=overlap_seconds))
        changed = count_changed(out_dir / ANNOTATIONS_FILE, rows)
        gold = {r: a for r, a in store.gold(project_id).items()}
        inputs = {"method": method, "min_confidence": min_confidence, "gold_sha256": _fingerprint(gold)}
        previous = _previous_report(out_dir, inputs) if changed == 0 else None
        if previous is not None:
            # Nothing changed since the last collect: its figures stand (and the statistics stack is never imported).
            table = read_parquet(out_dir / ANNOTATIONS_FILE)
            report, flagged = previous, read_parquet(out_dir / ADJUDICATION_FILE)
        else:
            table = upsert_annotations(out_dir / ANNOTATIONS_FILE, rows)
            report, labels, flagged = quality_report(table, config, gold, min_confidence, method)
            report["inputs"] = inputs
            mapping = store.tasks(project_id)
            task_of = {rec: tid for rec, (tid, _) in mapping.items()}
            flagged = flagged.append_column("task_id", pa.array([task_of.get(i) for i in flagged.column("item").to_pylist()], pa.int64()))
            pq.write_table(labels, out_dir / LABELS_FILE)
            pq.write_table(flagged, out_dir / ADJUDICATION_FILE)
        sent_back = 0
        if send_back and flagged.num_rows:
            counts = dict(zip(flagged.column("task_id").to_pylist(), flagged.column("n_judgements").to_pylist()))
            sent_back = request_more_annotations(ls, [t for t in counts if t is not None], counts)
        store.set_watermark(project_id, newest)
    report.update({"project_id": project_id, "fetched": changed, "read": len(rows), "annotations_total": table.num_rows,
                   "since": since.isoformat() if since else None, "watermark": newest.isoformat() if newest else None,
                   "sent_back_for_adjudication": sent_back, "label_studio_requests": ls.requests_sent, "collected_at": datetime.now(timezone.utc).isoformat(),
                   "files": {"annotations": str(out_dir / ANNOTATIONS_FILE), "labels": str(out_dir / LABELS_FILE),
                             "adjudication": str(out_dir / ADJUDICATION_FILE)}})
    write_json_atomic(out_dir / AGREEMENT_FILE, report)
    return report


def known_projects(workspace: Path, settings: ServerSettings) -> list[dict]:
    """Return the projects yuliao pushed to on this server from this workspace."""
    with open_store(workspace, settings) as store:
        return store.projects()


@task(name="collect-project")
def collect_project_task(workspace: str, project_id: int, min_confidence: float, method: str, send_back: bool) -> dict:
    """Prefect task: collect one project (its own client, so that only plain values cross the task boundary)."""
    try:
        return collect_project(Path(workspace), project_id, min_confidence=min_confidence, method=method, send_back=send_back)
    except (AnnotateError, LabelStudioUnavailable) as exc:
        return refused(exc)  # type: ignore[return-value]


@flow(name="yuliao-annotate-collect", log_prints=True)
def collect_flow(workspace: str, project_id: int | None = None, min_confidence: float = MIN_CONFIDENCE, method: str = "dawid_skene",
                 send_back: bool = False) -> list[dict]:
    """Collect new and updated annotations of one project (or every known project) into the workspace."""
    try:
        ids = [project_id] if project_id is not None else [p["project_id"] for p in known_projects(Path(workspace), server_settings())]
        # A Prefect task called outside a flow run would start a Prefect server of its own (the CLI
        # calls this flow's plain function when no API is configured): run the plain function then.
        collect_one = collect_project_task if FlowRunContext.get() is not None else collect_project_task.fn
        return [collect_one(workspace, pid, min_confidence, method, send_back) for pid in ids]
    except (AnnotateError, LabelStudioUnavailable) as exc:
        return refused(exc)


# --- labels into the dataset --------------------------------------------------------------------


def merged_labels(workspace: Path, project_ids: list[int]) -> pa.Table:
    """Return one table of ``id`` + ``label_*`` columns from the projects' labels.parquet (outer-joined on id)."""
    merged: pa.Table | None = None
    for pid in project_ids:
        path = project_dir(workspace, pid) / LABELS_FILE
        if not path.exists():
            raise AnnotateError(f"project {pid} has no {path.name}; run 'yuliao annotate collect --project {pid}' first")
        table = read_parquet(path)
        clash = [c for c in table.column_names if c != "id" and merged is not None and c in merged.column_names]
        if clash:
            raise AnnotateError(f"projects label the same column(s) {clash}; apply them to separate runs or pick one project")
        merged = table if merged is None else outer_join_on_id([merged, table])
    assert merged is not None
    return merged


def apply_labels(run_dir: Path, workspace: Path, project_ids: list[int], new_run_id: str | None = None) -> Path:
    """Write a derived run whose kept Parquet carries the projects' ``label_*`` columns; the source run is untouched.

    Runs are records and never rewritten; the derived run (same rows, same dropped/quarantine files,
    run.json naming its parent and the label sources) is what ``yuliao release`` then publishes, so the
    release card summarises the labels.
    """
    import shutil

    from flows.io.store import read_json
    from quality.aggregate import attach_labels

    run = read_json(run_dir / "run.json")
    labels = merged_labels(workspace, project_ids)
    new_run_id = new_run_id or f"{run['run_id']}-labelled"
    target = run_dir.parent / new_run_id
    if target.exists():
        raise AnnotateError(f"{target} exists; pass another --run-id (runs are never overwritten)")
    tmp = run_dir.parent / f".{new_run_id}.tmp-{uuid.uuid4().hex[:6]}"
    (tmp / "kept").mkdir(parents=True)
    labelled = 0
    for part in sorted((run_dir / "kept").glob("part-*.parquet")):
        table = attach_labels(read_parquet(part), labels)
        label_cols = [c for c in labels.column_names if is_label_value_column(c)]
        any_label = pa.array([False] * table.num_rows)
        for col in label_cols:
            any_label = pc.or_(any_label, pc.is_valid(table.column(col)))
        labelled += pc.sum(pc.cast(any_label, pa.int64())).as_py() or 0
        pq.write_table(table, tmp / "kept" / part.name, compression="zstd")
    for sub in ("dropped", "quarantine"):
        if (run_dir / sub).is_dir():
            shutil.copytree(run_dir / sub, tmp / sub)
    shutil.copy2(run_dir / "recipe.yaml", tmp / "recipe.yaml")
    sources = []
    with open_store(workspace, server_settings()) as store:
        for pid in project_ids:
            info = store.project_info(pid) or {}
            report_file = project_dir(workspace, pid) / AGREEMENT_FILE
            report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else {}
            sources.append({"project_id": pid, "server": store.server, "title": info.get("title"), "config": info.get("config"),
                            "method": report.get("method"), "agreement": report.get("summary"),
                            "collected_at": report.get("collected_at")})
    derived = {**run, "run_id": new_run_id, "derived_from": {"run_id": run["run_id"], "step": "annotate apply"},
               "annotation": {"label_sources": sources, "records_labelled": labelled}}
    write_json_atomic(tmp / "run.json", derived)
    tmp.rename(target)
    return target


# --- status -------------------------------------------------------------------------------------


def project_status(workspace: Path, project_id: int, settings: ServerSettings | None = None, ls: LabelStudioAPI | None = None) -> dict:
    """Return progress of one project: tasks, annotations done/needed from the server; per annotator and agreement from the last collect."""
    settings = settings or server_settings()
    ls = ls or connect_api(settings)
    p = ls.project(project_id)
    with open_store(workspace, settings) as store:
        info = store.project_info(project_id) or {}
        mapping = store.tasks(project_id)
        watermark = store.watermark(project_id)
    k = int(p.get("maximum_annotations") or info.get("annotations_per_task") or 1)
    tasks = int(p.get("task_number") or 0)
    status = {
        "project_id": project_id, "title": p.get("title"), "config": info.get("config"), "url": f"{settings.url}/projects/{project_id}",
        "tasks": tasks, "gold_tasks": sum(1 for _, kind in mapping.values() if kind == "gold"), "tasks_mapped": len(mapping),
        "tasks_finished": int(p.get("finished_task_number") or 0), "annotations_done": int(p.get("total_annotations_number") or 0),
        "annotations_skipped": int(p.get("skipped_annotations_number") or 0), "annotations_needed": tasks * k,
        "annotations_per_task": k, "last_collect": watermark.isoformat() if watermark else None,
    }
    agreement_file = project_dir(workspace, project_id) / AGREEMENT_FILE
    if agreement_file.exists():
        report = json.loads(agreement_file.read_text(encoding="utf-8"))
        status["agreement"] = report.get("summary")
        status["annotators"] = report.get("annotators")
        status["flagged_for_adjudication"] = report.get("flagged_for_adjudication")
    return status


@flow(name="yuliao-annotate-status", log_prints=True)
def status_flow(workspace: str, project_id: int | None = None) -> list[dict]:
    """Report progress of one project or of every project pushed from this workspace."""
    try:
        settings = server_settings()
        ls = connect_api(settings)
        ids = [project_id] if project_id is not None else [p["project_id"] for p in known_projects(Path(workspace), settings)]
        with label_studio_errors(settings, "reading progress", "start it again and rerun status"):
            return [project_status(Path(workspace), pid, settings, ls) for pid in ids]
    except LabelStudioUnavailable as exc:
        return refused(exc)

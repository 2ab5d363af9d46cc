"""Report data: what a run or release directory holds, read into small aggregates (pure reading, no HTML).

`collect_report_data` streams the Parquet parts of a run directory (`kept/`, `dropped/`,
`quarantine/`, `run.json`) or of a release (`data/`, `_dropped/`, `_quarantine/`,
`manifest.json`), reading only the columns each figure needs, into small aggregates: the funnel,
drop reasons, language and script mix, text-length histograms, `score_*` distributions, dedup
cluster sizes, annotation progress/agreement (when an annotations table is found) and example
records on both sides of every filter's boundary. A filter's boundary is read on the rule the
filter declares for the drop reason (`transforms.ops.Rule`: parameter, column, comparison), never
guessed from names. `flows.report.html` draws the result.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.io.annotation_layout import (
    AGREEMENT_FILE,
    ANNOTATION_DIR,
    ANNOTATIONS_FILE,
    LABELS_FILE,
    PROJECT_PREFIX,
    PUSHES_DIR,
    project_dirs,
)
from transforms.ops import NUMERIC_COMPARISONS, Filter, Rule
from transforms.registry import declared_rule
from transforms.schema import DROP_REASON, DROPPED_BY, DUPLICATE_OF

LENGTH_BINS = np.unique(np.round(np.logspace(0, 7, 57)).astype(np.int64))  # 1 .. 10M chars, log spaced
SCORE_SAMPLE = 200_000  # values kept per score column and side (kept/dropped) for the histograms
EXAMPLES_PER_SIDE = 3
EXCERPT_CHARS = 280


@dataclass
class Layout:
    """Where a run's or a release's files are."""

    kind: str  # "run" or "release"
    root: Path
    kept: list[Path]
    dropped: list[Path]
    quarantine: list[Path]
    record: dict


def find_layout(path: Path) -> Layout:
    """Recognise a run directory (run.json) or a release directory (manifest.json)."""
    if (path / "run.json").exists():
        record = json.loads((path / "run.json").read_text(encoding="utf-8"))
        return Layout("run", path, sorted((path / "kept").glob("part-*.parquet")),
                      sorted((path / "dropped").glob("part-*.parquet")),
                      sorted((path / "quarantine").glob("part-*.parquet")), record)
    if (path / "manifest.json").exists():
        record = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        return Layout("release", path, sorted((path / "data").glob("*.parquet")),
                      sorted((path / "_dropped").glob("*.parquet")),
                      sorted((path / "_quarantine").glob("*.parquet")), record)
    raise FileNotFoundError(f"{path}: neither a run directory (run.json) nor a release (manifest.json)")


# ---------------------------------------------------------------- aggregates


@dataclass
class Example:
    """One record shown in the report."""

    id: str
    text: str
    metric: float | None = None
    note: str = ""


@dataclass
class Boundary:
    """Records on both sides of one filter decision (one op and one drop reason), read on its declared rule."""

    op: str
    reason: str
    dropped_rows: int
    metric: str | None  # the value a min/max rule compares (column, or measure of a column); None: no numeric side
    threshold: tuple[str, object] | None = None  # (parameter, recorded value) of the rule that gave the reason
    dropped_low: bool = True  # dropped rows lie below the kept ones on the metric (a "min" rule)
    log_scale: bool = False  # the metric is a text length measured from the text: draw it on a log axis
    just_dropped: list[Example] = field(default_factory=list)
    just_kept: list[Example] = field(default_factory=list)
    dropped_values: np.ndarray = field(default_factory=lambda: np.array([]))
    kept_values: np.ndarray = field(default_factory=lambda: np.array([]))


@dataclass
class ReportData:
    """Everything the report draws, small enough to keep in memory for any corpus size."""

    kind: str
    title: str
    record: dict
    funnel: list[tuple[str, int]]
    quarantined: int
    drops_by_reason: dict[str, int]
    drops_by_op: dict[str, int]
    per_source: dict[str, dict[str, int]]
    lang: Counter
    script: Counter
    length_hist: dict[str, np.ndarray]
    scores: dict[str, dict[str, np.ndarray]]
    cluster_sizes: Counter
    op_seconds: list[tuple[str, float]]
    boundaries: list[Boundary]
    quarantine_examples: list[dict]
    annotations: dict | None


def _read_part(path: Path, columns: list[str]) -> pa.Table:
    have = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in columns if c in have])


def _lengths(table: pa.Table) -> np.ndarray:
    return pc.utf8_length(pc.fill_null(table.column("text"), "")).to_numpy(zero_copy_only=False).astype(np.int64)


def _hist(lengths: np.ndarray) -> np.ndarray:
    return np.histogram(np.clip(lengths, 1, LENGTH_BINS[-1] - 1), bins=LENGTH_BINS)[0]


def _stride_sample(values: np.ndarray, budget: int) -> np.ndarray:
    """Every k-th value, so a part contributes at most `budget` values (deterministic, order-spread)."""
    if len(values) <= budget:
        return values
    return values[:: math.ceil(len(values) / budget)]


def _score_columns(files: list[Path]) -> list[str]:
    cols: set[str] = set()
    for f in files:
        cols.update(n for n in pq.read_schema(f).names if n.startswith("score_"))
    return sorted(cols)


def _counter_of(table: pa.Table, column: str) -> Counter:
    out: Counter = Counter()
    if column in table.column_names:
        for item in pc.value_counts(table.column(column)).to_pylist():
            out[str(item["values"]) if item["values"] is not None else "(none)"] += item["counts"]
    return out


def _funnel_from_run(record: dict) -> list[tuple[str, int]]:
    totals = record.get("totals", {})
    read = int(totals.get("read", 0))
    steps = [("read", read), ("parsed", read - int(totals.get("quarantined", 0)))]
    for op in record.get("ops", []):
        if op.get("dropped"):
            steps.append((f"after {op['op']}", int(op["rows_out"])))
    steps.append(("kept", int(totals.get("kept", 0))))
    return steps


def _excerpt(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + " …"


def _rule_values(table: pa.Table, rule: Rule) -> np.ndarray:
    """The values `rule` compares on the rows of `table`, as floats (NaN where null)."""
    return pc.cast(rule.values(table.column(rule.column)), pa.float64()).to_numpy(zero_copy_only=False)


def _pick(table: pa.Table, values: np.ndarray, k: int, largest: bool) -> list[Example]:
    ok = ~np.isnan(values)
    idx = np.nonzero(ok)[0]
    if len(idx) == 0:
        return []
    order = idx[np.argsort(values[idx], kind="stable")]
    chosen = order[::-1][:k] if largest else order[:k]
    picked = table.select(["id", "text"]).take(pa.array(chosen, pa.int64()))  # only k rows leave Arrow
    ids, texts = picked.column("id").to_pylist(), picked.column("text").to_pylist()
    return [Example(i, _excerpt(t), float(values[c])) for i, t, c in zip(ids, texts, chosen)]


def _merge_examples(current: list[Example], new: list[Example], largest: bool) -> list[Example]:
    both = sorted(current + new, key=lambda e: (e.metric if e.metric is not None else 0.0, e.id), reverse=largest)
    return both[:EXAMPLES_PER_SIDE]


def _rows_of(t: pa.Table, op_id: str, reason: str) -> pa.Table:
    if DROPPED_BY not in t.column_names or DROP_REASON not in t.column_names:
        return t.slice(0, 0)
    return t.filter(pc.and_(pc.equal(t.column(DROPPED_BY), op_id), pc.equal(t.column(DROP_REASON), reason)))


def _columns(files: list[Path]) -> set[str]:
    cols: set[str] = set()
    for f in files:
        cols.update(pq.read_schema(f).names)
    return cols


def _first_dropped(tables: list[pa.Table], rule: Rule | None) -> list[Example]:
    """The first dropped rows, noted with the duplicate they copy or the value the (non-numeric) rule read."""
    out: list[Example] = []
    for t in tables:
        take = t.slice(0, EXAMPLES_PER_SIDE - len(out))
        dup = take.column(DUPLICATE_OF).to_pylist() if DUPLICATE_OF in take.column_names else [None] * take.num_rows
        read = take.column(rule.column).to_pylist() if rule and rule.column in take.column_names else [None] * take.num_rows
        out += [Example(i, _excerpt(x), None, f"duplicate of {d}" if d else f"{rule.column} = {v}" if rule and v is not None else "")
                for i, x, d, v in zip(take.column("id").to_pylist(), take.column("text").to_pylist(), dup, read)]
        if len(out) >= EXAMPLES_PER_SIDE:
            break
    return out


def _boundaries(layout: Layout, drops: dict[tuple[str, str], int]) -> list[Boundary]:
    """For every (op, reason) that dropped rows: the dropped rows nearest the kept side and the kept rows nearest
    the dropped side on the value the filter's declared min/max rule compares, and that value on both sides;
    other rules and ops show their first dropped rows, and dedup each duplicate beside its kept original."""
    params = {op["op"]: op.get("params", {}) for op in layout.record.get("ops", [])}
    rules = {key: declared_rule(*key) for key in drops}
    present = _columns(layout.kept + layout.dropped)
    # Every (op, reason) looks at the same parts: read each once (text and the rules' columns), not once per reason.
    base = ["id", "text", DROPPED_BY, DROP_REASON, DUPLICATE_OF]
    every = list(dict.fromkeys([*base, *sorted({r.column for r in rules.values() if r} & present)]))
    tables: dict[Path, pa.Table] = {}

    def read_cached(path: Path, columns: list[str]) -> pa.Table:
        if path not in tables:
            tables[path] = _read_part(path, every)
        t = tables[path]
        return t.select([c for c in dict.fromkeys(columns) if c in t.column_names])

    out: list[Boundary] = []
    for (op_id, reason), n in sorted(drops.items(), key=lambda kv: -kv[1]):
        rule = rules[(op_id, reason)]
        op_params = params.get(op_id, {})
        threshold = (rule.param, op_params[rule.param]) if rule and rule.param in op_params else None
        numeric = rule is not None and rule.comparison in NUMERIC_COMPARISONS
        b = Boundary(op_id, reason, n, rule.metric if numeric else None, threshold,
                     dropped_low=not rule or rule.comparison != "max", log_scale=bool(rule and rule.measure))
        cols = [*base, *([rule.column] if rule else [])]
        dropped_tables = [t for f in layout.dropped if (t := _rows_of(read_cached(f, cols), op_id, reason)).num_rows]
        if numeric and dropped_tables and all(rule.column in t.column_names for t in dropped_tables):
            vals = [_rule_values(t, rule) for t in dropped_tables]
            b.dropped_values = _stride_sample(np.concatenate(vals), SCORE_SAMPLE)
            kept_tables = [t for f in layout.kept if rule.column in (t := read_cached(f, ["id", "text", rule.column])).column_names]
            kept_vals = [_rule_values(t, rule) for t in kept_tables]
            b.kept_values = np.concatenate([_stride_sample(v, SCORE_SAMPLE) for v in kept_vals]) if kept_vals else np.array([])
            for t, v in zip(dropped_tables, vals):
                b.just_dropped = _merge_examples(b.just_dropped, _pick(t, v, EXAMPLES_PER_SIDE, b.dropped_low), b.dropped_low)
            for t, v in zip(kept_tables, kept_vals):
                b.just_kept = _merge_examples(b.just_kept, _pick(t, v, EXAMPLES_PER_SIDE, not b.dropped_low), not b.dropped_low)
        else:
            b.metric = None
            b.just_dropped = _first_dropped(dropped_tables, rule)
        originals = {e.note.removeprefix("duplicate of ") for e in b.just_dropped if e.note.startswith("duplicate of ")}
        if originals:
            b.just_kept = _lookup(layout.kept, originals, read_cached)
        out.append(b)
    return out


def _lookup(files: list[Path], ids: set[str], read: Callable[[Path, list[str]], pa.Table]) -> list[Example]:
    found: list[Example] = []
    wanted = pa.array(sorted(ids), pa.string())
    for f in files:
        t = read(f, ["id", "text"])
        t = t.filter(pc.is_in(t.column("id"), value_set=wanted))
        found += [Example(i, _excerpt(x), None, "kept original") for i, x in zip(t.column("id").to_pylist(), t.column("text").to_pylist())]
    return sorted(found, key=lambda e: e.id)


def find_annotations(layout: Layout) -> Path | None:
    """Look for a hand-made annotations table (item, annotator, label) next to the run/release."""
    root = layout.root
    for c in (root / "annotations.parquet", root / "annotations"):
        if c.is_file() or (c.is_dir() and any(c.glob("*.parquet"))):
            return c
    return None


def _workspace_of(layout: Layout) -> Path:
    """Return the workspace a run (<ws>/runs/<id>) or a release (<ws>/releases/<dataset>/v<N>) lives in."""
    return layout.root.parents[1] if layout.kind == "run" else layout.root.parents[2]


def _annotated_runs(layout: Layout, workspace: Path) -> tuple[set[str], set[int]]:
    """Return (run ids whose pushes count for this run/release, project ids its labels came from)."""
    record = layout.record
    run_id = record.get("run_id") if layout.kind == "run" else (record.get("run") or {}).get("run_id")
    runs = {str(run_id)} if run_id else set()
    if layout.kind == "release" and run_id and (workspace / "runs" / str(run_id) / "run.json").is_file():
        record = json.loads((workspace / "runs" / str(run_id) / "run.json").read_text(encoding="utf-8"))
    parent = (record.get("derived_from") or {}).get("run_id")  # a run made by 'yuliao annotate apply'
    runs |= {str(parent)} if parent else set()
    sources = (record.get("annotation") or {}).get("label_sources") or []
    return runs, {int(s["project_id"]) for s in sources if isinstance(s, dict) and s.get("project_id") is not None}


def find_collected_projects(layout: Layout) -> list[Path]:
    """Return the collect output directories (<workspace>/annotation/project-<id>) of projects pushed from this run."""
    workspace = _workspace_of(layout)
    runs, projects = _annotated_runs(layout, workspace)
    found = []
    for d in project_dirs(workspace):
        pushed_from = {json.loads(p.read_text(encoding="utf-8")).get("run_id") for p in sorted((d / PUSHES_DIR).glob("*.json"))}
        if (pushed_from & runs or d.name in {f"{PROJECT_PREFIX}{p}" for p in projects}) and (d / ANNOTATIONS_FILE).is_file():
            found.append(d)
    return found


def collected_project_summary(d: Path) -> dict:
    """Labels, agreement (kappa/alpha), gold accuracy and progress of one project from collect's files."""
    from quality.aggregate import control_labels, is_label_value_column

    report = json.loads((d / AGREEMENT_FILE).read_text(encoding="utf-8")) if (d / AGREEMENT_FILE).is_file() else {}
    ann = pq.read_table(d / ANNOTATIONS_FILE, columns=["record_id", "annotator", "result", "was_cancelled"])
    done = ann.filter(pc.invert(pc.fill_null(ann.column("was_cancelled"), False)))
    per_item = Counter(done.column("record_id").to_pylist())
    judged = pa.table({"item": pc.cast(done.column("record_id"), pa.string()), "annotator": done.column("annotator"),
                       "result": done.column("result")})
    control = report.get("control")
    given = _counter_of(control_labels(judged, control), "label") if control else Counter()
    aggregated: dict[str, Counter] = {}
    if (d / LABELS_FILE).is_file():
        labels = pq.read_table(d / LABELS_FILE)
        for col in labels.column_names:
            if is_label_value_column(col) and pa.types.is_string(labels.schema.field(col).type):
                aggregated[col] = _counter_of(labels.filter(pc.is_valid(labels.column(col))), col)
    return {"path": str(d), "project_id": d.name[len(PROJECT_PREFIX):], "config": report.get("config"), "control": control,
            "method": report.get("method"), "collected_at": report.get("collected_at"), "judgements": done.num_rows,
            "skipped": ann.num_rows - done.num_rows, "items": len(per_item), "judgements_per_item": Counter(per_item.values()),
            "labels": given, "aggregated": aggregated, "agreement": report.get("summary") or {},
            "annotators": report.get("annotators") or [], "gold_accuracy": report.get("gold_accuracy"),
            "gold_majority_vote_accuracy": report.get("gold_majority_vote_accuracy"),
            "gold_items_answered": report.get("gold_items_answered"), "flagged": report.get("flagged_for_adjudication"),
            "min_confidence": report.get("min_confidence"), "controls": report.get("controls") or {}}


def _collected_dirs(path: Path) -> list[Path] | None:
    """Return the collect project dirs `path` names (a project dir, its annotations.parquet, or annotation/), else None."""
    if path.is_file() and path.name == ANNOTATIONS_FILE and (path.parent / AGREEMENT_FILE).is_file():
        return [path.parent]
    if path.is_dir() and (path / ANNOTATIONS_FILE).is_file() and (path / AGREEMENT_FILE).is_file():
        return [path]
    if path.is_dir() and path.name == ANNOTATION_DIR:
        return [d for d in project_dirs(path.parent) if (d / ANNOTATIONS_FILE).is_file()] or None
    return None


def annotation_summary(path: Path) -> dict:
    """Progress and agreement over collect's output for `path`, or over a plain table (columns item|record_id, annotator, label)."""
    from quality.agreement import summarize_agreement

    collected = _collected_dirs(path)
    if collected:
        return collected_summary(collected)

    files = [path] if path.is_file() else sorted(path.glob("*.parquet"))
    t = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    if "item" not in t.column_names:
        for alt in ("record_id", "task_id", "id"):
            if alt in t.column_names:
                t = t.append_column("item", pc.cast(t.column(alt), pa.string()))
                break
    labels = t.select([c for c in ("item", "annotator", "label") if c in t.column_names])
    per_item = Counter(labels.column("item").to_pylist()) if "item" in labels.column_names else Counter()
    summary: dict = {"path": str(path), "judgements": labels.num_rows, "items": len(per_item),
                     "judgements_per_item": Counter(per_item.values()),
                     "labels": _counter_of(labels, "label") if "label" in labels.column_names else Counter()}
    if {"item", "annotator", "label"} <= set(labels.column_names) and labels.num_rows:
        try:
            summary["agreement"] = summarize_agreement(pc_cast_strings(labels)).as_dict()
        except ValueError as exc:  # too few overlapping judgements for a statistic
            summary["agreement_error"] = str(exc)
    return summary


def collected_summary(dirs: list[Path]) -> dict:
    """Summaries of collected projects, with the judgement and item totals the report leads with."""
    projects = [collected_project_summary(d) for d in dirs]
    return {"path": str(dirs[0].parent if len(dirs) > 1 else dirs[0]), "projects": projects,
            "judgements": sum(p["judgements"] for p in projects), "items": sum(p["items"] for p in projects),
            "judgements_per_item": sum((p["judgements_per_item"] for p in projects), Counter()),
            "labels": sum((p["labels"] for p in projects), Counter())}


def pc_cast_strings(t: pa.Table) -> pa.Table:
    """Cast every column to string (agreement works on string labels)."""
    return pa.table({n: pc.cast(t.column(n), pa.string()) for n in t.column_names})


def collect_report_data(path: Path, annotations: Path | None = None) -> ReportData:
    """Stream a run's or release's files into the aggregates the report draws."""
    layout = find_layout(path)
    rec = layout.record
    score_cols = _score_columns(layout.kept + layout.dropped)
    lang: Counter = Counter()
    script: Counter = Counter()
    hist = {"kept": np.zeros(len(LENGTH_BINS) - 1, np.int64), "dropped": np.zeros(len(LENGTH_BINS) - 1, np.int64)}
    scores: dict[str, dict[str, list[np.ndarray]]] = {c: {"kept": [], "dropped": []} for c in score_cols}
    per_source: dict[str, Counter] = {}
    for side, files in (("kept", layout.kept), ("dropped", layout.dropped)):
        for f in files:
            t = _read_part(f, ["text", "lang", "script", "source", *score_cols])
            hist[side] += _hist(_lengths(t))
            for src, n in _counter_of(t, "source").items():
                per_source.setdefault(src, Counter())[side] += n
            if side == "kept":
                lang.update(_counter_of(t, "lang"))
                script.update(_counter_of(t, "script"))
            for c in score_cols:
                if c in t.column_names:
                    v = pc.cast(t.column(c), pa.float64()).to_numpy(zero_copy_only=False)
                    scores[c][side].append(_stride_sample(v[~np.isnan(v)], SCORE_SAMPLE))
    drops_by_reason: Counter = Counter()
    drops_by_op: Counter = Counter()
    reasons_by_op: dict[str, Counter] = {}
    cluster_members: Counter = Counter()
    for f in layout.dropped:
        t = _read_part(f, [DROP_REASON, DROPPED_BY, DUPLICATE_OF])
        drops_by_reason.update(_counter_of(t, DROP_REASON))
        drops_by_op.update(_counter_of(t, DROPPED_BY))
        if DROPPED_BY in t.column_names and DROP_REASON in t.column_names:
            for item in pc.value_counts(pc.binary_join_element_wise(
                    pc.fill_null(t.column(DROPPED_BY), "?"), pc.fill_null(t.column(DROP_REASON), "?"), "\x00")).to_pylist():
                op, reason = item["values"].split("\x00")
                reasons_by_op.setdefault(op, Counter())[reason] += item["counts"]
        if DUPLICATE_OF in t.column_names:
            dups = t.column(DUPLICATE_OF).drop_null()
            for item in pc.value_counts(dups).to_pylist():
                cluster_members[item["values"]] += item["counts"]
    cluster_sizes = Counter(n + 1 for n in cluster_members.values())  # the kept original plus its duplicates
    quarantined, q_examples = 0, []
    for f in layout.quarantine:
        t = _read_part(f, ["source", "source_uri", "error", "detail"])
        quarantined += t.num_rows
        for src, n in _counter_of(t, "source").items():
            per_source.setdefault(src, Counter())["quarantined"] += n
        if len(q_examples) < 10:
            q_examples += t.slice(0, 10 - len(q_examples)).to_pylist()
    if layout.kind == "run":
        funnel = _funnel_from_run(rec)
        title = f"yuliao run {rec.get('run_id', layout.root.name)} — {rec.get('recipe', {}).get('name', '')}"
        op_seconds = [(op["op"], float(op.get("seconds", 0.0))) for op in rec.get("ops", [])]
    else:
        kept = sum(hist["kept"])
        read = kept + sum(hist["dropped"]) + quarantined
        funnel = [("read", int(read)), ("parsed", int(read - quarantined)), ("released", int(kept))]
        title = f"yuliao release {rec.get('dataset', rec.get('name', ''))} v{rec.get('version', '?')}"
        op_seconds = []
    ann_path = annotations or find_annotations(layout)
    ann_dirs = find_collected_projects(layout) if ann_path is None else []
    return ReportData(
        kind=layout.kind, title=title, record=rec, funnel=funnel, quarantined=quarantined,
        drops_by_reason=dict(drops_by_reason.most_common()), drops_by_op=dict(drops_by_op),
        per_source={k: dict(v) for k, v in sorted(per_source.items())}, lang=lang, script=script,
        length_hist=hist,
        scores={c: {s: (np.concatenate(v) if v else np.array([])) for s, v in d.items()} for c, d in scores.items()},
        cluster_sizes=cluster_sizes, op_seconds=op_seconds,
        boundaries=_boundaries(layout, {(op, r): n for op, c in reasons_by_op.items() for r, n in c.items()}),
        quarantine_examples=q_examples,
        annotations=annotation_summary(ann_path) if ann_path else collected_summary(ann_dirs) if ann_dirs else None,
    )



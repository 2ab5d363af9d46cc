"""Label aggregation: many judgements per record -> one label and a confidence, as ``label_*`` columns.

Takes the same long *labels* table as ``quality.agreement`` (``item``, ``annotator``, ``label``).
Majority vote and Dawid-Skene are crowd-kit's algorithms written in numpy: importing crowd-kit
(scipy.stats, scikit-learn, attrs, pandas frames) cost ~2 CPU s of every `yuliao annotate collect`;
tests/quality/test_aggregate.py checks these against crowd-kit's (the reference, a test dependency)
on published crowd data and random tables. This module also reads Label Studio result JSON into
plain labels, and joins the aggregated labels onto a document table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quality.agreement import labels_frame

Method = Literal["majority_vote", "dawid_skene"]
METHODS: tuple[str, ...] = ("majority_vote", "dawid_skene")
AGGREGATE_SCHEMA = pa.schema(
    [("item", pa.string()), ("label", pa.string()), ("confidence", pa.float64()), ("n_judgements", pa.int64())]
)


_EPS = 1e-10  # the floor crowd-kit's Dawid-Skene puts under probabilities and confusion entries


@dataclass(frozen=True)
class _Coded:
    """Judgements as integer codes: items and labels sorted as strings, one judgement per (item, annotator)."""

    items: np.ndarray  # item names, sorted
    labels: list[str]  # label values, sorted (ties between labels resolve to the first)
    item: np.ndarray  # per judgement: index into items
    annotator: np.ndarray  # per judgement: annotator index
    label: np.ndarray  # per judgement: index into labels
    n_annotators: int


def _code_judgements(labels: pa.Table) -> _Coded:
    """Return the judgements of a labels table as codes (nulls out, an annotator's repeated answer counts once, the last)."""
    df = labels_frame(labels)
    items, item = np.unique(df["item"].to_numpy(dtype=object).astype(str), return_inverse=True)
    values, label = np.unique(df["label"].to_numpy(dtype=object).astype(str), return_inverse=True)
    _, annotator = np.unique(df["annotator"].to_numpy(dtype=object).astype(str), return_inverse=True)
    return _Coded(items, [str(v) for v in values], item, annotator, label, int(annotator.max(initial=-1)) + 1)


def _per_item(coded: _Coded, weights: np.ndarray) -> np.ndarray:
    """Sum per-judgement rows (judgements x labels) into items x labels."""
    out = np.empty((len(coded.items), weights.shape[1]))
    for k in range(weights.shape[1]):  # a few labels: one bincount each is far faster than np.add.at
        out[:, k] = np.bincount(coded.item, weights=weights[:, k], minlength=len(coded.items))
    return out


def _vote_shares(coded: _Coded) -> np.ndarray:
    """Return items x labels: the share of each item's judgements that chose each label."""
    counts = _per_item(coded, np.eye(len(coded.labels))[coded.label])
    return counts / counts.sum(axis=1, keepdims=True)


def _confusions(coded: _Coded, probas: np.ndarray) -> np.ndarray:
    """M-step: annotators x given label x true label, P(annotator gives label | true label), floored at _EPS where seen."""
    k = len(coded.labels)
    cell = coded.annotator * k + coded.label
    errors = np.zeros((coded.n_annotators * k, k))
    for c in range(k):
        errors[:, c] = np.bincount(cell, weights=probas[coded.item, c], minlength=coded.n_annotators * k)
    seen = np.bincount(cell, minlength=coded.n_annotators * k) > 0
    errors[seen] = np.maximum(errors[seen], _EPS)  # pairs never given stay 0: crowd-kit has no row for them
    errors = errors.reshape(coded.n_annotators, k, k)
    return errors / errors.sum(axis=1, keepdims=True)


def _posteriors(coded: _Coded, priors: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """E-step: items x labels posterior of the true label given every judgement of the item."""
    with np.errstate(divide="ignore"):
        log_likelihood = np.log2(np.maximum(priors, _EPS)) + _per_item(coded, np.log2(errors[coded.annotator, coded.label]))
    scaled = np.exp2(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
    return scaled / scaled.sum(axis=1, keepdims=True)


def _evidence_lower_bound(coded: _Coded, probas: np.ndarray, priors: np.ndarray, errors: np.ndarray) -> float:
    """Return crowd-kit's evidence lower bound (the convergence measure), summed over judgements."""
    log_terms = np.log(errors[coded.annotator, coded.label]) + np.log(np.maximum(priors, _EPS))
    joint = float(np.sum(probas[coded.item] * log_terms))
    clipped = np.maximum(probas, _EPS)
    return joint - float(np.sum(np.log(clipped) * clipped))


def _from_proba(coded: _Coded, proba: np.ndarray) -> pa.Table:
    """Turn an items x labels probability array into item, label, confidence, n_judgements (ties: first label)."""
    best = proba.argmax(axis=1)
    return pa.table({
        "item": pa.array(coded.items.tolist(), pa.string()),
        "label": pa.array([coded.labels[i] for i in best], pa.string()),
        "confidence": pa.array(proba[np.arange(len(best)), best].astype(float), pa.float64()),
        "n_judgements": pa.array(np.bincount(coded.item, minlength=len(coded.items)).astype(np.int64), pa.int64()),
    }, schema=AGGREGATE_SCHEMA)


def majority_vote(labels: pa.Table) -> pa.Table:
    """Return one label per item by majority vote; confidence is the winning share (ties: smallest label)."""
    coded = _code_judgements(labels)
    if not len(coded.items):
        return AGGREGATE_SCHEMA.empty_table()
    return _from_proba(coded, _vote_shares(coded))


def dawid_skene_posteriors(coded: _Coded, n_iter: int = 100, tol: float = 1e-5) -> np.ndarray:
    """Return items x labels Dawid-Skene posteriors by EM from majority-vote shares (crowd-kit's algorithm and stopping rule)."""
    probas = _vote_shares(coded)
    priors = probas.mean(axis=0)
    errors = _confusions(coded, probas)
    loss = -np.inf
    for _ in range(n_iter):
        probas = _posteriors(coded, priors, errors)
        priors = probas.mean(axis=0)
        errors = _confusions(coded, probas)
        new_loss = _evidence_lower_bound(coded, probas, priors, errors) / len(coded.item)
        probas = np.maximum(probas, _EPS)
        if new_loss - loss < tol:
            break
        loss = new_loss
    return probas


def dawid_skene(labels: pa.Table, n_iter: int = 100, tol: float = 1e-5) -> pa.Table:
    """Return one label per item by Dawid-Skene EM; confidence is the posterior of that label."""
    coded = _code_judgements(labels)
    if not len(coded.items):
        return AGGREGATE_SCHEMA.empty_table()
    return _from_proba(coded, dawid_skene_posteriors(coded, n_iter, tol))


def aggregate_labels(labels: pa.Table, method: Method = "dawid_skene") -> pa.Table:
    """Return one label + confidence per item with the named method."""
    if method == "majority_vote":
        return majority_vote(labels)
    if method == "dawid_skene":
        return dawid_skene(labels)
    raise ValueError(f"unknown aggregation method {method!r}; known: {list(METHODS)}")


def label_columns(aggregated: pa.Table, name: str, method: Method) -> pa.Table:
    """Return ``id`` plus ``label_<name>``, ``label_<name>_confidence``, ``_n``, ``_method`` from an aggregate table."""
    n = aggregated.num_rows
    return pa.table(
        {
            "id": aggregated.column("item"),
            f"label_{name}": aggregated.column("label"),
            f"label_{name}_confidence": aggregated.column("confidence"),
            f"label_{name}_n": aggregated.column("n_judgements"),
            f"label_{name}_method": pa.array([method] * n, pa.string()),
        }
    )


def attach_labels(docs: pa.Table, labels_by_id: pa.Table) -> pa.Table:
    """Return `docs` with the ``label_*`` columns of `labels_by_id` joined on ``id`` (null where unlabelled), row order kept."""
    label_cols = [c for c in labels_by_id.column_names if c.startswith("label_")]
    docs = docs.drop_columns([c for c in label_cols if c in docs.column_names])
    index = pc.index_in(docs.column("id"), value_set=labels_by_id.column("id"))
    for col in label_cols:
        docs = docs.append_column(col, pc.take(labels_by_id.column(col), index))
    return docs


def label_from_result(result: list[dict] | str | None, from_name: str) -> str | None:
    """Return the task-level answer of control `from_name` in a Label Studio result (choices, rating, number, text)."""
    if result is None:
        return None
    if isinstance(result, str):
        result = json.loads(result)
    for region in result:
        if region.get("from_name") != from_name:
            continue
        value = region.get("value", {})
        if "choices" in value:
            # Multi-choice answers become one canonical label so that agreement compares sets.
            return "|".join(sorted(str(c) for c in value["choices"]))
        if "rating" in value:
            return str(int(value["rating"]))
        if "number" in value:
            return str(value["number"])
        if "text" in value:
            texts = value["text"]
            return " ".join(texts) if isinstance(texts, list) else str(texts)
    return None


def spans_from_result(result: list[dict] | str | None, from_name: str) -> list[dict]:
    """Return the span regions (start, end, label, text) of labels control `from_name` in a Label Studio result."""
    if result is None:
        return []
    if isinstance(result, str):
        result = json.loads(result)
    spans = []
    for region in result:
        value = region.get("value", {})
        if region.get("from_name") == from_name and "start" in value and "labels" in value:
            for label in value["labels"]:
                spans.append({"start": int(value["start"]), "end": int(value["end"]), "label": str(label), "text": value.get("text")})
    return sorted(spans, key=lambda s: (s["start"], s["end"], s["label"]))


# --- every control of a labeling config ------------------------------------------------------

ControlKind = Literal["rating", "single", "multi", "spans", "other"]
PRESENT, ABSENT = "1", "0"  # a multi-choice option ticked / not ticked by an annotator who submitted


@dataclass(frozen=True)
class Control:
    """One question of a Label Studio config: its name, what kind of answer it takes, and its options."""

    name: str
    kind: ControlKind
    options: tuple[str, ...] = ()  # the values stored in results: a choice's alias if it has one, else its value
    required: bool = False


def controls_from_config(xml: str) -> list[Control]:
    """Return the answerable controls of a Label Studio config XML, in document order."""
    import xml.etree.ElementTree as ET

    controls = []
    for el in ET.fromstring(xml).iter():
        required = el.get("required", "false").lower() == "true"
        if el.tag == "Rating":
            n = int(el.get("maxRating", "5"))
            controls.append(Control(el.get("name", ""), "rating", tuple(str(i) for i in range(1, n + 1)), required))
        elif el.tag == "Choices":
            options = tuple(c.get("alias") or c.get("value", "") for c in el.iter("Choice"))
            kind: ControlKind = "multi" if el.get("choice", "single") == "multiple" else "single"
            controls.append(Control(el.get("name", ""), kind, options, required))
        elif el.tag == "Labels":
            options = tuple(c.get("alias") or c.get("value", "") for c in el.iter("Label"))
            controls.append(Control(el.get("name", ""), "spans", options, required))
    return controls


def _judgement_rows(judgements: pa.Table) -> list[dict]:
    """Return the (item, annotator, result) rows of submitted judgements, results parsed."""
    rows = judgements.select(["item", "annotator", "result"]).to_pylist()
    return [{**r, "result": json.loads(r["result"]) if isinstance(r["result"], str) else (r["result"] or [])} for r in rows]


def control_labels(judgements: pa.Table, control: str) -> pa.Table:
    """Return the long (item, annotator, label) table of one single-answer control; judgements without it are left out."""
    rows = _judgement_rows(judgements)
    labels = [label_from_result(r["result"], control) for r in rows]
    keep = [i for i, label in enumerate(labels) if label is not None]
    return pa.table({"item": pa.array([rows[i]["item"] for i in keep], pa.string()),
                     "annotator": pa.array([rows[i]["annotator"] for i in keep], pa.string()),
                     "label": pa.array([labels[i] for i in keep], pa.string())})


def option_presence_labels(judgements: pa.Table, control: Control) -> dict[str, pa.Table]:
    """Return, per option of a multi-choice control, (item, annotator, "1"/"0"): did each submitted judgement tick it.

    A submitted judgement that leaves an optional multi-choice question empty says "none of these",
    so it counts as "0" for every option.
    """
    rows = _judgement_rows(judgements)
    ticked = [set(filter(None, (label_from_result(r["result"], control.name) or "").split("|"))) for r in rows]
    options = list(control.options) + sorted(set().union(*ticked) - set(control.options)) if rows else list(control.options)
    items = pa.array([r["item"] for r in rows], pa.string())
    annotators = pa.array([r["annotator"] for r in rows], pa.string())
    return {o: pa.table({"item": items, "annotator": annotators,
                         "label": pa.array([PRESENT if o in t else ABSENT for t in ticked], pa.string())}) for o in options}


def presence_probability(labels: pa.Table, method: Method = "dawid_skene") -> pa.Table:
    """Return (item, p_present, n_judgements): the aggregated probability that an option applies to each item."""
    if not pc.any(pc.equal(labels.column("label"), PRESENT)).as_py():
        # Nobody ticked it: probability 0 everywhere, no model to fit (most options of most projects).
        counts = labels_frame(labels).groupby("item").size().sort_index()
        return pa.table({"item": pa.array(counts.index.astype(str), pa.string()), "p_present": pa.array([0.0] * len(counts), pa.float64()),
                         "n_judgements": pa.array(counts.to_numpy(), pa.int64())})
    agg = aggregate_labels(labels, method)
    if agg.num_rows == 0:
        return pa.table({"item": pa.array([], pa.string()), "p_present": pa.array([], pa.float64()), "n_judgements": pa.array([], pa.int64())})
    conf = agg.column("confidence").to_numpy()
    present = pc.equal(agg.column("label"), PRESENT).to_numpy(zero_copy_only=False)
    # The winning label's posterior is P(its class); for the binary option P(present) is that or its complement.
    return pa.table({"item": agg.column("item"), "p_present": pa.array(np.where(present, conf, 1.0 - conf), pa.float64()),
                     "n_judgements": agg.column("n_judgements")})


def aggregate_multi_choice(per_option: dict[str, pa.Table], method: Method = "dawid_skene") -> pa.Table:
    """Return (item, label, confidence, n_judgements, proba_<option>...) for a multi-choice control, one binary model per option.

    ``label`` joins (``|``, sorted) the options whose probability is at least 0.5 ("" for none);
    ``confidence`` is the probability that the whole set is right (product over options of
    max(p, 1 - p), options treated as independent); ``proba_<option>`` is each option's probability.
    """
    probs: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for option, labels in per_option.items():
        for r in presence_probability(labels, method).to_pylist():
            probs.setdefault(r["item"], {})[option] = float(r["p_present"])
            counts[r["item"]] = max(counts.get(r["item"], 0), int(r["n_judgements"]))
    items = sorted(probs)
    chosen = ["|".join(sorted(o for o, p in probs[i].items() if p >= 0.5)) for i in items]
    confidence = [float(np.prod([max(p, 1.0 - p) for p in probs[i].values()])) for i in items]
    out = pa.table({
        "item": pa.array(items, pa.string()), "label": pa.array(chosen, pa.string()),
        "confidence": pa.array(confidence, pa.float64()), "n_judgements": pa.array([counts[i] for i in items], pa.int64()),
    })
    for option in per_option:  # plain float columns: every Parquet reader and the release card handle them
        out = out.append_column(f"proba_{option}", pa.array([probs[i].get(option) for i in items], pa.float64()))
    return out


def span_label(spans: list[tuple[int, int, str]]) -> str:
    """Return spans as one label, ``TYPE@start-end`` joined by ``|`` in offset order (no span text)."""
    return "|".join(f"{label}@{start}-{end}" for start, end, label in sorted(spans))


def aggregate_spans(judgements: pa.Table, control: str, min_share: float = 0.5) -> pa.Table:
    """Return (item, label, confidence, n_judgements): spans marked by more than `min_share` of an item's judgements.

    Spans match exactly (start, end, label); ``label`` lists the kept ones as ``TYPE@start-end``
    joined by ``|`` ("" for none; offsets in the units the results use, no span text);
    ``confidence`` is the mean share of judgements behind each kept span and behind each dropped
    one's absence (1.0 when everyone agrees).
    """
    per_item: dict[str, list[set]] = {}
    for r in _judgement_rows(judgements):
        found = {(s["start"], s["end"], s["label"]) for s in spans_from_result(r["result"], control)}
        per_item.setdefault(r["item"], []).append(found)
    items, spans, confidence, counts = [], [], [], []
    for item in sorted(per_item):
        sets = per_item[item]
        support = {s: sum(s in found for found in sets) / len(sets) for s in set().union(*sets)}
        kept = sorted(s for s, share in support.items() if share > min_share)
        items.append(item)
        spans.append(span_label(kept))
        confidence.append(float(np.mean([max(v, 1.0 - v) for v in support.values()])) if support else 1.0)
        counts.append(len(sets))
    return pa.table({"item": pa.array(items, pa.string()), "label": pa.array(spans, pa.string()),
                     "confidence": pa.array(confidence, pa.float64()), "n_judgements": pa.array(counts, pa.int64())})


def control_label_columns(aggregated: pa.Table, name: str, method: Method) -> pa.Table:
    """Return ``id`` + ``label_<name>`` columns for any control's aggregate (plus ``_proba_<option>`` for multi-choice)."""
    out = pa.table({
        "id": aggregated.column("item"), f"label_{name}": aggregated.column("label"),
        f"label_{name}_confidence": aggregated.column("confidence"), f"label_{name}_n": aggregated.column("n_judgements"),
        f"label_{name}_method": pa.array([method] * aggregated.num_rows, pa.string()),
    })
    for col in aggregated.column_names:
        if col.startswith("proba_"):
            out = out.append_column(f"label_{name}_{col}", aggregated.column(col))
    return out


LABEL_DETAIL_SUFFIXES = ("_confidence", "_n", "_method")


def is_label_value_column(name: str) -> bool:
    """Tell a ``label_<name>`` value column from its ``_confidence``/``_n``/``_method``/``_proba_<option>`` companions."""
    return name.startswith("label_") and not name.endswith(LABEL_DETAIL_SUFFIXES) and "_proba_" not in name


def outer_join_on_id(tables: list[pa.Table]) -> pa.Table:
    """Return one row per ``id`` of any table with every table's other columns (null where absent), ids sorted.

    Works for list and map columns, which Arrow's hash join does not carry.
    """
    ids = pc.unique(pa.chunked_array([c for t in tables for c in t.column("id").cast(pa.string()).chunks], type=pa.string()))
    ids = pc.take(ids, pc.sort_indices(ids))
    out = pa.table({"id": ids})
    for t in tables:
        index = pc.index_in(ids, value_set=t.column("id").cast(pa.string()))
        for name in t.column_names:
            if name != "id":
                out = out.append_column(name, pc.take(t.column(name), index))
    return out


def answers_from_result(result: list[dict] | str | None) -> dict[str, str]:
    """Return every control's answer in a Label Studio result: choices/ratings as labels, spans as TYPE@start-end (no text)."""
    if result is None:
        return {}
    if isinstance(result, str):
        result = json.loads(result)
    answers: dict[str, str] = {}
    for name in dict.fromkeys(r.get("from_name") for r in result if r.get("from_name")):
        spans = spans_from_result(result, name)
        # Span text is left out on purpose: it may be personal data an annotator marked.
        answers[name] = (span_label([(s["start"], s["end"], s["label"]) for s in spans]) if spans
                         else label_from_result(result, name) or "")
    return answers

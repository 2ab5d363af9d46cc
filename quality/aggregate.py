"""Label aggregation: many judgements per record -> one label and a confidence, as ``label_*`` columns.

Takes the same long *labels* table as ``quality.agreement`` (``item``, ``annotator``, ``label``).
Majority vote and Dawid-Skene come from crowd-kit; this module shapes the data, reads Label Studio
result JSON into plain labels, and joins the aggregated labels onto a document table.
"""

from __future__ import annotations

import json
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quality.agreement import labels_frame

Method = Literal["majority_vote", "dawid_skene"]
METHODS: tuple[str, ...] = ("majority_vote", "dawid_skene")
AGGREGATE_SCHEMA = pa.schema(
    [("item", pa.string()), ("label", pa.string()), ("confidence", pa.float64()), ("n_judgements", pa.int64())]
)


def _crowdkit_frame(labels: pa.Table) -> pd.DataFrame:
    """Return the labels in crowd-kit's (task, worker, label) layout."""
    return labels_frame(labels).rename(columns={"item": "task", "annotator": "worker"})


def _from_proba(proba: pd.DataFrame, counts: pd.Series) -> pa.Table:
    """Turn a (task x label) probability frame into item, label, confidence, n_judgements."""
    proba = proba.fillna(0.0)
    # Sort columns so that ties resolve the same way on every run (idxmax takes the first).
    proba = proba[sorted(proba.columns, key=str)]
    out = pd.DataFrame(
        {"item": proba.index.astype(str), "label": proba.idxmax(axis=1).astype(str).to_numpy(),
         "confidence": proba.max(axis=1).astype(float).to_numpy()}
    )
    out["n_judgements"] = counts.reindex(proba.index).fillna(0).astype("int64").to_numpy()
    return pa.Table.from_pandas(out.sort_values("item").reset_index(drop=True), schema=AGGREGATE_SCHEMA, preserve_index=False)


def majority_vote(labels: pa.Table) -> pa.Table:
    """Return one label per item by majority vote; confidence is the winning share (ties: smallest label)."""
    df = _crowdkit_frame(labels)
    if df.empty:
        return AGGREGATE_SCHEMA.empty_table()
    from crowdkit.aggregation import MajorityVote  # lazy: crowdkit pulls scipy.stats etc. (~2.5 s) into every process that discovers ops

    proba = MajorityVote().fit_predict_proba(df)
    return _from_proba(proba, df.groupby("task").size())


def dawid_skene(labels: pa.Table, n_iter: int = 100, tol: float = 1e-5) -> pa.Table:
    """Return one label per item by Dawid-Skene EM; confidence is the posterior of that label."""
    df = _crowdkit_frame(labels)
    if df.empty:
        return AGGREGATE_SCHEMA.empty_table()
    from crowdkit.aggregation import DawidSkene  # lazy, see majority_vote

    proba = DawidSkene(n_iter=n_iter, tol=tol).fit_predict_proba(df)
    return _from_proba(proba, df.groupby("task").size())


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

"""Inter-annotator agreement and annotator quality over a long table of (item, annotator, label).

Label Studio Community has no agreement metrics, gold tasks or reviewer workflow; these pure
functions supply them. Every function takes a *labels* table with columns ``item`` (task or record
id, string), ``annotator`` (string) and ``label`` (string; ordinal scales pass ``order``), one row
per judgement, and returns plain values or Arrow tables. The statistics come from the libraries
made for them where importing them is cheap (the ``krippendorff`` package); Cohen's and Fleiss'
kappa are a few lines here, checked against scikit-learn's and statsmodels' in the tests. This module shapes the data and decides what to flag.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported by the functions that use it: push and status never pay for it
    import pandas as pd

LABEL_COLUMNS = ("item", "annotator", "label")
Level = Literal["nominal", "ordinal"]


def labels_frame(labels: pa.Table) -> pd.DataFrame:
    """Return the labels as a pandas frame of strings, one judgement per (item, annotator), nulls out."""
    import pandas as pd

    missing = [c for c in LABEL_COLUMNS if c not in labels.column_names]
    if missing:
        raise ValueError(f"labels table lacks column(s) {missing}; expected {list(LABEL_COLUMNS)}")
    df = labels.select(list(LABEL_COLUMNS)).to_pandas()
    df = df.dropna(subset=["label"])
    df = df.astype({"item": str, "annotator": str, "label": str})
    # An annotator who answered the same item twice counts once, with the last answer.
    return df.drop_duplicates(subset=["item", "annotator"], keep="last").reset_index(drop=True)


def _codes(values: pd.Series, order: list[str] | None) -> tuple[pd.Series, list[str]]:
    """Map label strings to integer codes; with `order`, codes follow it (ordinal scales)."""
    categories = list(order) if order is not None else sorted(values.unique())
    unknown = set(values.unique()) - set(categories)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not in the declared order {categories}")
    mapping = {c: i for i, c in enumerate(categories)}
    return values.map(mapping).astype(int), categories


def cohen_kappa_codes(a: np.ndarray, b: np.ndarray, n_classes: int, weights: Literal["linear", "quadratic"] | None = None) -> float:
    """Return Cohen's kappa of two raters' integer codes in [0, n_classes); weighted by code distance when asked.

    Cohen (1960), weighted per Cohen (1968): scikit-learn's `cohen_kappa_score` formula, written here
    because importing scikit-learn cost ~1.5 CPU s of every `yuliao annotate collect`;
    tests/quality/test_agreement.py compares the two.
    """
    confusion = np.zeros((n_classes, n_classes))
    np.add.at(confusion, (a, b), 1.0)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    steps = np.subtract.outer(np.arange(n_classes), np.arange(n_classes))
    if weights is None:
        w = (steps != 0).astype(float)
    elif weights == "linear":
        w = np.abs(steps).astype(float)
    else:
        w = (steps ** 2).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(1.0 - np.sum(w * confusion) / np.sum(w * expected))


def cohen_kappa_pairs(labels: pa.Table, min_overlap: int = 2, weights: Literal["linear", "quadratic"] | None = None,
                      order: list[str] | None = None) -> pa.Table:
    """Return Cohen's kappa for every annotator pair sharing at least `min_overlap` items.

    Weighted kappa measures distance in `order` (an ordinal scale's categories) when given, else
    in the sorted labels the pair used.
    """
    df = labels_frame(labels)
    wide = df.pivot(index="item", columns="annotator", values="label")
    wide = wide[sorted(wide.columns)]
    seen = wide.notna().to_numpy(dtype=np.int64)
    overlap = seen.T @ seen  # items shared by each pair, so that disjoint pairs cost nothing
    names = list(wide.columns)
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        if overlap[i, j] < min_overlap:
            continue
        a, b = names[i], names[j]
        both = wide[[a, b]].dropna()
        observed = float((both[a] == both[b]).mean())
        if both[a].nunique() == 1 and both[b].nunique() == 1 and both[a].iloc[0] == both[b].iloc[0]:
            kappa = math.nan  # one shared constant label: chance agreement is 1, kappa undefined
        else:
            categories = list(order) if order is not None else sorted(set(both[a]) | set(both[b]))
            codes_a, _ = _codes(both[a], categories)
            codes_b, _ = _codes(both[b], categories)
            kappa = cohen_kappa_codes(codes_a.to_numpy(), codes_b.to_numpy(), len(categories), weights)
        rows.append({"annotator_a": a, "annotator_b": b, "n_items": len(both), "observed_agreement": observed, "kappa": kappa})
    schema = pa.schema(
        [("annotator_a", pa.string()), ("annotator_b", pa.string()), ("n_items", pa.int64()),
         ("observed_agreement", pa.float64()), ("kappa", pa.float64())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def fleiss_kappa_score(labels: pa.Table) -> tuple[float, int]:
    """Return (Fleiss' kappa, items used) over the items rated by the most common number (>= 2) of annotators."""
    df = labels_frame(labels)
    counts = df.groupby(["item", "label"]).size().unstack(fill_value=0)
    per_item = counts.sum(axis=1)
    per_item = per_item[per_item >= 2]
    if per_item.empty:
        return math.nan, 0
    # Fleiss' kappa assumes the same number of ratings per item; keep the modal count's items.
    n_raters = int(per_item.mode().max())
    table = counts.loc[per_item[per_item == n_raters].index].to_numpy()
    if table.shape[0] < 2:
        return math.nan, int(table.shape[0])
    return fleiss_kappa_table(table), int(table.shape[0])


def fleiss_kappa_table(table: np.ndarray) -> float:
    """Return Fleiss' kappa of an items x categories count table whose rows all sum to the same rater count.

    Fleiss (1971): kappa = (P_bar - P_e) / (1 - P_e). Hand-written (a few lines) so that statsmodels is
    not a runtime dependency; tests/quality/test_agreement.py compares it with statsmodels'.
    """
    counts = np.asarray(table, dtype=np.float64)
    n_items = counts.shape[0]
    n_raters = counts[0].sum()
    p_cat = counts.sum(axis=0) / (n_items * n_raters)
    p_item = ((counts * counts).sum(axis=1) - n_raters) / (n_raters * (n_raters - 1))
    p_bar, p_e = p_item.mean(), float((p_cat * p_cat).sum())
    return float((p_bar - p_e) / (1 - p_e)) if p_e < 1 else math.nan


def krippendorff_alpha(labels: pa.Table, level: Level = "nominal", order: list[str] | None = None) -> float:
    """Return Krippendorff's alpha over all items (missing judgements allowed); ordinal needs `order` or numeric labels."""
    import krippendorff  # loaded on first use: op discovery imports this module
    df = labels_frame(labels)
    if df.empty:
        return math.nan
    if level == "ordinal" and order is None:
        order = sorted(df["label"].unique(), key=float)  # numeric labels (ratings) order themselves
    codes, categories = _codes(df["label"], order)
    df = df.assign(code=codes)
    matrix = df.pivot(index="annotator", columns="item", values="code").to_numpy(dtype=float)
    if len(categories) < 2 or np.sum(~np.isnan(matrix).all(axis=0) & (np.sum(~np.isnan(matrix), axis=0) >= 2)) == 0:
        return math.nan  # one category or no pairable item: alpha is undefined
    return float(
        krippendorff.alpha(reliability_data=matrix, value_domain=list(range(len(categories))), level_of_measurement=level)
    )


def agreement_per_label(labels: pa.Table) -> pa.Table:
    """Return, per label value, one-vs-rest Fleiss' kappa and nominal alpha (which categories annotators confuse)."""
    df = labels_frame(labels)
    rows = []
    for value in sorted(df["label"].unique()):
        binary = pa.Table.from_pandas(df.assign(label=np.where(df["label"] == value, value, "__other__")), preserve_index=False)
        kappa, n = fleiss_kappa_score(binary)
        rows.append(
            {"label": value, "n_judgements": int((df["label"] == value).sum()), "fleiss_kappa": kappa,
             "alpha_nominal": krippendorff_alpha(binary, "nominal"), "n_items_fleiss": n}
        )
    schema = pa.schema(
        [("label", pa.string()), ("n_judgements", pa.int64()), ("fleiss_kappa", pa.float64()),
         ("alpha_nominal", pa.float64()), ("n_items_fleiss", pa.int64())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _label_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Return (item, label, n) counts with per-item totals, maxima and how many labels reach the maximum."""
    counts = df.groupby(["item", "label"], sort=True).size().rename("n").reset_index()
    grouped = counts.groupby("item")["n"]
    counts["total"] = grouped.transform("sum")
    counts["top"] = grouped.transform("max")
    counts["n_top"] = (counts["n"] == counts["top"]).groupby(counts["item"]).transform("sum")
    return counts


def item_agreement(labels: pa.Table) -> pa.Table:
    """Score each item: judgements, majority label (null on a tie), its share, and observed pairwise agreement."""
    import pandas as pd

    counts = _label_counts(labels_frame(labels))
    counts["pairs"] = counts["n"] * (counts["n"] - 1)
    per_item = counts.groupby("item", sort=True).agg(n_judgements=("total", "first"), top=("top", "first"),
                                                      n_top=("n_top", "first"), pairs=("pairs", "sum"))
    winners = counts[(counts["n"] == counts["top"]) & (counts["n_top"] == 1)].set_index("item")["label"]
    total_pairs = per_item["n_judgements"] * (per_item["n_judgements"] - 1)
    out = pd.DataFrame({
        "item": per_item.index.astype(str),
        "n_judgements": per_item["n_judgements"].astype("int64").to_numpy(),
        "majority_label": winners.reindex(per_item.index).to_numpy(),
        "majority_share": (per_item["top"] / per_item["n_judgements"]).astype(float).to_numpy(),
        "pairwise_agreement": (per_item["pairs"] / total_pairs.where(total_pairs > 0)).astype(float).to_numpy(),
    })
    schema = pa.schema(
        [("item", pa.string()), ("n_judgements", pa.int64()), ("majority_label", pa.string()),
         ("majority_share", pa.float64()), ("pairwise_agreement", pa.float64())]
    )
    return pa.Table.from_pandas(out, schema=schema, preserve_index=False)


def flag_for_adjudication(items: pa.Table, threshold: float = 0.67, min_judgements: int = 2) -> pa.Table:
    """Decide: return the `item_agreement` rows whose majority share is below `threshold` or that have no majority."""
    df = items.to_pandas()
    enough = df["n_judgements"] >= min_judgements
    weak = (df["majority_share"] < threshold) | df["majority_label"].isna()
    out = df[enough & weak].assign(reason=np.where(df[enough & weak]["majority_label"].isna(), "tie", "low_agreement"))
    schema = items.schema.append(pa.field("reason", pa.string()))
    return pa.Table.from_pandas(out.reset_index(drop=True), schema=schema, preserve_index=False)


# A documented default, not a tuned figure: at K = 3 a 2-to-1 split between two annotators whom
# Dawid-Skene finds reliable and one it does not scored 0.93-1.0 in tests/quality/test_agreement.py
# and stays out of adjudication, while the same split read by majority vote (share 2/3) and most
# splits among equally unreliable annotators fall below it and are flagged.
MIN_CONFIDENCE = 0.8


def flag_low_confidence(aggregated: pa.Table, items: pa.Table, min_confidence: float = MIN_CONFIDENCE,
                        min_judgements: int = 2) -> pa.Table:
    """Decide: return the items whose aggregated label's confidence is below `min_confidence`, or that have no majority.

    `aggregated` has ``item``, ``label``, ``confidence`` (a Dawid-Skene posterior or a majority
    share); `items` is `item_agreement` of the same judgements. A tie (no label with more votes
    than every other) is always flagged: Dawid-Skene fitted on near-perfect annotators turns even a
    1-1-1 split into a confident posterior. Items with fewer than `min_judgements` judgements are
    never flagged (there is nothing to disagree with yet).
    """
    agg = aggregated.select(["item", "label", "confidence"]).to_pandas().rename(columns={"label": "aggregated_label"})
    df = items.to_pandas().merge(agg, on="item", how="inner")
    weak = df[(df["n_judgements"] >= min_judgements) & ((df["confidence"] < min_confidence) | df["majority_label"].isna())]
    out = weak.assign(reason=np.where(weak["majority_label"].isna(), "tie", "low_confidence"))
    schema = items.schema.append(pa.field("aggregated_label", pa.string())).append(pa.field("confidence", pa.float64())) \
        .append(pa.field("reason", pa.string()))
    return pa.Table.from_pandas(out.sort_values("item").reset_index(drop=True), schema=schema, preserve_index=False)


def annotator_gold_accuracy(labels: pa.Table, gold: pa.Table) -> pa.Table:
    """Return each annotator's accuracy on gold items; `gold` has columns ``item`` and ``label``."""
    df = labels_frame(labels)
    truth = gold.select(["item", "label"]).to_pandas().astype(str).drop_duplicates("item", keep="last")
    merged = df.merge(truth, on="item", suffixes=("", "_gold"))
    rows = [
        {"annotator": a, "n_gold": len(g), "gold_accuracy": float((g["label"] == g["label_gold"]).mean())}
        for a, g in merged.groupby("annotator", sort=True)
    ]
    schema = pa.schema([("annotator", pa.string()), ("n_gold", pa.int64()), ("gold_accuracy", pa.float64())])
    return pa.Table.from_pylist(rows, schema=schema)


def annotator_consensus_agreement(labels: pa.Table) -> pa.Table:
    """Return how often each annotator matches the majority of the *other* annotators (leave-one-out, ties skipped)."""
    df = labels_frame(labels)
    counts = df.groupby(["item", "label"]).size().rename("n").reset_index()
    # One row per (judgement, label seen on its item): the others' count for that label.
    joined = df.rename(columns={"label": "own"}).merge(counts, on="item")
    joined["others"] = joined["n"] - (joined["label"] == joined["own"]).astype(int)
    joined = joined[joined["others"] > 0]
    key = [joined["item"], joined["annotator"]]
    joined["best"] = joined.groupby(key)["others"].transform("max")
    top = joined[joined["others"] == joined["best"]]
    per_judgement = top.groupby(["item", "annotator"]).agg(n_best=("label", "size"), own=("own", "first"), label=("label", "first"))
    decided = per_judgement[per_judgement["n_best"] == 1]  # the others are tied: no consensus to compare with
    matched = (decided["own"] == decided["label"]).groupby(level="annotator").agg(["sum", "size"])
    n_items = df.groupby("annotator").size()
    rows = []
    for annotator in sorted(n_items.index):
        compared = int(matched["size"].get(annotator, 0))
        rows.append({"annotator": annotator, "n_items": int(n_items[annotator]), "n_compared": compared,
                     "consensus_agreement": float(matched["sum"][annotator]) / compared if compared else math.nan})
    schema = pa.schema(
        [("annotator", pa.string()), ("n_items", pa.int64()), ("n_compared", pa.int64()), ("consensus_agreement", pa.float64())]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _span_set(spans: list[dict] | None) -> set[tuple[int, int, str]]:
    return {(int(x["start"]), int(x["end"]), str(x["label"])) for x in spans or []}


def _f1(a: set, b: set) -> float:
    """Return the F1 of two span sets (1.0 when both are empty: both found nothing)."""
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def span_agreement(spans: pa.Table) -> dict:
    """Return exact-match span agreement: mean pairwise F1 per annotator pair and overall, and per label.

    `spans` has columns ``item``, ``annotator`` and ``spans`` (list of {start, end, label}), one row
    per judgement; an empty list means "no spans here", which agrees with another empty list.
    """
    rows = [(str(r["item"]), str(r["annotator"]), _span_set(r["spans"])) for r in spans.select(["item", "annotator", "spans"]).to_pylist()]
    by_item: dict[str, dict[str, set]] = {}
    for item, annotator, found in rows:
        by_item.setdefault(item, {})[annotator] = found
    pair_scores: dict[tuple[str, str], list[float]] = {}
    label_hits: dict[str, list[int]] = {}  # label -> [matched spans x2, spans total]
    for judged in by_item.values():
        for a, b in itertools.combinations(sorted(judged), 2):
            pair_scores.setdefault((a, b), []).append(_f1(judged[a], judged[b]))
            for label in {x[2] for x in judged[a] | judged[b]}:
                sa = {x for x in judged[a] if x[2] == label}
                sb = {x for x in judged[b] if x[2] == label}
                hits = label_hits.setdefault(label, [0, 0])
                hits[0] += 2 * len(sa & sb)
                hits[1] += len(sa) + len(sb)
    pairs = [{"annotator_a": a, "annotator_b": b, "n_items": len(v), "mean_f1": float(np.mean(v))} for (a, b), v in sorted(pair_scores.items())]
    all_scores = [x for v in pair_scores.values() for x in v]
    return {
        "n_items_multi": sum(1 for judged in by_item.values() if len(judged) >= 2),
        "mean_pairwise_f1": float(np.mean(all_scores)) if all_scores else None,
        "pairs": pairs,
        "per_label_f1": {label: (h[0] / h[1] if h[1] else None) for label, h in sorted(label_hits.items())},
    }


@dataclass(frozen=True)
class AgreementSummary:
    """Project-level agreement figures for one control (one labelled question)."""

    n_items: int
    n_annotators: int
    n_judgements: int
    n_items_multi: int  # items with >= 2 judgements (the only ones agreement can see)
    fleiss_kappa: float
    fleiss_items: int
    alpha_nominal: float
    alpha_ordinal: float | None
    mean_cohen_kappa: float

    def as_dict(self) -> dict:
        """Return the summary as JSON-ready values (NaN -> None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def summarize_agreement(labels: pa.Table, ordinal_order: list[str] | None = None, ordinal: bool = False) -> AgreementSummary:
    """Return the project-level figures; ordinal alpha when `ordinal` (numeric labels) or an order is given."""
    df = labels_frame(labels)
    per_item = df.groupby("item").size()
    pairs = cohen_kappa_pairs(labels)
    kappas = [k for k in pairs.column("kappa").to_pylist() if k is not None and not math.isnan(k)]
    fk, fk_items = fleiss_kappa_score(labels)
    want_ordinal = ordinal or ordinal_order is not None
    return AgreementSummary(
        n_items=int(per_item.shape[0]),
        n_annotators=int(df["annotator"].nunique()),
        n_judgements=int(df.shape[0]),
        n_items_multi=int((per_item >= 2).sum()),
        fleiss_kappa=fk,
        fleiss_items=fk_items,
        alpha_nominal=krippendorff_alpha(labels, "nominal"),
        alpha_ordinal=krippendorff_alpha(labels, "ordinal", ordinal_order) if want_ordinal else None,
        mean_cohen_kappa=float(np.mean(kappas)) if kappas else math.nan,
    )

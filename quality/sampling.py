"""Choosing which records go to annotators: stratified random by source and language, or least-certain first.

Pure and seeded: the same table, size and seed always give the same sample, in the same order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Strategy = Literal["stratified", "least_certain", "auto"]
STRATEGIES: tuple[str, ...] = ("stratified", "least_certain", "auto")
DEFAULT_STRATA: tuple[str, ...] = ("source", "lang")
DEFAULT_SCORE = "score_quality"


def allocate_proportional(sizes: list[int], n: int) -> list[int]:
    """Split `n` draws over strata proportionally to `sizes` (largest remainder; every stratum gets one when n allows)."""
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    total = int(sizes_arr.sum())
    n = min(n, total)
    if n == 0:
        return [0] * len(sizes)
    quota = sizes_arr / total * n
    alloc = np.floor(quota).astype(np.int64)
    # Hand out the draws lost to rounding by largest remainder; stable order keeps it deterministic.
    for i in np.argsort(-(quota - alloc), kind="stable")[: n - int(alloc.sum())]:
        alloc[i] += 1
    # A small stratum that rounded to zero still gets one draw, taken from the largest allocation,
    # so that rare sources/languages are always seen by annotators when the sample is big enough.
    if n >= np.count_nonzero(sizes_arr):
        for i in np.flatnonzero((alloc == 0) & (sizes_arr > 0)):
            alloc[int(np.argmax(alloc))] -= 1
            alloc[i] = 1
    return [int(a) for a in alloc]


def _strata_keys(docs: pa.Table, strata: tuple[str, ...]) -> list[tuple]:
    """Return one key per row from the strata columns that exist (missing values become None)."""
    cols = [docs.column(c).to_pylist() for c in strata if c in docs.column_names]
    return list(zip(*cols)) if cols else [()] * docs.num_rows


def stratified_sample(docs: pa.Table, n: int, seed: int, strata: tuple[str, ...] = DEFAULT_STRATA) -> pa.Table:
    """Return up to `n` rows drawn at random within each stratum (default source x lang), proportionally to its size."""
    keys = _strata_keys(docs, strata)
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    ordered = sorted(groups, key=lambda k: tuple("" if v is None else str(v) for v in k))
    alloc = allocate_proportional([len(groups[k]) for k in ordered], n)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for key, k in zip(ordered, alloc):
        # A full permutation per stratum (whatever k is) keeps the random stream, and so every
        # stratum's order, independent of n: a larger sample with the same seed contains a smaller one.
        chosen.extend(rng.permutation(np.asarray(groups[key]))[:k].tolist())
    # Shuffle across strata so that annotators do not see one source in a block.
    chosen = rng.permutation(np.asarray(chosen, dtype=np.int64)).tolist() if chosen else []
    return docs.take(pa.array(chosen, pa.int64()))


def least_certain_sample(docs: pa.Table, n: int, seed: int, score_column: str = DEFAULT_SCORE, boundary: float = 0.5) -> pa.Table:
    """Return the `n` rows whose score in [0, 1] lies closest to `boundary` (ties in seeded random order; null scores last)."""
    if score_column not in docs.column_names:
        raise ValueError(f"least_certain sampling needs a {score_column!r} column; the table has {docs.column_names}")
    score = docs.column(score_column).cast(pa.float64()).to_numpy(zero_copy_only=False)
    distance = np.abs(score - boundary)
    distance = np.where(np.isnan(distance), np.inf, distance)
    tiebreak = np.random.default_rng(seed).random(docs.num_rows)
    order = np.lexsort((tiebreak, distance))[: min(n, docs.num_rows)]
    return docs.take(pa.array(order, pa.int64()))


def sample_for_annotation(
    docs: pa.Table, n: int, strategy: Strategy, seed: int, score_column: str = DEFAULT_SCORE,
    strata: tuple[str, ...] = DEFAULT_STRATA,
) -> pa.Table:
    """Return the records to annotate; ``auto`` means least-certain when the score column exists, else stratified."""
    if n < 0:
        raise ValueError("sample size must be >= 0")
    if strategy == "auto":
        strategy = "least_certain" if score_column in docs.column_names else "stratified"
    if strategy == "stratified":
        return stratified_sample(docs, n, seed, strata)
    if strategy == "least_certain":
        return least_certain_sample(docs, n, seed, score_column)
    raise ValueError(f"unknown sampling strategy {strategy!r}; known: {list(STRATEGIES)}")


def exclude_ids(docs: pa.Table, ids: set[str]) -> pa.Table:
    """Return the rows whose ``id`` is not in `ids` (records already sent to a project)."""
    if not ids:
        return docs
    keep = pc.invert(pc.is_in(docs.column("id"), value_set=pa.array(sorted(ids), pa.string())))
    return docs.filter(keep)

"""Disk-staged near-dup dedup: signatures per shard -> band buckets (DuckDB) -> components -> decisions.

Every stage reads and writes Parquet, so the stages run as separate Prefect tasks, on a Dask
cluster (``task_runner="dask"`` uses prefect-dask), or as plain functions:

    sign_shard(op, docs_path, shard, sig_dir)            # map, one per shard -> sig_dir/part-NNNNN.parquet
    reduce_from_files(op, sig_paths, existing=[...])      # bucket + verify + clusters -> decisions table
    apply_shard(op, docs_path, decisions_path, out_path)  # per shard: cluster_id / duplicate_of / drop

``reduce_from_files`` is the scalable twin of ``DedupNear.reduce``: the band buckets are formed by
DuckDB over the Parquet files (it spills to disk), only the (few) documents in a candidate pair
have their signatures loaded for verification, and the clustering/keep policy are the same pure
functions as the in-memory reduce, so both give identical decisions.

Incremental dedup: pass the signature files of an existing release as ``existing``; only the
stored rows that share a band bucket with the new batch are read, the stored rows always win,
and decisions are returned for the new batch only. ``save_op_spec``/``check_op_spec`` keep a
release's signatures tied to the operator parameters that made them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from transforms.dedup import (
    BUCKET_WINDOW,
    DedupNear,
    Verification,
    checked_similarity,
    cross_verified_mask,
    empty_decisions,
    fixed_matrix,
    keep_rank,
    near_decisions,
    pair_similarity,
    sample_similarity,
    signature_similarity,
)
from transforms.ops import OpStats, live_mask
from transforms.schema import ensure_decision_columns

SPEC_FILE = "_op.json"
# Parameters that change signatures or band hashes: stored signatures are only comparable if equal.
SIGNATURE_PARAMS = ("num_perm", "char_ngram", "word_ngram", "script", "hashing", "seed")


def signature_dir(run_dir: Path, op: DedupNear) -> Path:
    """Return where a run keeps an op's signatures: ``<run_dir>/signatures/<op name>/``."""
    return Path(run_dir) / "signatures" / op.name


def save_op_spec(sig_dir: Path, op: DedupNear) -> None:
    """Record the operator and parameters that produced the signatures in `sig_dir`."""
    sig_dir.mkdir(parents=True, exist_ok=True)
    cross = op.cross_band_rows()
    spec = {"op": op.op_id, "params": op.params(), "bands_rows": list(op.band_rows()), "cross_bands_rows": list(cross) if cross else None}
    (sig_dir / SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True), "utf-8")


def check_op_spec(sig_dir: Path, op: DedupNear) -> None:
    """Raise ValueError if stored signatures were made with parameters that make them incomparable."""
    path = Path(sig_dir) / SPEC_FILE
    if not path.exists():
        raise ValueError(f"{path} is missing: cannot tell which dedup_near parameters made these signatures")
    spec = json.loads(path.read_text("utf-8"))
    stored = spec["params"]
    diff = {k: (stored.get(k), getattr(op, k)) for k in SIGNATURE_PARAMS if stored.get(k) != getattr(op, k)}
    if list(spec["bands_rows"]) != list(op.band_rows()):
        diff["bands_rows"] = (spec["bands_rows"], list(op.band_rows()))
    cross = op.cross_band_rows()
    if cross is not None and spec.get("cross_bands_rows") != list(cross):  # stored rows lack (or have other) cross-script bands
        diff["cross_bands_rows"] = (spec.get("cross_bands_rows"), list(cross))
    if op.stores_shingles():
        diff.update(_shingle_sample_diff(spec, op))
    if diff:
        detail = ", ".join(f"{k}: stored {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise ValueError(f"signatures in {sig_dir} were made with other parameters ({detail}); recompute them or match the parameters")


def _shingle_sample_diff(spec: dict, op: DedupNear) -> dict:
    """Return why stored signatures cannot verify by shingles for `op` ({} when they can).

    They need the shingles column as dedup_near@4 stores it (sorted 32-bit hashes) and a sample at
    least as large as the op's (a larger one is cut to the op's size when pairs are scored).
    """
    stored = spec["params"]
    if stored.get("verify") not in ("borderline", "exact") or int(spec["op"].rpartition("@")[2]) < 4:
        return {"verify": (f"{stored.get('verify')} ({spec['op']})", f"{op.verify} ({op.op_id}) needs stored shingle samples")}
    have, need = stored.get("verify_shingles"), op.verify_shingles
    if have is not None and (need is None or have < need):
        return {"verify_shingles": (have, need)}
    return {}


def live_rows(docs: pa.Table) -> pa.Table:
    """Return the rows of a document table not dropped by an earlier filter."""
    docs = ensure_decision_columns(docs)
    return docs.filter(live_mask(docs))


def sign_shard(op: DedupNear, docs_path: str | Path, shard: int, sig_dir: str | Path) -> str:
    """Map: write the signatures of one document shard's live rows to ``sig_dir/part-NNNNN.parquet``."""
    sig_dir = Path(sig_dir)
    sig_dir.mkdir(parents=True, exist_ok=True)
    sig = op.signatures(live_rows(pq.read_table(docs_path)), shard)
    out = sig_dir / f"part-{shard:05d}.parquet"
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(sig, tmp, compression="zstd")
    tmp.replace(out)
    return str(out)


def _sql_list(paths: list[str | Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def reduce_from_files(
    op: DedupNear,
    sig_paths: list[str | Path],
    existing: list[str | Path] = (),
    memory_limit: str = "4GB",
    temp_dir: str | Path | None = None,
) -> pa.Table:
    """Reduce signature Parquet files to decisions by id (same result as ``op.reduce`` on their concatenation).

    With `existing` (signature files of an earlier release) the new rows are deduplicated against
    the stored ones: stored rows win and get no decision of their own.
    """
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    if temp_dir is not None:
        con.execute(f"SET temp_directory = '{Path(temp_dir)}'")
    new_paths = [str(p) for p in sig_paths]
    if not new_paths:
        return empty_decisions()
    meta_cols = "id, shard, row, length, score, n_shingles"
    con.execute(f"CREATE VIEW new_sigs AS SELECT *, false AS existing FROM read_parquet({_sql_list(new_paths)}, union_by_name=true)")
    if existing:
        # Only stored rows sharing at least one band bucket with the new batch matter.
        con.execute(f"CREATE VIEW old_sigs AS SELECT *, true AS existing FROM read_parquet({_sql_list(list(existing))}, union_by_name=true)")
        # The cross-script stage's buckets count too (band numbers offset past the main bands').
        cross = op.cross_script() is not None and all(
            "xbands" in con.sql(f"SELECT * FROM {v} LIMIT 0").columns for v in ("new_sigs", "old_sigs"))
        buckets = "SELECT {id}generate_subscripts(bands, 1) AS band, unnest(bands) AS h FROM {src} WHERE n_shingles > 0"
        if cross:
            buckets += (" UNION ALL SELECT {id}1000000 + generate_subscripts(xbands, 1) AS band, unnest(xbands) AS h"
                        " FROM {src} WHERE n_shingles > 0 AND han_script > 0")
        con.execute("CREATE TEMP TABLE new_buckets AS SELECT DISTINCT band, h FROM (" + buckets.format(id="", src="new_sigs") + ")")
        con.execute("CREATE TEMP TABLE old_hit AS SELECT DISTINCT o.id FROM (" + buckets.format(id="id, ", src="old_sigs")
                    + ") o JOIN new_buckets n USING (band, h)")
        source = "(SELECT * FROM new_sigs UNION ALL BY NAME SELECT * FROM old_sigs WHERE id IN (SELECT id FROM old_hit))"
    else:
        source = "new_sigs"
    # Global position g in the canonical order of transforms.dedup.sort_signatures.
    con.execute(
        f"""CREATE TEMP TABLE sigs AS
            SELECT row_number() OVER (ORDER BY existing DESC, shard, row, id) - 1 AS g, *
            FROM {source}"""
    )
    meta = con.sql(f"SELECT g, {meta_cols}, existing FROM sigs ORDER BY g").to_arrow_table()
    pairs = bucket_pairs(con)
    n = meta.num_rows
    existing_mask = meta.column("existing").to_numpy(zero_copy_only=False).astype(bool)
    if len(pairs):
        pairs = pairs[~(existing_mask[pairs[:, 0]] & existing_mask[pairs[:, 1]])]
    check = op.verification()
    scores = _similarity_from_db(con, pairs, check)
    if op.verify != "none":
        pairs, scores = pairs[scores >= op.threshold], scores[scores >= op.threshold]
    if op.cross_script() is not None and "xbands" in con.sql("SELECT * FROM sigs LIMIT 0").columns:
        xpairs = cross_bucket_pairs(con)
        if len(xpairs):
            xpairs = xpairs[~(existing_mask[xpairs[:, 0]] & existing_mask[xpairs[:, 1]])]
        if len(xpairs):
            xpairs, xscores = _verify_cross_from_db(con, op, xpairs)
            pairs, scores = np.concatenate([pairs, xpairs]), np.concatenate([scores, xscores])
    rank = keep_rank(meta.drop_columns(["g"]), op.keep)
    rescore = None if op.verify == "none" else (lambda p: _similarity_from_db(con, p, check))
    try:
        return near_decisions(meta.column("id").combine_chunks(), pairs, scores, rank, op.clustering, "near_duplicate",
                              ~existing_mask, rescore, op.threshold)
    finally:
        con.close()


def bucket_pairs(con: duckdb.DuckDBPyConnection, window: int = BUCKET_WINDOW) -> np.ndarray:
    """Return candidate pairs (g_i < g_j) from the ``sigs`` table's band buckets: the edges of ``transforms.dedup.candidate_pairs``
    (each member with the bucket's first member and its `window` predecessors)."""
    lags = ", ".join(f"lag(g, {k}) OVER (PARTITION BY band, h ORDER BY g) AS p{k}" for k in range(1, window + 1))
    lag_edges = "".join(f" UNION ALL SELECT p{k} AS a, g AS c FROM w WHERE p{k} IS NOT NULL" for k in range(1, window + 1))
    edges = con.execute(
        f"""WITH b AS (SELECT g, generate_subscripts(bands, 1) AS band, unnest(bands) AS h FROM sigs WHERE n_shingles > 0),
                w AS (SELECT g, first_value(g) OVER (PARTITION BY band, h ORDER BY g) AS head, {lags} FROM b)
           SELECT DISTINCT a, c FROM (SELECT head AS a, g AS c FROM w WHERE g <> head{lag_edges})
           ORDER BY a, c"""
    ).fetchnumpy()
    return np.stack([edges["a"].astype(np.int64), edges["c"].astype(np.int64)], axis=1) if len(edges["a"]) else np.zeros((0, 2), np.int64)


def cross_bucket_pairs(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Return cross-script candidate pairs (g_i < g_j) from the ``sigs`` table's cross-script band buckets.

    The same edges as ``transforms.dedup.cross_candidate_pairs``: in each bucket a Simplified row is
    linked to the bucket's first Traditional row and a Traditional row to its first Simplified row.
    """
    edges = con.execute(
        """WITH b AS (SELECT g, han_script AS c, generate_subscripts(xbands, 1) AS band, unnest(xbands) AS h
                      FROM sigs WHERE n_shingles > 0 AND han_script > 0),
                w AS (SELECT g, c, min(g) FILTER (WHERE c = 1) OVER (PARTITION BY band, h) AS s1,
                                   min(g) FILTER (WHERE c = 2) OVER (PARTITION BY band, h) AS t1
                      FROM b)
           SELECT DISTINCT least(g, o) AS a, greatest(g, o) AS c
           FROM (SELECT g, CASE WHEN c = 1 THEN t1 ELSE s1 END AS o FROM w) WHERE o IS NOT NULL
           ORDER BY a, c"""
    ).fetchnumpy()
    return np.stack([edges["a"].astype(np.int64), edges["c"].astype(np.int64)], axis=1) if len(edges["a"]) else np.zeros((0, 2), np.int64)


def _verify_cross_from_db(con: duckdb.DuckDBPyConnection, op: DedupNear, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the cross-script pairs that pass and their signature similarity, loading only the rows involved."""
    touched = np.unique(pairs)
    con.register("xtouched", pa.table({"g": pa.array(touched)}))
    sub = con.sql("SELECT g, sig, n_shingles, latin FROM sigs WHERE g IN (SELECT g FROM xtouched) ORDER BY g").to_arrow_table()
    local = np.searchsorted(sub.column("g").to_numpy(), pairs)
    ok = cross_verified_mask(sub, local, op.cross_script())
    return pairs[ok], pair_similarity(sub, local[ok], "signature")


def _similarity_from_db(con: duckdb.DuckDBPyConnection, pairs: np.ndarray, check: Verification) -> np.ndarray:
    """Return each pair's similarity (`checked_similarity`), loading signatures only for the rows involved and
    shingle samples only for the rows of pairs that need them (every pair for exact, borderline pairs for borderline)."""
    return checked_similarity(
        pairs, check,
        lambda p: signature_similarity(*_rows_from_db(con, p, "sig", lambda t: fixed_matrix(t.column("sig"), t.num_rows))),
        lambda p: sample_similarity(*_rows_from_db(con, p, "shingles", lambda t: t.column("shingles")), check.sample),
    )


def _rows_from_db(con: duckdb.DuckDBPyConnection, pairs: np.ndarray, column: str, convert) -> tuple[object, np.ndarray]:
    """Return (convert(table of `column` for the rows in `pairs`), the pairs renumbered into that table's rows)."""
    con.register("touched", pa.table({"g": pa.array(np.unique(pairs))}))
    sub = con.sql(f"SELECT g, {column} FROM sigs WHERE g IN (SELECT g FROM touched) ORDER BY g").to_arrow_table()
    con.unregister("touched")
    return convert(sub), np.searchsorted(sub.column("g").to_numpy(), pairs)


def apply_shard(op: DedupNear, docs_path: str | Path, decisions: pa.Table | str | Path, out_path: str | Path) -> dict:
    """Apply: write the shard with cluster_id / duplicate_of set and duplicates marked dropped; return counters."""
    if not isinstance(decisions, pa.Table):
        decisions = pq.read_table(decisions)
    stats = OpStats()
    out = op.apply_corpus(pq.read_table(docs_path), decisions, stats)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(out, out_path, compression="zstd")
    return dict(stats.counts)


def write_decisions(decisions: pa.Table, path: str | Path) -> str:
    """Write a decisions table atomically; return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(decisions, tmp, compression="zstd")
    tmp.replace(path)
    return str(path)


def dedup_files(
    op: DedupNear,
    docs_paths: list[str | Path],
    work_dir: str | Path,
    existing: list[str | Path] = (),
    map_fn=None,
) -> dict:
    """Run map -> reduce -> apply over document shards without Prefect; `map_fn(fn, *iterables)` may be a cluster's map.

    Writes ``work_dir/signatures/dedup_near/part-*.parquet``, ``work_dir/decisions.parquet`` and
    ``work_dir/out/part-*.parquet``; returns paths and counters.
    """
    work = Path(work_dir)
    sig_dir = signature_dir(work, op)
    save_op_spec(sig_dir, op)
    mapper = map_fn or (lambda fn, *its: list(map(fn, *its)))
    n = len(docs_paths)
    sig_paths = list(mapper(sign_shard, [op] * n, docs_paths, range(n), [sig_dir] * n))
    decisions = reduce_from_files(op, sig_paths, existing=existing, temp_dir=work / "duckdb-tmp")
    dec_path = write_decisions(decisions, work / "decisions.parquet")
    outs = [work / "out" / f"part-{i:05d}.parquet" for i in range(n)]
    counts = list(mapper(apply_shard, [op] * n, docs_paths, [dec_path] * n, outs))
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return {"signatures": sig_paths, "decisions": dec_path, "outputs": [str(o) for o in outs], "counts": total,
            "clusters": int(pc.count_distinct(decisions.column("cluster_id")).as_py() if decisions.num_rows else 0)}


# ----------------------------------------------------------------------------- Prefect


def dedup_flow_factory():
    """Return the Prefect flow (built lazily so importing this module does not import Prefect)."""
    from prefect import flow, task

    sign_task = task(name="dedup-sign")(sign_shard)
    apply_task = task(name="dedup-apply")(apply_shard)

    @task(name="dedup-reduce")
    def reduce_task(params: dict, sig_paths: list[str], existing: list[str], out: str) -> str:
        return write_decisions(reduce_from_files(DedupNear(**params), sig_paths, existing=existing,
                                                 temp_dir=Path(out).parent / "duckdb-tmp"), out)

    @flow(name="yuliao-dedup-near")
    def dedup_near_flow(docs_paths: list[str], work_dir: str, params: dict | None = None, existing: list[str] | None = None) -> dict:
        """Near-dup dedup of Parquet document shards, each stage a task whose output is on disk."""
        op = DedupNear(**(params or {}))
        work = Path(work_dir)
        sig_dir = signature_dir(work, op)
        save_op_spec(sig_dir, op)
        sig_futs = [sign_task.submit(op, p, i, str(sig_dir)) for i, p in enumerate(docs_paths)]
        sig_paths = [f.result() for f in sig_futs]
        dec = reduce_task.submit(op.params(), sig_paths, list(existing or []), str(work / "decisions.parquet")).result()
        outs = [apply_task.submit(op, p, dec, str(work / "out" / f"part-{i:05d}.parquet")) for i, p in enumerate(docs_paths)]
        counts: dict[str, int] = {}
        for f in outs:
            for k, v in f.result().items():
                counts[k] = counts.get(k, 0) + v
        return {"decisions": dec, "signatures": sig_paths, "counts": counts}

    return dedup_near_flow

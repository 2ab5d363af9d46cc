"""The curation flow behind `yuliao run`: shards -> operators -> kept / dropped / quarantined Parquet.

Stages: the recipe's ops are cut at every CorpusOp. Stage 0 reads each shard and applies the ops
before the first CorpusOp; each CorpusOp then runs map (signatures per shard) -> reduce (one
task over the signatures) -> apply (per shard, followed by the next plain ops). Tasks pass file
paths; every stage's output is on disk under `<run_dir>/_stages/`, and a stage/shard whose
`done` record exists is not redone when the same run is resumed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, get_run_logger, task

from flows import progress
from flows.readers import known_readers, list_input_files, read_input_file, reader_for, check_options
from flows.recipe import Recipe, RecipeError, load_recipe
from flows.store import DROP_ONLY_COLUMNS, PartWriter, part_name, read_json, write_json_atomic
from transforms.ops import CorpusOp, Operator, OpStats, live_mask
from transforms.schema import DROP_REASON, ensure_decision_columns

YULIAO_VERSION = "0.1.0"


class ConservationError(RuntimeError):
    """Read != kept + dropped + quarantined for some input file: something was lost."""


@dataclass(frozen=True)
class ShardRef:
    """One unit of parallel work: a raw input file of one recipe input."""

    shard: int
    input_index: int
    path: str


@dataclass
class Segment:
    """Plain ops to run on every shard, optionally followed by a corpus-wide op."""

    ops: list[Operator] = field(default_factory=list)
    corpus: CorpusOp | None = None


def split_segments(ops: list[Operator]) -> list[Segment]:
    """Cut the op list after every CorpusOp; the last segment has no corpus op."""
    segments = [Segment()]
    for op in ops:
        if isinstance(op, CorpusOp):
            segments[-1].corpus = op
            segments.append(Segment())
        else:
            segments[-1].ops.append(op)
    return segments


def plan_shards(recipe: Recipe) -> list[ShardRef]:
    """List every input file as a shard, checking readers and options before any work starts."""
    known_readers()
    shards: list[ShardRef] = []
    for i, spec in enumerate(recipe.inputs):
        for path in list_input_files(spec):
            check_options(spec, reader_for(spec, path))
            shards.append(ShardRef(len(shards), i, path))
    if not shards:
        raise RecipeError(f"{recipe.source_path}: the inputs match no files")
    return shards


def git_commit() -> str | None:
    """Return the git commit of the yuliao checkout, if it is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def new_run_id() -> str:
    """Return a sortable, unique run id."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


# ---------------------------------------------------------------- per-shard work


@dataclass
class _OpTally:
    rows_in: int = 0
    rows_out: int = 0
    seconds: float = 0.0
    stats: OpStats = field(default_factory=OpStats)

    def to_json(self) -> dict:
        return {"rows_in": self.rows_in, "rows_out": self.rows_out, "seconds": round(self.seconds, 4),
                "counters": dict(sorted(self.stats.counts.items()))}


def _n_live(batch: pa.Table) -> int:
    return pc.sum(live_mask(batch).cast(pa.int64())).as_py() or 0


def _apply_ops(batch: pa.Table, ops: list[Operator], tallies: dict[str, _OpTally]) -> pa.Table:
    for op in ops:
        tally = tallies.setdefault(op.op_id, _OpTally())
        tally.rows_in += _n_live(batch)
        t0 = time.perf_counter()
        batch = op.apply(batch, tally.stats)
        tally.seconds += time.perf_counter() - t0
        tally.rows_out += _n_live(batch)
    return batch


def _stage_dir(run_dir: Path, stage: int) -> Path:
    return run_dir / "_stages" / f"s{stage:02d}"


def _batches_for_stage(recipe: Recipe, run_dir: Path, ref: ShardRef, stage: int, segments: list[Segment],
                       quarantine: PartWriter | None, counts: Counter):
    """Yield the input batches of a stage: raw reads for stage 0, the previous stage's file after."""
    if stage == 0:
        spec = recipe.inputs[ref.input_index]
        for rb in read_input_file(spec, ref.path, recipe.run.batch_rows):
            counts["read"] += rb.n_read
            counts["quarantined"] += rb.quarantine.num_rows
            if quarantine is not None:
                quarantine.write(rb.quarantine)
            yield ensure_decision_columns(rb.docs)
        return
    prev = _stage_dir(run_dir, stage - 1) / part_name(ref.shard)
    if not prev.exists():
        return
    pf = pq.ParquetFile(prev)
    for rg in range(pf.num_row_groups):
        yield pf.read_row_group(rg)


@task(name="curate-shard-stage", retries=0)
def run_shard_stage(recipe_path: str, recipe_text: str, run_dir: str, ref: ShardRef, stage: int) -> dict:
    """Run one stage of one shard: apply the stage's ops and write its outputs; return its tallies."""
    from flows.recipe import parse_recipe

    recipe = parse_recipe(recipe_text, where=recipe_path)
    rd = Path(run_dir)
    segments = split_segments(recipe.ops)
    seg = segments[stage]
    sdir = _stage_dir(rd, stage)
    done = sdir / f"done-{ref.shard:05d}.json"
    if done.exists():
        progress.advance(ref.path)
        return read_json(done) | {"resumed": True}

    counts: Counter = Counter()
    tallies: dict[str, _OpTally] = {}
    quarantine = PartWriter(rd / "quarantine" / part_name(ref.shard)) if stage == 0 else None
    last = seg.corpus is None
    if last:
        kept = PartWriter(rd / "kept" / part_name(ref.shard), drop_columns=DROP_ONLY_COLUMNS)
        dropped = PartWriter(rd / "dropped" / part_name(ref.shard))
    else:
        staged = PartWriter(sdir / part_name(ref.shard))
        sigs = PartWriter(sdir / f"sig-{ref.shard:05d}.parquet")
    prev_corpus = segments[stage - 1].corpus if stage > 0 else None
    decisions = pq.read_table(_stage_dir(rd, stage - 1) / "decisions.parquet") if prev_corpus is not None else None
    row_base = 0
    for batch in _batches_for_stage(recipe, rd, ref, stage, segments, quarantine, counts):
        if prev_corpus is not None:
            tally = tallies.setdefault(prev_corpus.op_id, _OpTally())
            tally.rows_in += _n_live(batch)
            t0 = time.perf_counter()
            batch = prev_corpus.apply_corpus(batch, decisions, tally.stats)
            tally.seconds += time.perf_counter() - t0
            tally.rows_out += _n_live(batch)
        batch = _apply_ops(batch, seg.ops, tallies)
        if last:
            mask = live_mask(batch)
            kept.write(batch.filter(mask))
            dropped.write(batch.filter(pc.invert(mask)))
        else:
            staged.write(batch)
            live = batch.filter(live_mask(batch))
            t0 = time.perf_counter()
            sig = seg.corpus.signatures(live, ref.shard)
            if "row" in sig.column_names:  # rows are numbered across the shard's batches
                sig = sig.set_column(sig.schema.get_field_index("row"), "row",
                                     pc.add(sig.column("row"), pa.scalar(row_base, sig.column("row").type)))
            row_base += live.num_rows
            tallies.setdefault(seg.corpus.op_id, _OpTally()).seconds += time.perf_counter() - t0  # map time counts toward the op
            sigs.write(sig)
    if quarantine is not None:
        quarantine.close()
    if last:
        counts["kept"] = kept.close()
        counts["dropped"] = dropped.close()
    else:
        counts["staged"] = staged.close()
        sigs.close()
    result = {"shard": ref.shard, "path": ref.path, "stage": stage, "counts": dict(counts),
              "ops": {k: v.to_json() for k, v in tallies.items()}}
    write_json_atomic(done, result)
    progress.advance(ref.path)
    return result


@task(name="curate-reduce")
def run_reduce(recipe_path: str, recipe_text: str, run_dir: str, stage: int) -> dict:
    """Reduce one CorpusOp's signatures from all shards into a decisions file."""
    from flows.recipe import parse_recipe

    recipe = parse_recipe(recipe_text, where=recipe_path)
    op = split_segments(recipe.ops)[stage].corpus
    sdir = _stage_dir(Path(run_dir), stage)
    out = sdir / "decisions.parquet"
    if out.exists():
        return {"stage": stage, "decisions": pq.read_metadata(out).num_rows, "resumed": True}
    t0 = time.perf_counter()
    files = sorted(sdir.glob("sig-*.parquet"))
    sigs = pa.concat_tables([pq.read_table(f) for f in files]) if files else None
    if sigs is None:
        decisions = op.reduce(op.signatures(ensure_decision_columns(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})), 0))
    else:
        decisions = op.reduce(sigs)
    tmp = sdir / ".decisions.parquet.tmp"
    pq.write_table(decisions, tmp, compression="zstd")
    os.replace(tmp, out)
    return {"stage": stage, "decisions": decisions.num_rows, "seconds": round(time.perf_counter() - t0, 4)}


# ---------------------------------------------------------------- the run record


def summarise_run(recipe: Recipe, shards: list[ShardRef], stage_results: list[list[dict]], reduces: list[dict]) -> dict:
    """Fold the per-shard stage results into run totals, per-op tallies and per-file conservation."""
    first, final = stage_results[0], stage_results[-1]
    per_file = []
    ok = True
    for ref in shards:
        s0 = next(r for r in first if r["shard"] == ref.shard)["counts"]
        sf = next(r for r in final if r["shard"] == ref.shard)["counts"]
        read, q = s0.get("read", 0), s0.get("quarantined", 0)
        kept, dropped = sf.get("kept", 0), sf.get("dropped", 0)
        balanced = read == kept + dropped + q
        ok &= balanced
        per_file.append({"shard": ref.shard, "source": recipe.inputs[ref.input_index].source, "path": ref.path,
                         "read": read, "kept": kept, "dropped": dropped, "quarantined": q, "balanced": balanced})
    ops: dict[str, dict] = {}
    order = [op.op_id for op in recipe.ops]
    for results in stage_results:
        for r in results:
            for op_id, t in r["ops"].items():
                agg = ops.setdefault(op_id, {"rows_in": 0, "rows_out": 0, "seconds": 0.0, "counters": Counter()})
                agg["rows_in"] += t["rows_in"]
                agg["rows_out"] += t["rows_out"]
                agg["seconds"] += t["seconds"]
                agg["counters"].update(t["counters"])
    params = {op.op_id: op.params() for op in recipe.ops}
    op_rows = []
    for op_id in order + [k for k in ops if k not in order]:
        if op_id in ops and not any(r["op"] == op_id for r in op_rows):
            a = ops[op_id]
            drops = {k.split(":", 1)[1]: v for k, v in a["counters"].items() if k.startswith("dropped:")}
            op_rows.append({"op": op_id, "params": params.get(op_id.split(":")[0], {}), "rows_in": a["rows_in"],
                            "rows_out": a["rows_out"], "dropped": drops, "seconds": round(a["seconds"], 4),
                            "counters": dict(sorted(a["counters"].items()))})
    totals = {k: sum(f[k] for f in per_file) for k in ("read", "kept", "dropped", "quarantined")}
    return {"totals": totals, "per_file": per_file, "ops": op_rows, "reduces": reduces, "conservation_ok": ok}


def _count_column(directory: Path, column: str) -> dict[str, int]:
    counts: Counter = Counter()
    for f in sorted(directory.glob("part-*.parquet")):
        col = pq.read_table(f, columns=[column]).column(column)
        for item in pc.value_counts(col).to_pylist():
            counts[str(item["values"])] += item["counts"]
    return dict(sorted(counts.items()))


# ---------------------------------------------------------------- the flow


@flow(name="curate", log_prints=False)
def curate_flow(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
                run_id: str | None = None) -> str:
    """Run a recipe over its inputs; return the run directory (kept/, dropped/, quarantine/, run.json)."""
    logger = get_run_logger()
    recipe = load_recipe(recipe_path)
    if inputs:
        recipe = override_inputs(recipe, inputs)
    text = recipe.source_text  # tasks re-parse the recipe as written; --input only changes the shard list
    shards = plan_shards(recipe)
    ws = Path(workspace or recipe.workspace)
    run_id = run_id or new_run_id()
    run_dir = ws / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "recipe.yaml").write_text(recipe.source_text, encoding="utf-8")
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    segments = split_segments(recipe.ops)
    progress.start(total=len(shards) * len(segments), description=f"{recipe.name}: {len(shards)} shard(s)")
    stage_results: list[list[dict]] = []
    reduces: list[dict] = []
    inputs_json = [ref.__dict__ for ref in shards]
    for stage, seg in enumerate(segments):
        futures = [run_shard_stage.submit(recipe_path, text, str(run_dir), ref, stage) for ref in shards]
        stage_results.append([f.result() for f in futures])
        if seg.corpus is not None:
            reduces.append(run_reduce.submit(recipe_path, text, str(run_dir), stage).result())
    progress.stop()
    summary = summarise_run(recipe, shards, stage_results, reduces)
    record = {
        "run_id": run_id,
        "recipe": {"name": recipe.name, "path": recipe_path, "sha256": recipe.sha256, "dataset": recipe.dataset},
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "seconds": round(time.perf_counter() - t0, 3),
        "yuliao_version": YULIAO_VERSION,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "inputs": [{"source": s.source, "paths": s.paths, "licence": s.licence, "format": s.format} for s in recipe.inputs],
        "shards": inputs_json,
        "drops_by_reason": _count_column(run_dir / "dropped", DROP_REASON),
        "quarantine_by_error": _count_column(run_dir / "quarantine", "error"),
        **summary,
        "status": "completed" if summary["conservation_ok"] else "conservation_failed",
    }
    write_json_atomic(run_dir / "run.json", record)
    if not summary["conservation_ok"]:
        bad = [f for f in summary["per_file"] if not f["balanced"]]
        raise ConservationError(f"records lost or invented in {len(bad)} file(s): {bad}; see {run_dir / 'run.json'}")
    logger.info("run %s: %s", run_id, summary["totals"])
    return str(run_dir)


def override_inputs(recipe: Recipe, paths: list[str]) -> Recipe:
    """Return the recipe with every input's paths replaced by `paths` (the CLI's --input)."""
    new_inputs = [spec.model_copy(update={"paths": list(paths)}) for spec in recipe.inputs[:1]]
    return recipe.model_copy(update={"inputs": new_inputs})


def run_recipe(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
               run_id: str | None = None, runner: str | None = None, workers: int | None = None) -> Path:
    """Validate the recipe, then run the curation flow with the chosen task runner; return the run dir."""
    recipe = load_recipe(recipe_path)  # fail fast, before Prefect starts
    if inputs:
        recipe = override_inputs(recipe, inputs)
    plan_shards(recipe)
    kind = runner or recipe.run.runner
    n = workers or recipe.run.workers
    fl = curate_flow.with_options(task_runner=make_task_runner(kind, n, recipe.run.dask_address))
    return Path(fl(recipe_path=recipe_path, workspace=workspace, inputs=inputs, run_id=run_id))


def make_task_runner(kind: str, workers: int, dask_address: str | None = None):
    """Return the Prefect task runner for `kind` (thread, process or dask)."""
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    raise ValueError(f"unknown runner {kind!r}: thread, process or dask")


def file_sha256(path: Path) -> str:
    """Return the sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

"""The curation flow behind `yuliao run`: shards -> operators -> kept / dropped / quarantined Parquet.

Stages: the recipe's ops are cut at every CorpusOp. Stage 0 reads each shard and applies the ops
before the first CorpusOp; each CorpusOp then runs map (signatures per shard) -> reduce (one
task over the signatures) -> apply (per shard, followed by the next plain ops). Tasks pass file
paths; every stage's output is on disk under `<run_dir>/_stages/`, and a stage/shard whose
`done` record exists is not redone when the same run is resumed.
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import flow, get_run_logger, task
from prefect.futures import as_completed
from prefect.runtime import flow_run as flow_run_context

from flows import progress
from flows.io.notify import notify_failure
from flows.io.readers import read_input_file
from flows.io.recipe import Recipe, RecipeError, load_recipe
from flows.io.store import DROP_ONLY_COLUMNS, PartWriter, part_name, read_json, write_json_atomic
from flows.pii_guard import forget_removed_parts, remove_stage_parts, stages_before_redaction
from flows.plan import Segment, ShardRef, override_inputs, plan_shards, split_segments
from flows.resume import (INVOCATION, choose_run_id, clear_shard_outputs, digest, is_done, kill_checkpoint, prune_orphans,
                          stage_dir, stage_keys)
from flows.run_record import build_run_record, raise_if_unbalanced
from flows.server.flow_runs import mark_orphaned_flow_runs, mark_owner_returned, write_owner_record
from transforms.ops import Operator, OpStats, live_mask
from transforms.pii_surfaces import redact_dropped_rows, redact_quarantine, redaction_policy
from transforms.schema import ensure_decision_columns

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


def _batches_for_stage(recipe: Recipe, run_dir: Path, ref: ShardRef, stage: int, segments: list[Segment],
                       quarantine: PartWriter | None, counts: Counter):
    """Yield the input batches of a stage: raw reads for stage 0, the previous stage's file after."""
    if stage == 0:
        spec = recipe.inputs[ref.input_index]
        for rb in read_input_file(spec, ref.path, recipe.run.batch_rows, recipe.run.batch_chars):
            counts["read"] += rb.n_read
            counts["quarantined"] += rb.quarantine.num_rows
            if quarantine is not None:  # raw excerpts are redacted as the recipe redacts text
                quarantine.write(redact_quarantine(rb.quarantine, redaction_policy(recipe.ops)))
            yield ensure_decision_columns(rb.docs)
        return
    prev = stage_dir(run_dir, stage - 1) / part_name(ref.shard)
    if not prev.exists():
        return
    pf = pq.ParquetFile(prev)
    for rg in range(pf.num_row_groups):
        yield pf.read_row_group(rg)


@task(name="curate-shard-stage", retries=0)
def run_shard_stage(recipe_path: str, recipe_text: str, run_dir: str, ref: ShardRef, stage: int,
                    key: str = "") -> dict:
    """Run one stage of one shard: apply the stage's ops and write its outputs; return its tallies.

    When the stage's done record carries the same resume `key`, its outputs are reused as they are.
    """
    from flows.io.recipe import parse_recipe

    recipe = parse_recipe(recipe_text, where=recipe_path)
    rd = Path(run_dir)
    from flows.io.quality_model import bind_recipe_resources  # score_quality: load its model from <workspace>/models

    recipe = bind_recipe_resources(recipe, rd.parent.parent)
    segments = split_segments(recipe.ops)
    seg = segments[stage]
    sdir = stage_dir(rd, stage)
    done = sdir / f"done-{ref.shard:05d}.json"
    if is_done(done, key):
        return read_json(done) | {"resumed": True}

    counts: Counter = Counter()
    tallies: dict[str, _OpTally] = {}
    last = seg.corpus is None
    done.unlink(missing_ok=True)  # outputs are about to change: never leave a record that vouches for them
    clear_shard_outputs(rd, ref.shard, stage, last)
    quarantine = PartWriter(rd / "quarantine" / part_name(ref.shard)) if stage == 0 else None
    if last:
        kept = PartWriter(rd / "kept" / part_name(ref.shard), drop_columns=DROP_ONLY_COLUMNS)
        dropped = PartWriter(rd / "dropped" / part_name(ref.shard))
    else:
        staged = PartWriter(sdir / part_name(ref.shard))
        sigs = PartWriter(sdir / f"sig-{ref.shard:05d}.parquet")
    prev_corpus = segments[stage - 1].corpus if stage > 0 else None
    decisions = pq.read_table(stage_dir(rd, stage - 1) / "decisions.parquet") if prev_corpus is not None else None
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
            dropped.write(redact_dropped_rows(batch.filter(pc.invert(mask)), recipe.ops))  # rows dropped before redact_pii
        else:
            staged.write(redact_dropped_rows(batch, recipe.ops))  # dropped rows never reach redact_pii
            live = batch.filter(live_mask(batch))
            t0 = time.perf_counter()
            sig = seg.corpus.signatures(live, ref.shard)
            if "row" in sig.column_names:  # rows are numbered across the shard's batches
                sig = sig.set_column(sig.schema.get_field_index("row"), "row",
                                     pc.add(sig.column("row"), pa.scalar(row_base, sig.column("row").type)))
            row_base += live.num_rows
            tallies.setdefault(seg.corpus.op_id, _OpTally()).seconds += time.perf_counter() - t0  # map time counts toward the op
            sigs.write(sig)
        kill_checkpoint(f"stage{stage}:first-batch-written")  # mid-stage: a shard's part file is half written
    if quarantine is not None:
        quarantine.close()
    if last:
        counts["kept"] = kept.close()
        counts["dropped"] = dropped.close()
    else:
        counts["staged"] = staged.close()
        sigs.close()
    result = {"shard": ref.shard, "path": ref.path, "stage": stage, "counts": dict(counts),
              "ops": {k: v.to_json() for k, v in tallies.items()}, "key": key,
              "worker": f"{platform.node()}:{os.getpid()}"}  # where it ran (a Dask worker, on scale-out)
    write_json_atomic(done, result)
    kill_checkpoint(f"stage{stage}:first-shard-done")  # the others may still be running
    return result


@task(name="curate-reduce")
def run_reduce(recipe_path: str, recipe_text: str, run_dir: str, stage: int, key: str = "") -> dict:
    """Reduce one CorpusOp's signatures from all shards into a decisions file (reused when `key` matches)."""
    from flows.io.recipe import parse_recipe

    recipe = parse_recipe(recipe_text, where=recipe_path)
    op = split_segments(recipe.ops)[stage].corpus
    sdir = stage_dir(Path(run_dir), stage)
    out = sdir / "decisions.parquet"
    record = sdir / "done-reduce.json"
    if out.exists() and is_done(record, key):
        return read_json(record) | {"resumed": True}
    record.unlink(missing_ok=True)
    t0 = time.perf_counter()
    files = sorted(sdir.glob("sig-*.parquet"))
    against = release_signatures(Path(run_dir).parent.parent, op)
    if against:
        # Incremental: deduplicate this run against stored release signatures (stored rows win).
        from flows.dedup import reduce_from_files

        decisions = reduce_from_files(op, files, existing=[f for _, fs in against for f in fs], temp_dir=sdir / "duckdb-tmp")
    elif files:
        decisions = op.reduce(pa.concat_tables([pq.read_table(f) for f in files]))
    else:
        decisions = op.reduce(op.signatures(ensure_decision_columns(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})), 0))
    tmp = sdir / ".decisions.parquet.tmp"
    pq.write_table(decisions, tmp, compression="zstd")
    os.replace(tmp, out)
    kill_checkpoint(f"reduce{stage}:decisions-written")  # decisions in place, their done record not yet
    result = {"stage": stage, "decisions": decisions.num_rows, "seconds": round(time.perf_counter() - t0, 4), "key": key}
    if against:
        result["against"] = [name for name, _ in against]
    write_json_atomic(record, result)
    kill_checkpoint(f"reduce{stage}:done")
    return result


def release_signatures(workspace: Path, op: Operator) -> list[tuple[str, list[Path]]]:
    """Resolve a dedup op's `against` releases to their stored signature files, checking parameters match."""
    refs = getattr(op, "against", ())
    if not refs:
        return []
    from flows.dedup import check_op_spec
    from flows.io.release_store import resolve_ref

    out = []
    for text in refs:
        ref = resolve_ref(workspace, text)
        sig_dir = ref.path / RELEASE_SIGNATURES_DIR / op.name
        if not sig_dir.is_dir():
            raise RecipeError(f"{op.op_id}: {ref.name} stores no {op.name} signatures (published before yuliao kept them, "
                              f"or its run had no {op.name} step); republish it or drop it from 'against'")
        check_op_spec(sig_dir, op)
        out.append((ref.name, sorted(sig_dir.glob("part-*.parquet"))))
    return out


RELEASE_SIGNATURES_DIR = "_signatures"


# ---------------------------------------------------------------- the flow


def mark_orphans(workspace: Path, logger) -> None:
    """Mark the Prefect flow runs of this workspace's killed runs Crashed; never fail the run over it."""
    try:
        marked = mark_orphaned_flow_runs(workspace)
    except Exception as exc:  # the API refusing a state change must not stop curation
        logger.warning("could not mark killed runs crashed in Prefect: %s: %s", type(exc).__name__, exc)
        return
    for run_id in marked:
        logger.warning("run %s: its flow run was left running by a killed process; marked Crashed", run_id)


def open_run_dir(ws: Path, run_id: str, recipe: Recipe, recipe_path: str, inputs: list[str] | None, plan_key: str) -> Path:
    """Create (or reopen) the run directory and record who runs it and with what, before any work."""
    run_dir = ws / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_owner_record(run_dir, flow_run_context.get_id())
    (run_dir / "run.json").unlink(missing_ok=True)  # a record of an earlier attempt must not outlive its outputs
    write_json_atomic(run_dir / INVOCATION, {
        "recipe_name": recipe.name, "recipe_path": os.path.abspath(recipe_path), "recipe_sha256": recipe.sha256,
        "workspace": os.path.abspath(ws), "inputs": inputs, "plan_key": plan_key,
        "started_at": datetime.now(timezone.utc).isoformat()})
    (run_dir / "recipe.yaml").write_text(recipe.source_text, encoding="utf-8")
    return run_dir


def run_stages(recipe_path: str, recipe: Recipe, run_dir: Path, shards: list[ShardRef], segments: list[Segment],
               keys: list[dict[int, str]], reduce_keys: list[str]) -> tuple[list[list[dict]], list[dict]]:
    """Submit every shard stage and reduce in order; return the stage results and the reduce results."""
    text = recipe.source_text  # tasks re-parse the recipe as written; --input only changes the shard list
    progress.start(total=len(shards) * len(segments), description=f"{recipe.name}: {len(shards)} shard(s)")
    stage_results: list[list[dict]] = []
    reduces: list[dict] = []
    for stage, seg in enumerate(segments):
        futures = [run_shard_stage.submit(recipe_path, text, str(run_dir), ref, stage, keys[stage][ref.shard])
                   for ref in shards]
        for f in as_completed(futures):  # progress is drawn here, in the flow's process: tasks may run on Dask workers
            progress.advance(f.result()["path"])
        stage_results.append([f.result() for f in futures])
        kill_checkpoint(f"stage{stage}:all-shards-done")
        if seg.corpus is not None:
            reduces.append(run_reduce.submit(recipe_path, text, str(run_dir), stage, reduce_keys[stage]).result())
    progress.stop()
    return stage_results, reduces


@flow(name="curate", log_prints=False, on_failure=[notify_failure], on_crashed=[notify_failure])
def curate_flow(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
                run_id: str | None = None, resume: bool = False) -> str:
    """Run a recipe over its inputs; return the run directory (kept/, dropped/, quarantine/, run.json).

    An existing `run_id` is resumed: shard stages and reduces whose resume key is unchanged are
    reused, everything else is redone. With `resume=True` and no run id, the newest incomplete run
    of the same recipe and inputs is resumed (or a new run started when there is none). The HTML
    report is not written here: flows/entrypoints.py adds it as a completion hook.
    """
    logger = get_run_logger()
    recipe = override_inputs(load_recipe(recipe_path), inputs) if inputs else load_recipe(recipe_path)
    shards = plan_shards(recipe)
    segments = split_segments(recipe.ops)
    ws = Path(workspace or recipe.workspace)
    # Inputs are identified by size+mtime; YULIAO_RESUME_HASH=sha256 hashes their bytes (for stores that rewrite mtimes).
    keys, reduce_keys = stage_keys(recipe, shards, hash_bytes=os.environ.get("YULIAO_RESUME_HASH") == "sha256")
    plan_key = digest(recipe.name, sorted(keys[-1].values()))
    run_id, resumed = choose_run_id(ws, recipe.name, plan_key, run_id, resume)
    if resumed:
        logger.info("resuming incomplete run %s", run_id)
    mark_orphans(ws, logger)  # before our own record exists: a killed earlier attempt of this run is one of them
    run_dir = open_run_dir(ws, run_id, recipe, recipe_path, inputs, plan_key)
    kill_checkpoint("run:started")
    started, t0 = datetime.now(timezone.utc), time.perf_counter()
    prune_orphans(run_dir, shards, len(segments))
    forget_removed_parts(run_dir, keys)  # a completed run's stage parts are gone: redo what would read them
    stage_results, reduces = run_stages(recipe_path, recipe, run_dir, shards, segments, keys, reduce_keys)
    record = build_run_record(recipe, recipe_path, run_id, run_dir, shards, len(segments), stage_results, reduces,
                              started, time.perf_counter() - t0)
    kill_checkpoint("run:before-record")
    write_json_atomic(run_dir / "run.json", record)
    if record["status"] == "completed":  # parts written before redact_pii ran hold raw text; only a resume needed them
        remove_stage_parts(run_dir, stages_before_redaction(recipe.ops))
    kill_checkpoint("run:after-record")
    mark_owner_returned(run_dir)  # from here Prefect records the end itself (Completed or Failed)
    raise_if_unbalanced(record, run_dir)
    logger.info("run %s: %s", run_id, record["totals"])
    return str(run_dir)

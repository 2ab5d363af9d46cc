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
import signal
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
from prefect.futures import as_completed
from prefect.runtime import flow_run as flow_run_context

from flows import progress
from flows.server.flow_runs import mark_orphaned_flow_runs, mark_owner_returned, write_owner_record
from flows.io.notify import notify_failure
from flows.pii_guard import forget_removed_parts, remove_stage_parts, stages_before_redaction
from flows.plan import Segment, ShardRef, override_inputs, plan_shards, split_segments
from flows.io.readers import read_input_file
from flows.io.recipe import Recipe, RecipeError, load_recipe
from flows.io.store import DROP_ONLY_COLUMNS, PartWriter, file_sha256, part_name, read_json, write_json_atomic
from transforms.ops import Operator, OpStats, live_mask
from transforms.pii_surfaces import redact_dropped_rows, redact_quarantine, redaction_policy
from transforms.schema import DROP_REASON, ensure_decision_columns

YULIAO_VERSION = "0.1.0"


class ConservationError(RuntimeError):
    """Read != kept + dropped + quarantined for some input file: something was lost."""


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


# ---------------------------------------------------------------- kill checkpoints (a test hook)

KILL_AT_ENV = "YULIAO_TEST_KILL_AT"


def kill_checkpoint(name: str) -> None:
    """Test hook: SIGKILL this whole process group when $YULIAO_TEST_KILL_AT equals `name`; inert otherwise.

    The kill matrix (tests/flows/test_resume.py, scripts/kill_matrix.py) starts `yuliao run` in its own
    session with this variable set, so a crash lands at an exact, named moment of the run in the
    flow or in whichever worker process gets there first. Names: `kill_checkpoints`.
    """
    if os.environ.get(KILL_AT_ENV) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def kill_checkpoints(n_stages: int) -> list[str]:
    """Return every kill checkpoint of a run with `n_stages` stages, in the order a run passes them."""
    names = ["run:started"]
    for s in range(n_stages):
        names += [f"stage{s}:first-batch-written", f"stage{s}:first-shard-done", f"stage{s}:all-shards-done"]
        if s < n_stages - 1:
            names += [f"reduce{s}:decisions-written", f"reduce{s}:done"]
    return names + ["run:before-record", "run:after-record"]


# ---------------------------------------------------------------- resume keys


def _digest(*parts: object) -> str:
    """Return a short sha256 over the canonical JSON of `parts`."""
    import json

    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:32]


def input_fingerprint(path: str, hash_bytes: bool = False) -> dict:
    """Return what identifies an input file's content: size and mtime (or its sha256 when asked)."""
    st = os.stat(path)
    fp = {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if hash_bytes:
        fp = {"path": fp["path"], "size": st.st_size, "sha256": file_sha256(Path(path))}
    return fp


def _op_spec(op: Operator | None) -> dict | None:
    return None if op is None else {"op": op.op_id, "params": op.params()}


def stage_keys(recipe: Recipe, shards: list[ShardRef], hash_bytes: bool = False) -> tuple[list[dict[int, str]], list[str]]:
    """Return the resume key of every (stage, shard) and of every stage's reduce.

    A stage's key covers the shard's input (fingerprint and reader settings), the code version,
    the batch size and every op up to and including that stage (name@version and parameters);
    a later stage also chains the previous stage's key and the reduce it applies, so any upstream
    change invalidates everything downstream of it.
    """
    segments = split_segments(recipe.ops)
    keys: list[dict[int, str]] = []
    reduce_keys: list[str] = []
    for stage, seg in enumerate(segments):
        ops = [_op_spec(op) for op in seg.ops] + [_op_spec(seg.corpus)]
        row: dict[int, str] = {}
        for ref in shards:
            if stage == 0:
                spec = recipe.inputs[ref.input_index].model_dump(mode="json")
                upstream = {"input": spec, "file": input_fingerprint(ref.path, hash_bytes), "shard": ref.shard,
                            "batch_rows": recipe.run.batch_rows, "yuliao": YULIAO_VERSION}
            else:
                upstream = {"prev": keys[stage - 1][ref.shard], "reduce": reduce_keys[stage - 1]}
            row[ref.shard] = _digest(f"stage{stage}", upstream, ops)
        keys.append(row)
        reduce_keys.append(_digest(f"reduce{stage}", sorted(row.values()), _op_spec(seg.corpus)))
    return keys, reduce_keys


def _is_done(record: Path, key: str) -> bool:
    """True when a done record exists and was written for exactly this key."""
    if not record.exists():
        return False
    try:
        return read_json(record).get("key") == key
    except (OSError, ValueError):
        return False  # a torn or foreign record: redo the work


def _clear_shard_outputs(run_dir: Path, shard: int, stage: int, last: bool) -> None:
    """Remove what an earlier, different attempt of this shard's stage may have left behind."""
    stale = [_stage_dir(run_dir, stage) / part_name(shard), _stage_dir(run_dir, stage) / f"sig-{shard:05d}.parquet"]
    if stage == 0:
        stale.append(run_dir / "quarantine" / part_name(shard))
    if last:
        stale += [run_dir / "kept" / part_name(shard), run_dir / "dropped" / part_name(shard)]
    for p in stale:
        p.unlink(missing_ok=True)


def prune_orphans(run_dir: Path, shards: list[ShardRef], n_stages: int) -> None:
    """Delete outputs of shards or stages a resumed run no longer has (its inputs or ops changed)."""
    import re
    import shutil

    live = {ref.shard for ref in shards}
    pat = re.compile(r"(?:part|sig|done)-(\d{5})\.(?:parquet|json)$")
    for sub in ("kept", "dropped", "quarantine", *(f"_stages/s{s:02d}" for s in range(n_stages))):
        d = run_dir / sub
        for p in d.glob("*-*.*") if d.is_dir() else ():
            m = pat.search(p.name)
            if m and int(m.group(1)) not in live:
                p.unlink(missing_ok=True)
    for d in (run_dir / "_stages").glob("s*") if (run_dir / "_stages").is_dir() else ():
        if d.is_dir() and d.name[1:].isdigit() and int(d.name[1:]) >= n_stages:
            shutil.rmtree(d)


INVOCATION = "_invocation.json"


def find_incomplete_run(workspace: Path, recipe_name: str, plan_key: str) -> str | None:
    """Return the newest run of this recipe and exactly these inputs that has not completed."""
    runs = workspace / "runs"
    for d in sorted(runs.iterdir(), reverse=True) if runs.is_dir() else ():
        inv = d / INVOCATION
        if not inv.exists():
            continue
        try:
            meta = read_json(inv)
        except (OSError, ValueError):
            continue
        if meta.get("recipe_name") != recipe_name or meta.get("plan_key") != plan_key:
            continue
        done = d / "run.json"
        if not done.exists() or read_json(done).get("status") != "completed":
            return d.name
    return None


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
            if quarantine is not None:  # raw excerpts are redacted as the recipe redacts text
                quarantine.write(redact_quarantine(rb.quarantine, redaction_policy(recipe.ops)))
            yield ensure_decision_columns(rb.docs)
        return
    prev = _stage_dir(run_dir, stage - 1) / part_name(ref.shard)
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
    sdir = _stage_dir(rd, stage)
    done = sdir / f"done-{ref.shard:05d}.json"
    if _is_done(done, key):
        return read_json(done) | {"resumed": True}

    counts: Counter = Counter()
    tallies: dict[str, _OpTally] = {}
    last = seg.corpus is None
    done.unlink(missing_ok=True)  # outputs are about to change: never leave a record that vouches for them
    _clear_shard_outputs(rd, ref.shard, stage, last)
    quarantine = PartWriter(rd / "quarantine" / part_name(ref.shard)) if stage == 0 else None
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
    sdir = _stage_dir(Path(run_dir), stage)
    out = sdir / "decisions.parquet"
    record = sdir / "done-reduce.json"
    if out.exists() and _is_done(record, key):
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


@task(name="curate-report")
def run_report(run_dir: str) -> str:
    """Write the run's HTML report and publish its Prefect artifacts (funnel, language mix, op time, link)."""
    from flows.report.artifacts import report_and_artifacts

    return str(report_and_artifacts(Path(run_dir)))


def mark_orphans(workspace: Path, logger) -> None:
    """Mark the Prefect flow runs of this workspace's killed runs Crashed; never fail the run over it."""
    try:
        marked = mark_orphaned_flow_runs(workspace)
    except Exception as exc:  # the API refusing a state change must not stop curation
        logger.warning("could not mark killed runs crashed in Prefect: %s: %s", type(exc).__name__, exc)
        return
    for run_id in marked:
        logger.warning("run %s: its flow run was left running by a killed process; marked Crashed", run_id)


@flow(name="curate", log_prints=False, on_failure=[notify_failure], on_crashed=[notify_failure])
def curate_flow(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
                run_id: str | None = None, resume: bool = False) -> str:
    """Run a recipe over its inputs; return the run directory (kept/, dropped/, quarantine/, run.json).

    An existing `run_id` is resumed: shard stages and reduces whose resume key is unchanged are
    reused, everything else is redone. With `resume=True` and no run id, the newest incomplete run
    of the same recipe and inputs is resumed (or a new run started when there is none).
    """
    logger = get_run_logger()
    recipe = load_recipe(recipe_path)
    if inputs:
        recipe = override_inputs(recipe, inputs)
    text = recipe.source_text  # tasks re-parse the recipe as written; --input only changes the shard list
    shards = plan_shards(recipe)
    ws = Path(workspace or recipe.workspace)
    # Inputs are identified by size+mtime; YULIAO_RESUME_HASH=sha256 hashes their bytes (for stores that rewrite mtimes).
    keys, reduce_keys = stage_keys(recipe, shards, hash_bytes=os.environ.get("YULIAO_RESUME_HASH") == "sha256")
    plan_key = _digest(recipe.name, sorted(keys[-1].values()))
    if run_id is None and resume:
        run_id = find_incomplete_run(ws, recipe.name, plan_key)
        if run_id:
            logger.info("resuming incomplete run %s", run_id)
    run_id = run_id or new_run_id()
    mark_orphans(ws, logger)  # before our own record exists: a killed earlier attempt of this run is one of them
    run_dir = ws / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    write_owner_record(run_dir, flow_run_context.get_id())
    (run_dir / "run.json").unlink(missing_ok=True)  # a record of an earlier attempt must not outlive its outputs
    write_json_atomic(run_dir / INVOCATION, {
        "recipe_name": recipe.name, "recipe_path": os.path.abspath(recipe_path), "recipe_sha256": recipe.sha256,
        "workspace": os.path.abspath(ws), "inputs": inputs, "plan_key": plan_key,
        "started_at": datetime.now(timezone.utc).isoformat()})
    (run_dir / "recipe.yaml").write_text(recipe.source_text, encoding="utf-8")
    kill_checkpoint("run:started")
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    segments = split_segments(recipe.ops)
    prune_orphans(run_dir, shards, len(segments))
    forget_removed_parts(run_dir, keys)  # a completed run's stage parts are gone: redo what would read them
    progress.start(total=len(shards) * len(segments), description=f"{recipe.name}: {len(shards)} shard(s)")
    stage_results: list[list[dict]] = []
    reduces: list[dict] = []
    inputs_json = [ref.__dict__ for ref in shards]
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
    reused = sum(1 for results in stage_results for r in results if r.get("resumed"))
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
        "resume": {"shard_stages": len(shards) * len(segments), "shard_stages_reused": reused,
                   "reduces_reused": sum(1 for r in reduces if r.get("resumed"))},
        "status": "completed" if summary["conservation_ok"] else "conservation_failed",
    }
    kill_checkpoint("run:before-record")
    write_json_atomic(run_dir / "run.json", record)
    if record["status"] == "completed":  # parts written before redact_pii ran hold raw text; only a resume needed them
        remove_stage_parts(run_dir, stages_before_redaction(recipe.ops))
    kill_checkpoint("run:after-record")
    try:
        run_report(str(run_dir))
    except Exception as exc:  # the report is a view of the run; a bug in it must not fail the curation itself
        logger.warning("run report not written: %s: %s", type(exc).__name__, exc)
    mark_owner_returned(run_dir)  # from here Prefect records the end itself (Completed or Failed)
    if not summary["conservation_ok"]:
        bad = [f for f in summary["per_file"] if not f["balanced"]]
        raise ConservationError(f"records lost or invented in {len(bad)} file(s): {bad}; see {run_dir / 'run.json'}")
    logger.info("run %s: %s", run_id, summary["totals"])
    return str(run_dir)


def run_recipe(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
               run_id: str | None = None, runner: str | None = None, workers: int | None = None,
               resume: bool = False) -> Path:
    """Validate the recipe, then run the curation flow with the chosen task runner; return the run dir."""
    recipe = load_recipe(recipe_path)  # fail fast, before Prefect starts
    if inputs:
        recipe = override_inputs(recipe, inputs)
    plan_shards(recipe)
    for seg in split_segments(recipe.ops):  # releases named in `against` must exist and match, before any work
        if seg.corpus is not None:
            from flows.io.release_store import ReleaseError

            try:
                release_signatures(Path(workspace or recipe.workspace), seg.corpus)
            except (ValueError, ReleaseError) as exc:
                raise RecipeError(f"{recipe_path}: {seg.corpus.op_id}: {exc}") from None
    kind = runner or recipe.run.runner
    n = workers or recipe.run.workers
    fl = curate_flow.with_options(task_runner=make_task_runner(kind, n, recipe.run.dask_address))
    from flows.server.resident_api import flow_api

    with flow_api():
        return Path(fl(recipe_path=recipe_path, workspace=workspace, inputs=inputs, run_id=run_id, resume=resume))


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


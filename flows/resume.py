"""Resuming a killed run: resume keys, done records, what a new attempt clears, and the kill checkpoints that test it.

A shard's stage is reused only when its done record carries the same resume key (docs/operations.md,
"Resumable runs"); everything here reads or writes the run directory, nothing runs operators.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

from flows.io.recipe import Recipe
from flows.io.store import file_sha256, part_name, read_json
from flows.plan import ShardRef, split_segments
from flows.run_record import YULIAO_VERSION, new_run_id
from transforms.ops import Operator

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


def digest(*parts: object) -> str:
    """Return a short sha256 over the canonical JSON of `parts`."""
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
                            "batch_rows": recipe.run.batch_rows, "batch_chars": recipe.run.batch_chars,
                            "yuliao": YULIAO_VERSION}
            else:
                upstream = {"prev": keys[stage - 1][ref.shard], "reduce": reduce_keys[stage - 1]}
            row[ref.shard] = digest(f"stage{stage}", upstream, ops)
        keys.append(row)
        reduce_keys.append(digest(f"reduce{stage}", sorted(row.values()), _op_spec(seg.corpus)))
    return keys, reduce_keys


def is_done(record: Path, key: str) -> bool:
    """True when a done record exists and was written for exactly this key."""
    if not record.exists():
        return False
    try:
        return read_json(record).get("key") == key
    except (OSError, ValueError):
        return False  # a torn or foreign record: redo the work


def clear_shard_outputs(run_dir: Path, shard: int, stage: int, last: bool) -> None:
    """Remove what an earlier, different attempt of this shard's stage may have left behind."""
    stale = [stage_dir(run_dir, stage) / part_name(shard), stage_dir(run_dir, stage) / f"sig-{shard:05d}.parquet"]
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


def stage_dir(run_dir: Path, stage: int) -> Path:
    """Return the directory holding stage `stage`'s intermediate parts and done records."""
    return run_dir / "_stages" / f"s{stage:02d}"


def choose_run_id(workspace: Path, recipe_name: str, plan_key: str, run_id: str | None, resume: bool) -> tuple[str, bool]:
    """Return the run id to use and whether it resumes an incomplete run found in the workspace."""
    if run_id is None and resume:
        found = find_incomplete_run(workspace, recipe_name, plan_key)
        if found:
            return found, True
    return run_id or new_run_id(), False

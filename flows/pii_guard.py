"""Keep raw text out of a finished run directory: stage files written before redaction go once the run completes.

`_stages/sNN/part-*.parquet` hold every row as it was after stage N (the ops up to the N-th
CorpusOp). Their dropped rows are redacted as they are written (`redact_dropped_rows`), and
stages at or after the one holding the recipe's `redact_pii` hold redacted live rows, so those
parts are kept: a later run of the same run id reuses them. Parts of the stages *before* the
redaction (a dedup placed ahead of `redact_pii`) hold raw text by necessity, and are only needed
until the run completes: `remove_stage_parts` deletes them then, keeping the small files later
steps read (signatures, which a release keeps for `against` dedup; reduce decisions; done
records). A done record whose part is gone gets `parts_removed: true`; `forget_removed_parts`
runs when a run id is run again and, for a shard with a stage to redo, forgets those records so
the stages are recomputed from the inputs instead of read from a file that no longer exists. A
shard whose every stage is still done is reused as it is. Recipes that do not redact keep all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from flows.plan import split_segments
from flows.io.store import PARQUET_COMPRESSION, write_json_atomic
from transforms.ops import Operator
from transforms.pii_surfaces import is_redacting, redact_dropped_rows, redact_quarantine, redaction_policy

STAGES_DIR = "_stages"


def _stage_dirs(run_dir: Path) -> list[Path]:
    root = run_dir / STAGES_DIR
    return sorted(d for d in root.glob("s*") if d.is_dir() and d.name[1:].isdigit()) if root.is_dir() else []


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stages_before_redaction(ops: list[Operator]) -> list[int]:
    """Return the stages whose parts are written before the recipe's first redacting op runs ([] if it redacts nothing)."""
    for stage, seg in enumerate(split_segments(ops)):
        if any(is_redacting(op) for op in seg.ops):
            return list(range(stage))
    return []


def remove_stage_parts(run_dir: Path, stages: list[int]) -> int:
    """Delete the staged row files of `stages` of a completed run, marking their done records; return files removed."""
    removed = 0
    for sdir in _stage_dirs(run_dir):
        if int(sdir.name[1:]) not in stages:
            continue
        for part in sorted(sdir.glob("part-*.parquet")):
            done = sdir / f"done-{part.name[len('part-'):-len('.parquet')]}.json"
            record = _read(done)
            if record is not None and not record.get("parts_removed"):
                write_json_atomic(done, {**record, "parts_removed": True})  # before the unlink: never a silent gap
            part.unlink()
            removed += 1
    return removed


def forget_removed_parts(run_dir: Path, keys: list[dict[int, str]]) -> list[str]:
    """Unmark-as-done the stages whose parts were removed, for every shard with a stage left to do; return them."""
    dirs = {int(d.name[1:]): d for d in _stage_dirs(run_dir)}
    forgotten = []
    shards = set().union(*(k.keys() for k in keys)) if keys else set()
    for shard in sorted(shards):
        records = {s: _read(dirs[s] / f"done-{shard:05d}.json") if s in dirs else None for s in range(len(keys))}
        if all(records[s] is not None and records[s].get("key") == keys[s].get(shard) for s in range(len(keys))):
            continue  # every stage is reused: no stage reads a removed part
        for s, record in records.items():
            if record is not None and record.get("parts_removed"):
                (dirs[s] / f"done-{shard:05d}.json").unlink(missing_ok=True)
                forgotten.append(f"s{s:02d}/{shard:05d}")
    return forgotten


def copy_history_part(src: Path, dest: Path, role: str, ops: list[Operator]) -> None:
    """Copy a run's dropped/quarantine part into a release, redacted as the recipe redacts (runs by older code were not).

    For a run written by this code the redaction finds nothing left to do and the rows are
    unchanged; a recipe that redacts nothing is copied byte for byte.
    """
    policy = redaction_policy(ops)
    if policy is None:
        shutil.copyfile(src, dest)
        return
    table = pq.read_table(src)
    table = redact_quarantine(table, policy) if role == "quarantine" else redact_dropped_rows(table, ops)
    tmp = dest.with_name(f".{dest.name}.tmp")
    pq.write_table(table, tmp, compression=PARQUET_COMPRESSION)
    tmp.replace(dest)

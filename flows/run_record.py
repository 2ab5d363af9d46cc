"""The run record: run ids, run.json's contents, per-file conservation, and the error raised when it fails."""

from __future__ import annotations

import platform
import subprocess
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.io.recipe import Recipe
from flows.plan import ShardRef
from transforms.schema import DROP_REASON

YULIAO_VERSION = "0.1.0"


class ConservationError(RuntimeError):
    """Read != kept + dropped + quarantined for some input file: something was lost."""

    def __init__(self, message: str, run_dir: Path | None = None) -> None:
        super().__init__(message)
        self.run_dir = run_dir  # the report of a failed run is still written from here


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


def count_column(directory: Path, column: str) -> dict[str, int]:
    counts: Counter = Counter()
    for f in sorted(directory.glob("part-*.parquet")):
        col = pq.read_table(f, columns=[column]).column(column)
        for item in pc.value_counts(col).to_pylist():
            counts[str(item["values"])] += item["counts"]
    return dict(sorted(counts.items()))


def build_run_record(recipe: Recipe, recipe_path: str, run_id: str, run_dir: Path, shards: list[ShardRef],
                     n_stages: int, stage_results: list[list[dict]], reduces: list[dict],
                     started: datetime, seconds: float) -> dict:
    """Return run.json's contents for a run whose every shard stage and reduce has finished."""
    summary = summarise_run(recipe, shards, stage_results, reduces)
    reused = sum(1 for results in stage_results for r in results if r.get("resumed"))
    return {
        "run_id": run_id,
        "recipe": {"name": recipe.name, "path": recipe_path, "sha256": recipe.sha256, "dataset": recipe.dataset},
        "started_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "seconds": round(seconds, 3),
        "yuliao_version": YULIAO_VERSION,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "inputs": [{"source": s.source, "paths": s.paths, "licence": s.licence, "format": s.format} for s in recipe.inputs],
        "shards": [ref.__dict__ for ref in shards],
        "drops_by_reason": count_column(run_dir / "dropped", DROP_REASON),
        "quarantine_by_error": count_column(run_dir / "quarantine", "error"),
        **summary,
        "resume": {"shard_stages": len(shards) * n_stages, "shard_stages_reused": reused,
                   "reduces_reused": sum(1 for r in reduces if r.get("resumed"))},
        "status": "completed" if summary["conservation_ok"] else "conservation_failed",
    }


def raise_if_unbalanced(record: dict, run_dir: Path) -> None:
    """Raise ConservationError naming the files whose read count is not kept + dropped + quarantined."""
    if not record["conservation_ok"]:
        bad = [f for f in record["per_file"] if not f["balanced"]]
        raise ConservationError(f"records lost or invented in {len(bad)} file(s): {bad}; see {run_dir / 'run.json'}", run_dir)

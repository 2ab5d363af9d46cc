"""The kill matrix: SIGKILL `yuliao run` at a named checkpoint, `yuliao resume` it, compare every column.

Shared by tests/flows/test_resume.py (a representative subset) and scripts/kill_matrix.py (every
checkpoint). The run is the demo recipe's whole op list (Unicode/whitespace clean, PII, langid,
every quality scorer, a filter, exact and near dedup: three stages, two reduces) on the first lines
of every bundled sample file, with the process runner and small batches, so shards have several
batches and two worker processes run at once. The CLI runs in its own session; the test hook
$YULIAO_TEST_KILL_AT (flows.curate.kill_checkpoint) SIGKILLs that whole process group (the CLI,
its workers and any Prefect API it started) when the named moment is reached.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
DEMO = ROOT / "configs" / "recipes" / "demo.yaml"
N_STAGES = 3  # the demo recipe has two corpus ops (dedup_exact, dedup_near)

# Columns of the output tables that may differ between two runs of the same recipe and inputs: none.
# Every column is derived from the input bytes and the ops (ids hash the input path and line, the
# trace lists op@version); the run id and times live only in run.json, whose comparable view below
# leaves out exactly those fields.
RUN_SPECIFIC_COLUMNS: frozenset[str] = frozenset()
# run.json fields that describe this attempt, not the data: its id and times, how long ops took,
# what a resume reused, which process ran each shard, the git commit and Python of the process.
RUN_SPECIFIC_RECORD_FIELDS = ("run_id", "started_at", "finished_at", "seconds", "resume", "git_commit", "python")
SORT_KEYS = {"kept": ["id"], "dropped": ["id"], "quarantine": ["source_uri", "error"]}


def make_inputs(dest: Path, lines_per_file: int) -> Path:
    """Copy the first `lines_per_file` lines of every sample JSONL file into `dest`; return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(SAMPLE.glob("*.jsonl")):
        with open(src, "rb") as f:
            head = [line for _, line in zip(range(lines_per_file), f)]
        (dest / src.name).write_bytes(b"".join(head))
    return dest


def matrix_recipe(d: Path, inputs: Path, batch_rows: int = 16, runner: str = "process") -> Path:
    """Write the demo recipe's ops over `inputs` with small batches and the given runner; return its path."""
    import yaml

    demo = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    recipe = {"name": "kill-matrix", "workspace": str(d / "ws"),
              "inputs": [{"source": "sample", "paths": [f"{inputs}/*.jsonl"], "licence": "mixed"}],
              "ops": demo["ops"], "run": {"runner": runner, "workers": 2, "batch_rows": batch_rows}}
    path = d / "kill-matrix.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _column_digest(col: pa.ChunkedArray) -> str:
    """Return a sha256 over a column's values (floats by repr, so 0.1 and 0.1000001 differ)."""
    blob = json.dumps(col.to_pylist(), ensure_ascii=False, default=repr, allow_nan=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def read_kind(run_dir: Path, kind: str) -> pa.Table | None:
    """Return every part of kept/, dropped/ or quarantine/ as one table sorted by its key (None if no parts)."""
    files = sorted((run_dir / kind).glob("part-*.parquet"))
    if not files:
        return None
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    return table.sort_by([(k, "ascending") for k in SORT_KEYS[kind]])


def table_digests(run_dir: Path) -> dict[str, dict[str, str]]:
    """Return {kind: {column: digest}} plus each kind's part-file names and row count, for an exact comparison."""
    out: dict[str, dict[str, str]] = {}
    for kind in SORT_KEYS:
        files = sorted(p.name for p in (run_dir / kind).glob("part-*.parquet"))
        table = read_kind(run_dir, kind)
        entry = {"_parts": ",".join(files), "_rows": str(0 if table is None else table.num_rows)}
        if table is not None:
            entry["_schema"] = hashlib.sha256(str(table.schema).encode()).hexdigest()[:16]
            for name in table.column_names:
                if name not in RUN_SPECIFIC_COLUMNS:
                    entry[name] = _column_digest(table.column(name))
        out[kind] = entry
    return out


def record_view(run_dir: Path) -> dict:
    """Return run.json without its run-specific fields (and without per-op seconds)."""
    rec = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    view = {k: v for k, v in rec.items() if k not in RUN_SPECIFIC_RECORD_FIELDS}
    view["ops"] = [{k: v for k, v in op.items() if k != "seconds"} for op in rec["ops"]]
    view["reduces"] = [{k: v for k, v in r.items() if k not in ("seconds", "resumed")} for r in rec["reduces"]]
    return view


def differences(a: Path, b: Path) -> list[str]:
    """Return what differs between two run directories' outputs: '<kind>.<column>' or 'run.json:<field>'."""
    da, db = table_digests(a), table_digests(b)
    diff = [f"{kind}.{col}" for kind in SORT_KEYS for col in sorted(set(da[kind]) | set(db[kind]))
            if da[kind].get(col) != db[kind].get(col)]
    ra, rb = record_view(a), record_view(b)
    diff += [f"run.json:{k}" for k in sorted(set(ra) | set(rb)) if ra.get(k) != rb.get(k)]
    return diff


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `yuliao` subprocess: this checkout first on the path, plus `extra`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("YULIAO_TEST_KILL_AT", None)
    env.update(extra or {})
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run `yuliao ARGS` in its own session (so a group kill stays inside it); return its result."""
    proc = subprocess.Popen([sys.executable, "-c", "from flows.cli.main import main; main()", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of its group still alive (a worker): gone
        except ProcessLookupError:
            pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@dataclass
class KillResult:
    """One cell of the matrix: where it was killed, whether the kill happened, what differs after resume."""

    checkpoint: str
    killed: bool
    resumed_ok: bool
    differences: list[str] = field(default_factory=list)
    killed_flow_run: str | None = None
    seconds: float = 0.0
    detail: str = ""

    @property
    def equal(self) -> bool:
        return self.killed and self.resumed_ok and not self.differences


def kill_and_resume(checkpoint: str, recipe: Path, workspace: Path, reference: Path, env: dict[str, str],
                    timeout: float = 600, resume_runner: str | None = None) -> KillResult:
    """Run the recipe until `checkpoint` SIGKILLs it, resume it with `yuliao resume`, and diff against `reference`."""
    t0 = time.perf_counter()
    run_id = "k-" + checkpoint.replace(":", "-")
    killed = run_cli(["run", str(recipe), "-w", str(workspace), "--run-id", run_id],
                     {**env, "YULIAO_TEST_KILL_AT": checkpoint}, timeout)
    run_dir = workspace / "runs" / run_id
    result = KillResult(checkpoint, killed=killed.returncode == -signal.SIGKILL, resumed_ok=False)
    if not result.killed:
        result.detail = f"not killed: exit {killed.returncode}\n{killed.stderr[-2000:]}"
        return result
    owner = run_dir / "_flow_run.json"
    if owner.exists():
        result.killed_flow_run = json.loads(owner.read_text(encoding="utf-8")).get("flow_run_id")
    runner = ["--runner", resume_runner] if resume_runner else []
    resumed = run_cli(["resume", run_id, "-w", str(workspace), *runner], env, timeout)
    result.resumed_ok = resumed.returncode == 0
    if not result.resumed_ok:
        result.detail = f"resume exit {resumed.returncode}\n{resumed.stderr[-3000:]}"
    else:
        result.differences = differences(run_dir, reference)
    result.seconds = round(time.perf_counter() - t0, 1)
    return result

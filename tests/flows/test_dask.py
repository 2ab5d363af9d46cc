"""Scale-out: the demo recipe on a local Dask cluster (prefect-dask) gives the default runner's output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.entrypoints import run_recipe

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configs" / "recipes" / "demo.yaml"


def _parts(run_dir: Path, kind: str) -> dict:
    return {f.name: pq.read_table(f) for f in sorted((run_dir / kind).glob("part-*.parquet"))}


def test_demo_on_local_dask_cluster_matches_thread_runner(tmp_path, prefect_api):
    threads = run_recipe(str(DEMO), workspace=str(tmp_path / "threads"), run_id="t", runner="thread")
    dask = run_recipe(str(DEMO), workspace=str(tmp_path / "dask"), run_id="d", runner="dask", workers=2)

    for kind in ("kept", "dropped", "quarantine"):
        a, b = _parts(threads, kind), _parts(dask, kind)
        assert a.keys() == b.keys() and a, kind
        for name in a:
            assert a[name].equals(b[name]), f"{kind}/{name}"
    ra, rb = (json.loads((r / "run.json").read_text()) for r in (threads, dask))
    for key in ("totals", "per_file", "drops_by_reason", "quarantine_by_error", "conservation_ok"):
        assert ra[key] == rb[key], key

    # The shard tasks really ran in Dask worker processes, not in this one.
    workers = {json.loads(f.read_text())["worker"] for f in (dask / "_stages").rglob("done-0*.json")}
    assert workers and all(not w.endswith(f":{os.getpid()}") for w in workers)
    thread_workers = {json.loads(f.read_text())["worker"] for f in (threads / "_stages").rglob("done-0*.json")}
    assert thread_workers == {f"{os.uname().nodename}:{os.getpid()}"}

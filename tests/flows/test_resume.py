"""Resumable runs: a SIGKILLed run, resumed, gives exactly the output of an uninterrupted run.

The killed run executes in a subprocess whose reader is wrapped so one shard stalls; the test waits
until every other shard's stage-0 done record exists, kills the whole process group, then resumes
the run in-process while counting which input files are read again.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flows.curate as curate
from flows.entrypoints import run_recipe

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
# A fixed set of six sample files, so shard and stage counts below do not move when the sample grows.
SAMPLE_FILES = ("cantonese.jsonl", "damaged_export.jsonl", "sentences.jsonl", "sohu_news.jsonl",
                "song_ci.jsonl", "tang_poems.jsonl")
STALLED = "sentences.jsonl"  # shard 2 of the six sample files (sorted by name)

DRIVER = textwrap.dedent("""\
    import sys, time
    import flows.curate as c

    recipe, run_id, stalled = sys.argv[1:4]
    real = c.read_input_file

    def stalling_reader(spec, path, batch_rows, batch_chars=None):
        if path.endswith(stalled):
            time.sleep(3600)  # the test kills us here
        yield from real(spec, path, batch_rows, batch_chars)

    c.read_input_file = stalling_reader
    from flows.entrypoints import run_recipe
    run_recipe(recipe, run_id=run_id, runner="thread", workers=2)
    """)


def _recipe(d: Path, inputs: Path, min_chars: int = 6) -> Path:
    p = d / "r.yaml"
    p.write_text(textwrap.dedent(f"""\
        name: resume-test
        workspace: {d / 'ws'}
        inputs:
          - source: sample
            paths: ["{inputs}/*.jsonl"]
            licence: mixed
        ops:
          - op: normalize_whitespace
          - op: drop_short_docs
            min_chars: {min_chars}
          - op: dedup_exact
            normalize: [whitespace, width, case]
        run:
          workers: 2
        """), encoding="utf-8")
    return p


def _parts(run_dir: Path, kind: str) -> dict[str, pa.Table]:
    return {f.name: pq.read_table(f) for f in sorted((run_dir / kind).glob("part-*.parquet"))}


def _assert_same_output(a: Path, b: Path) -> None:
    for kind in ("kept", "dropped", "quarantine"):
        pa_, pb = _parts(a, kind), _parts(b, kind)
        assert pa_.keys() == pb.keys(), kind
        for name in pa_:
            assert pa_[name].equals(pb[name]), f"{kind}/{name} differs"
    ka = pa.concat_tables(_parts(a, "kept").values())
    kb = pa.concat_tables(_parts(b, "kept").values())
    assert ka.column("id").to_pylist() == kb.column("id").to_pylist()
    assert "".join(ka.column("text").to_pylist()).encode() == "".join(kb.column("text").to_pylist()).encode()


class ReadCounter:
    """Wraps the curate flow's reader to record which input files are read (thread runner: same process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.paths: list[str] = []
        real = curate.read_input_file

        def counting(spec, path, batch_rows, batch_chars=None):
            self.paths.append(Path(path).name)
            yield from real(spec, path, batch_rows, batch_chars)

        monkeypatch.setattr(curate, "read_input_file", counting)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A copy of the sample corpus (ids and source_uri name the input path, so every run reads these)."""
    d = tmp_path_factory.mktemp("inputs")
    for name in SAMPLE_FILES:
        shutil.copy2(SAMPLE / name, d / name)
    return d


@pytest.fixture(scope="module")
def reference(tmp_path_factory, inputs, prefect_api) -> Path:
    d = tmp_path_factory.mktemp("reference")
    return run_recipe(str(_recipe(d, inputs)), run_id="uninterrupted", runner="thread")


def _api_env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()  # the session's test server: no ephemeral start-up
    return env


def _done(run_dir: Path, stage: int) -> dict[str, int]:
    sdir = run_dir / "_stages" / f"s{stage:02d}"
    return {f.name: f.stat().st_mtime_ns for f in sorted(sdir.glob("done-0*.json"))}


def test_sigkilled_run_resumes_to_identical_output(tmp_path, inputs, reference, monkeypatch):
    ref_run = reference
    recipe = _recipe(tmp_path, inputs)
    run_dir = tmp_path / "ws" / "runs" / "killed"
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(driver), str(recipe), "killed", STALLED], cwd=ROOT, env=_api_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    others = {f"done-{i:05d}.json" for i in (0, 1, 3, 4, 5)}
    try:
        deadline = time.monotonic() + 240
        while not others <= set(_done(run_dir, 0)):
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the other shards never finished stage 0"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and anything it started
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = _done(run_dir, 0)
    assert set(before) == others, "the stalled shard must not have finished"
    assert not (run_dir / "run.json").exists()

    reads = ReadCounter(monkeypatch)
    resumed = run_recipe(str(recipe), run_id="killed", runner="thread")

    assert reads.paths == [STALLED], "only the unfinished shard is read again"
    after = _done(run_dir, 0)
    assert {k: after[k] for k in before} == before, "finished shards' done records were rewritten"
    rec = json.loads((resumed / "run.json").read_text())
    assert rec["status"] == "completed"
    assert rec["resume"] == {"shard_stages": 12, "shard_stages_reused": 5, "reduces_reused": 0}
    ref_rec = json.loads((ref_run / "run.json").read_text())
    assert rec["totals"] == ref_rec["totals"] and rec["drops_by_reason"] == ref_rec["drops_by_reason"]
    _assert_same_output(resumed, ref_run)


def test_resume_latest_incomplete_run(tmp_path, inputs, reference, monkeypatch):
    recipe = _recipe(tmp_path, inputs)
    first = run_recipe(str(recipe), run_id="20000101T000000Z-aaaaaa", runner="thread")
    (first / "run.json").unlink()  # as if it died after its last task
    reads = ReadCounter(monkeypatch)
    again = run_recipe(str(recipe), runner="thread", resume=True)
    assert again == first and reads.paths == []
    assert json.loads((again / "run.json").read_text())["resume"]["shard_stages_reused"] == 12
    fresh = run_recipe(str(recipe), runner="thread", resume=True)  # nothing incomplete: a new run
    assert fresh != first
    _assert_same_output(fresh, reference)


def test_changed_parameter_or_input_invalidates_what_depends_on_it(tmp_path, inputs, reference, monkeypatch):
    recipe = _recipe(tmp_path, inputs)
    run = run_recipe(str(recipe), run_id="r", runner="thread")

    # An input file touched: only that shard is read again; stage 1 redoes every shard (new dedup decisions).
    os.utime(inputs / "song_ci.jsonl", ns=(time.time_ns(), time.time_ns()))
    reads = ReadCounter(monkeypatch)
    run_recipe(str(recipe), run_id="r", runner="thread")
    assert reads.paths == ["song_ci.jsonl"]
    rec = json.loads((run / "run.json").read_text())
    assert rec["resume"] == {"shard_stages": 12, "shard_stages_reused": 5, "reduces_reused": 0}
    _assert_same_output(run, reference)

    # A parameter changed: everything is redone, and the output is that of a fresh run of the new recipe.
    reads.paths.clear()
    recipe = _recipe(tmp_path, inputs, min_chars=40)
    run_recipe(str(recipe), run_id="r", runner="thread")
    assert sorted(reads.paths) == sorted(SAMPLE_FILES)
    fresh = run_recipe(str(recipe), run_id="fresh", runner="thread")
    _assert_same_output(run, fresh)
    assert json.loads((run / "run.json").read_text())["drops_by_reason"]["too_short"] > rec["drops_by_reason"]["too_short"]


def test_sha256_keys_ignore_mtime_but_not_content(tmp_path, inputs, prefect_api, monkeypatch):
    monkeypatch.setenv("YULIAO_RESUME_HASH", "sha256")
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy2(inputs / "sohu_news.jsonl", src / "a.jsonl")
    shutil.copy2(inputs / "song_ci.jsonl", src / "b.jsonl")
    recipe = _recipe(tmp_path, src)
    run_recipe(str(recipe), run_id="h", runner="thread")
    os.utime(src / "a.jsonl", ns=(time.time_ns(), time.time_ns()))  # same bytes, new mtime: still done
    reads = ReadCounter(monkeypatch)
    run_recipe(str(recipe), run_id="h", runner="thread")
    assert reads.paths == []
    with open(src / "b.jsonl", "a", encoding="utf-8") as f:  # new bytes: that shard is redone
        f.write('{"text": "新的一行，内容不同。"}\n')
    run_recipe(str(recipe), run_id="h", runner="thread")
    assert reads.paths == ["b.jsonl"]


# ---------------------------------------------------------------- the kill matrix (a representative subset)
# The whole matrix (every checkpoint of tests/flows/_kill_matrix.py) is scripts/kill_matrix.py; its
# last output is bench/results/kill_matrix.md. Here, to keep the suite bounded on a loaded 2-core
# machine: the middle of the first stage, and between a reduce's output and its done record
# (process runner throughout).
SUITE_CHECKPOINTS = ("stage0:first-batch-written", "reduce0:decisions-written")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, prefect_api):
    """Inputs, recipe, workspace, CLI environment and an uninterrupted reference run for the kill matrix."""
    from prefect.settings import PREFECT_API_URL

    from tests.flows import _kill_matrix as km

    d = tmp_path_factory.mktemp("kill-matrix")
    inputs = km.make_inputs(d / "inputs", lines_per_file=24)
    recipe = km.matrix_recipe(d, inputs, batch_rows=10)
    env = km.cli_env({"PREFECT_API_URL": PREFECT_API_URL.value(), "YULIAO_HOME": str(d / "home")})
    ws = d / "ws"
    ref = km.run_cli(["run", str(recipe), "-w", str(ws), "--run-id", "reference"], env, timeout=600)
    assert ref.returncode == 0, ref.stderr[-3000:]
    return {"recipe": recipe, "ws": ws, "env": env, "reference": ws / "runs" / "reference"}


def _flow_run_state(flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state.type.value


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("checkpoint", SUITE_CHECKPOINTS)
def test_kill_at_checkpoint_then_resume_equals_uninterrupted_run_in_every_column(matrix, checkpoint):
    from tests.flows import _kill_matrix as km

    r = km.kill_and_resume(checkpoint, matrix["recipe"], matrix["ws"], matrix["reference"], matrix["env"])
    assert r.killed and r.resumed_ok, r.detail
    assert r.differences == [], f"resumed after a kill at {checkpoint}: differs in {r.differences}"
    ref = km.table_digests(matrix["reference"])
    assert int(ref["kept"]["_rows"]) > 100 and int(ref["dropped"]["_rows"]) > 0 and int(ref["quarantine"]["_rows"]) > 0
    assert {"lang", "script", "lang_conf", "trace", "signal_stopword_share", "pii_counts"} <= set(ref["kept"])
    # The killed attempt's flow run was left RUNNING by its dead process; the resume marked it Crashed.
    assert r.killed_flow_run and _flow_run_state(r.killed_flow_run) == "CRASHED"


def test_differences_sees_a_change_in_any_column(matrix, tmp_path):
    """The comparison itself can fail: one changed lang_conf value or one trace entry is reported."""
    from tests.flows import _kill_matrix as km

    copy = tmp_path / "copy"
    shutil.copytree(matrix["reference"], copy)
    assert km.differences(copy, matrix["reference"]) == []
    part = sorted((copy / "kept").glob("part-*.parquet"))[0]
    t = pq.read_table(part)
    i = t.schema.get_field_index("lang_conf")
    conf = t.column("lang_conf").to_pylist()
    conf[0] = (conf[0] or 0) + 1e-6
    pq.write_table(t.set_column(i, t.schema.field(i), pa.array(conf, t.schema.field(i).type)), part)
    assert km.differences(copy, matrix["reference"]) == ["kept.lang_conf"]


# ---------------------------------------------------------------- which flow runs were orphaned


def test_owner_record_tells_a_dead_process_from_a_live_one(tmp_path):
    from flows.server import flow_runs

    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    flow_runs.write_owner_record(run_dir, "00000000-0000-0000-0000-000000000001")
    rec = json.loads((run_dir / flow_runs.FLOW_RUN_RECORD).read_text())
    assert not flow_runs.owner_is_gone(rec)  # this very process
    assert flow_runs.orphaned_flow_runs(tmp_path) == []
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert flow_runs.owner_is_gone(rec | {"pid": int(done.stdout)})  # exited
    assert flow_runs.owner_is_gone(rec | {"pid_started": rec["pid_started"] - 1})  # pid reused by another process
    assert not flow_runs.owner_is_gone(rec | {"pid": int(done.stdout), "host": "another-host"})  # cannot tell: never marked
    (run_dir / flow_runs.FLOW_RUN_RECORD).write_text(json.dumps(rec | {"pid": int(done.stdout)}))
    assert [d.name for d, _ in flow_runs.orphaned_flow_runs(tmp_path)] == ["r"]
    (run_dir / "run.json").write_text(json.dumps({"status": "completed"}))
    assert [d.name for d, _ in flow_runs.orphaned_flow_runs(tmp_path)] == ["r"]  # killed after run.json: still RUNNING
    flow_runs.mark_owner_returned(run_dir)
    assert flow_runs.orphaned_flow_runs(tmp_path) == []  # its flow function returned: Prefect recorded the end

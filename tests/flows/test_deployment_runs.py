"""A real Prefect deployment of the curate flow, triggered three times in a row on each task runner,
completes every time with the same kept/dropped/quarantine tables (issue 15).

`prefect deployment run 'curate/curate-demo-nightly'` failed both times it was triggered: each flow
run starts in a fresh interpreter, its shard tasks run on threads, and the threads built the lazily
loaded langdetect profiles together (AxisError). Here the session's real Prefect server (the
`prefect_api` fixture) gets two served deployments of `flows/entrypoints.py:curate` (see
tests/flows/serve_curate.py): one on Prefect's default thread pool, exactly as configs/prefect.yaml
deploys it, one on a ProcessPoolTaskRunner. Each is triggered with `run_deployment`, like the CLI
command above, three times in a row.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
TRIGGERS = 2  # the race failed at the first trigger on 7ac76f6^; a second shows a re-run of a warm deployment agrees

RECIPE = """\
name: race-check
workspace: {ws}
inputs:
{inputs}
ops:
  - op: identify_language        # first: every shard reaches the lazily built models together
  - op: normalize_unicode
  - op: drop_short_docs
    min_chars: 6
  - op: keep_languages
    languages: [zh, yue, en, ja]
  - op: score_text_stats
  - op: score_stopwords
  - op: convert_script
    config: t2s
    output_column: text_t2s
  - op: dedup_near
    script: t2s
"""


def _write_inputs(tmp: Path) -> str:
    """Four same-sized mixed shards (zh-Hans/zh-Hant/yue/en/ja/ko/de/ru) from the bundled sample."""
    sources = {name: (SAMPLE / name).read_text(encoding="utf-8").splitlines()
               for name in ("sentences.jsonl", "cantonese.jsonl", "tang_poems.jsonl", "sohu_news.jsonl")}
    lines = []
    for shard in range(4):
        rows = [row for rows in sources.values() for row in rows[shard::40][:15]]
        path = tmp / f"shard{shard}.jsonl"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        lines.append(f"  - source: shard{shard}\n    paths: [{path}]\n    licence: MIT")
    return "\n".join(lines)


def _tables(run_dir: Path) -> dict[str, object]:
    return {f"{kind}/{f.name}": pq.read_table(f) for kind in ("kept", "dropped", "quarantine")
            for f in sorted((run_dir / kind).glob("part-*.parquet"))}


def _completed_runs(ws: Path) -> list[Path]:
    runs = sorted((ws / "runs").iterdir()) if (ws / "runs").is_dir() else []
    return [r for r in runs if (r / "run.json").is_file() and json.loads((r / "run.json").read_text())["status"] == "completed"]


@pytest.fixture()
def served(tmp_path, prefect_api):
    """Start `serve` for both deployments against the session's Prefect server; kill it afterwards."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.format(ws=tmp_path / "ws", inputs=_write_inputs(tmp_path)), encoding="utf-8")
    workspaces = {"thread": tmp_path / "ws-thread", "process": tmp_path / "ws-process"}
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tests.flows.serve_curate", str(recipe),
                             str(workspaces["thread"]), str(workspaces["process"])],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with get_client(sync_client=True) as client:
            for name in ("curate/race-check-thread", "curate/race-check-process"):
                deadline = time.monotonic() + 180
                while True:
                    try:
                        client.read_deployment_by_name(name)
                        break
                    except ObjectNotFound:
                        assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
                        assert time.monotonic() < deadline, f"{name} not registered in 180 s"
                        time.sleep(1)
        yield workspaces, tmp_path / "serve.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the serve process and the flow runs it spawned
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()


@pytest.mark.timeout(1500)
def test_served_curate_deployment_completes_three_times_with_the_same_outputs_on_threads_and_processes(served):
    from prefect.deployments import run_deployment

    workspaces, log = served
    outputs: dict[str, list[dict]] = {}
    for runner, ws in workspaces.items():
        for attempt in range(TRIGGERS):
            run = run_deployment(f"curate/race-check-{runner}", timeout=600, poll_interval=1, as_subflow=False)
            assert run.state is not None and run.state.is_completed(), (
                f"{runner} runner, trigger {attempt + 1}: {run.state}\n{log.read_text()[-4000:]}")
        runs = _completed_runs(ws)
        assert len(runs) == TRIGGERS, f"{runner}: {len(runs)} completed runs, expected {TRIGGERS} (a new run each time)"
        outputs[runner] = [_tables(r) for r in runs]

    reference = outputs["thread"][0]
    assert any(k.startswith("kept/") for k in reference) and any(k.startswith("dropped/") for k in reference)
    for runner, tables in outputs.items():
        for attempt, got in enumerate(tables):
            assert got.keys() == reference.keys(), f"{runner} run {attempt + 1}: files differ"
            differs = [name for name in got if not got[name].equals(reference[name])]
            assert not differs, f"{runner} run {attempt + 1}: {differs} differ from the first thread-runner run"

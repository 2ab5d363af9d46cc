"""Shared set-up for the release, lineage and catalog tests: two curated runs of a tiny corpus.

The corpus is one JSONL file rewritten between the runs at the same path (record ids name the file
and line), so v1 -> v2 has a known story: one record added (new line), one removed from the inputs
(line blanked), one removed by a stricter min_chars, one changed by a new normalize_whitespace op;
a duplicate, a too-short doc, a Japanese doc (gated out by `languages`) and a broken line throughout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]

LINES_V1 = [
    {"text": "今天天气很好，我们一起去公园散步吧。", "tag": "zh-a"},                  # 1 kept, dedup cluster representative
    {"text": "今天天气很好，我们一起去公园散步吧。", "tag": "zh-a-copy"},             # 2 exact duplicate of 1
    {"text": "The quick  brown fox jumps over the   lazy dog near the river bank.", "tag": "en-spaces"},  # 3 changed in v2
    {"text": "短", "tag": "short"},                                                   # 4 too_short
    {"text": "今日はとても良い天気ですね。散歩に行きましょう。", "tag": "ja"},          # 5 gate:languages
    {"text": "今日天氣好好，我哋一齊去公園行下啦。", "tag": "yue"},                    # 6 kept
    {"text": "人工智能正在改变我们的生活方式和工作方式。", "tag": "zh-b"},              # 7 blanked in v2
    {"text": "床前明月光，疑是地上霜。", "tag": "zh-c"},                                # 8 12 chars: too short in v2
    None,                                                                             # 9 broken JSON -> quarantine
]
ADDED_V2 = {"text": "Data pipelines need lineage so that model teams can trust every release.", "tag": "en-new"}

RECIPE = """name: tiny
workspace: {ws}
inputs:
  - source: tiny-corpus
    paths: [{path}]
    licence: CC-BY-4.0
ops:
{ops}
release:
  dataset: tiny
  gates:
    languages: [zh, en, yue]
  splits: {{train: 0.6, test: 0.4}}
  shard_max_rows: 2
  row_group_rows: 1
"""
OPS_V1 = """  - op: identify_language
  - op: drop_short_docs
    min_chars: 2
  - op: dedup_exact"""
OPS_V2 = """  - op: normalize_whitespace
  - op: identify_language
  - op: drop_short_docs
    min_chars: 13
  - op: dedup_exact"""

DRIVER = """import json, sys
from flows.release import release_flow
r = release_flow(run=sys.argv[1], workspace=sys.argv[2], refresh_catalog=False)
print("RESULT " + json.dumps({k: r[k] for k in ("name", "path", "version", "parent")}), flush=True)
"""

_CACHE: dict[str, dict] = {}


def op_id(name: str) -> str:
    """Return `name@version` as the registry has it now (tests must not pin op versions)."""
    from transforms.registry import known_ops

    return f"{name}@{known_ops()[name].version}"


NW, LID, SHORT, DEDUP = "normalize_whitespace", "identify_language", "drop_short_docs", "dedup_exact"


def _write_corpus(path: Path, lines: list[dict | None]) -> None:
    out = []
    for item in lines:
        if item is None:
            out.append('{"text": "这一行缺少右括号", ')
        elif item == {}:
            out.append("")
        else:
            out.append(json.dumps(item, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def curated_runs(tmp_path_factory) -> dict:
    """Run the two recipes once per session; return {'v1': run_dir, 'v2': run_dir, 'corpus': path}."""
    if _CACHE:
        return _CACHE["runs"]
    from flows.entrypoints import run_recipe

    base = tmp_path_factory.mktemp("release-src")
    corpus = base / "inputs" / "corpus.jsonl"
    corpus.parent.mkdir()
    ws = base / "ws"
    runs = {"corpus": corpus}
    _write_corpus(corpus, LINES_V1)
    r1 = base / "v1.yaml"
    r1.write_text(RECIPE.format(ws=ws, path=corpus, ops=OPS_V1), encoding="utf-8")
    runs["v1"] = run_recipe(str(r1), run_id="run-v1", runner="thread")
    lines_v2 = list(LINES_V1)
    lines_v2[6] = {}  # line 7 blanked: line numbers (and so ids) of the others stay
    lines_v2.append(ADDED_V2)
    _write_corpus(corpus, lines_v2)
    r2 = base / "v2.yaml"
    r2.write_text(RECIPE.format(ws=ws, path=corpus, ops=OPS_V2), encoding="utf-8")
    runs["v2"] = run_recipe(str(r2), run_id="run-v2", runner="thread")
    _CACHE["runs"] = runs
    return runs


def fresh_workspace(tmp_path: Path, runs: dict, *names: str) -> Path:
    """Copy the named runs into a new workspace (so each test publishes from scratch)."""
    ws = tmp_path / "ws"
    for name in names:
        shutil.copytree(runs[name], ws / "runs" / runs[name].name)
    return ws


def ids_by_line(run_dir: Path) -> dict[int, str]:
    """Return {line number: record id} over a run's kept and dropped rows."""
    out = {}
    for sub in ("kept", "dropped"):
        for f in sorted((run_dir / sub).glob("part-*.parquet")):
            for row in pq.read_table(f, columns=["id", "source_uri"]).to_pylist():
                out[int(row["source_uri"].rsplit(":", 1)[1])] = row["id"]
    return out


def api_env(**extra: str) -> dict[str, str]:
    """Environment for subprocess publishers: the session's Prefect test API, the repo on the path."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_API_URL=PREFECT_API_URL.value())
    env.update(extra)
    return env


def start_publisher(run_dir: Path, ws: Path, **env: str) -> subprocess.Popen:
    """Start `release_flow` in a separate Python process."""
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(run_dir), str(ws)], cwd=ROOT, env=api_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float = 240) -> str:
    """Read the publisher's stdout until a line starts with `prefix`; fail with its stderr if it exits."""
    import selectors
    import time

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=1):
            line = proc.stdout.readline()
            if line.startswith(prefix):
                return line
            if not line and proc.poll() is not None:
                break
    pytest.fail(f"publisher never printed {prefix!r}; rc={proc.poll()} stderr:\n{proc.stderr.read()[-3000:] if proc.poll() is not None else ''}")

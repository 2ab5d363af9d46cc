"""Lazily built models and tables are built once per process: N threads and M processes, each in a
fresh interpreter, give exactly the labels and signals of one thread (issue 15).

Before transforms.lazy.build_once, four threads reaching identify_language together in a fresh
process failed with AxisError or silently got other labels (English as Polish) from a langdetect
profile table built twice into one object. The worker (tests/transforms/lazy_worker.py) runs
language id (langdetect_nb, the seeded library, cantonesedetect, fastText lite), a cleaning +
language + quality-signal pipeline with stop words and script conversion, and dedup signatures,
with a barrier before each step so every thread hits each first use at the same moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THREADS = 4
PROCESSES = 2


def _start_worker(threads: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "tests.transforms.lazy_worker", str(threads)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"worker failed:\n{err[-3000:]}"
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def single_thread_reference() -> dict[str, str]:
    """Digests of every step from one thread in a fresh interpreter."""
    res = _result(_start_worker(1))
    assert not res["errors"], res["errors"]
    return res["outputs"][0]


@pytest.mark.timeout(600)
def test_threads_in_a_fresh_interpreter_match_one_thread(single_thread_reference):
    res = _result(_start_worker(THREADS))
    assert not res["errors"], "\n".join(res["errors"])
    for i, digests in enumerate(res["outputs"]):
        differs = [step for step, d in digests.items() if d != single_thread_reference[step]]
        assert not differs, f"thread {i} of {THREADS}: steps {differs} differ from the single-thread run"


@pytest.mark.timeout(600)
def test_processes_started_together_match_one_thread(single_thread_reference):
    procs = [_start_worker(2) for _ in range(PROCESSES)]  # each a fresh interpreter, two threads inside
    for p, proc in enumerate(procs):
        res = _result(proc)
        assert not res["errors"], "\n".join(res["errors"])
        for i, digests in enumerate(res["outputs"]):
            differs = [step for step, d in digests.items() if d != single_thread_reference[step]]
            assert not differs, f"process {p} thread {i}: steps {differs} differ from the single-thread run"


def _sources() -> list[Path]:
    # bench/.venv-datatrove (bench/e2e/setup_datatrove.sh) holds other projects' code, some not even UTF-8.
    return [p for d in ("transforms", "quality", "flows", "bench") for p in (ROOT / d).rglob("*.py")
            if not any(part.startswith(".venv") for part in p.relative_to(ROOT).parts)]


def test_no_unlocked_memoisation_in_the_pipeline_code():
    """functools.cache / lru_cache let two threads run a loader together: build_once is the one cache."""
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _sources() if p.parts[-2:] != ("transforms", "lazy.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if "lru_cache" in line or "functools.cache" in line or line.strip() in ("@cache", "@cached_property")]
    assert not offenders, f"use transforms.lazy.build_once instead: {offenders}"


def test_only_the_locked_loader_touches_langdetects_global_factory():
    """langdetect.detect/detect_langs/init_factory fill a module global without a lock; only
    transforms.langid._langdetect_factory (under build_once) may call them."""
    import re

    calls = re.compile(r"\b(init_factory|detect_langs|langdetect\.detect)\b|from langdetect import .*\bdetect\b")
    offenders = []
    for p in _sources():
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if calls.search(line):
                offenders.append((p.relative_to(ROOT).as_posix(), line.strip()))
    allowed = {("transforms/langid.py", "from langdetect.detector_factory import init_factory"),
               ("transforms/langid.py", "init_factory()")}
    assert set(offenders) <= allowed, f"langdetect's global factory touched outside the locked loader: {offenders}"
    assert allowed <= set(offenders)  # the pattern still finds the loader itself

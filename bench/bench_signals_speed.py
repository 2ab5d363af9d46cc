"""Compiled (numba) vs reference quality-signal paths, side by side on real text, with ratios.

Run: .venv/bin/python bench/bench_signals_speed.py [--shards 2] [--repeat 3]
Writes bench/results/signals_speed.md (date, machine, load, command, table).

Corpus: the e2e corpus shards (bench/out/e2e/corpus/part-*.jsonl, built by bench/e2e/build_corpus.py:
zh-Hant/zh-Hans/ja/en/yue, Tang anthologies, SOHU, Debian docs); each shard is one Arrow batch,
as the e2e recipe's batch_rows=20000 makes it. Falls back to bench_quality's shared-corpora set.

For each of score_text_stats, score_line_stats and score_repetition the two paths run
interleaved in one process, pinned to one thread (pyarrow cpu_count=1), and every round checks
the compiled columns equal the reference columns (Arrow equality, bit for bit):

* reference: the pyarrow/numpy code the ops ran before the compiled kernels (tests/quality/signals_numpy_reference.py; for
  text stats without the ftfy window prefilter: ftfy on every MOJIBAKE_TRIGGER_RE row).
* compiled: the default path.

First-call cost is measured in fresh subprocesses: with an empty numba cache (JIT compile) and
with the cache filled (cache=True: load from __pycache__).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quality import signals  # noqa: E402
from tests.quality import signals_numpy_reference as ref_impl  # noqa: E402

E2E_CORPUS = ROOT / "bench" / "out" / "e2e" / "corpus"

FIRST_CALL_SNIPPET = """
import time
t0 = time.process_time()
import pyarrow as pa
from quality.signals import line_stat_columns, repetition_columns, text_stat_columns
t1 = time.process_time()
text = pa.array(["第一行文字。\\n第二行 text", "the cat sat on the mat " * 5])
text_stat_columns(text, 0.3); line_stat_columns(text, 30); repetition_columns(text, "auto", 0.3)
t2 = time.process_time()
print(t1 - t0, t2 - t1)
"""


def load_texts(shards: int) -> tuple[list[pa.Array], str]:
    """Return one string array per batch and a description of the corpus."""
    paths = sorted(E2E_CORPUS.glob("part-*.jsonl"))[:shards]
    if paths:
        batches = [pa.array([json.loads(line)["text"] for line in p.open(encoding="utf-8")], pa.string()) for p in paths]
        return batches, f"e2e corpus, {len(paths)} shard(s): " + ", ".join(p.name for p in paths)
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_quality import load_corpus

    texts = [t for _, t in load_corpus()]
    return [pa.array(texts, pa.string())], "bench_quality shared-corpora set (e2e corpus not built)"


def reference_text_stats(text: pa.Array) -> dict[str, pa.Array]:
    """text_stat_columns as it ran before the compiled path: regex passes, ftfy on every trigger row."""
    window = signals.mojibake_window_re
    signals.mojibake_window_re = lambda: None  # type: ignore[assignment]
    try:
        return ref_impl.text_stat_columns_reference(text, 0.3)
    finally:
        signals.mojibake_window_re = window


OPS: dict[str, tuple[Callable[[pa.Array], dict], Callable[[pa.Array], dict]]] = {
    "score_text_stats": (reference_text_stats, lambda t: signals.text_stat_columns(t, 0.3)),
    "score_line_stats": (lambda t: ref_impl.line_stat_columns_reference(t, 30), lambda t: signals.line_stat_columns(t, 30)),
    "score_repetition": (
        lambda t: ref_impl.repetition_columns_reference(t, "auto", 0.3),
        lambda t: signals.repetition_columns(t, "auto", 0.3),
    ),
}


def cpu_seconds(fn: Callable[[pa.Array], dict], batches: list[pa.Array]) -> tuple[float, list[dict]]:
    t0 = time.process_time()
    out = [fn(b) for b in batches]
    return time.process_time() - t0, out


def first_call_seconds(empty_cache: bool) -> tuple[float, float]:
    """Return (import s, first call s) of the three compiled ops in a fresh process (CPU time)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        if empty_cache:
            env["NUMBA_CACHE_DIR"] = tmp
        out = subprocess.run([sys.executable, "-c", FIRST_CALL_SNIPPET], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    imp, call = out.stdout.split()
    return float(imp), float(call)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    batches, corpus = load_texts(args.shards)
    n_docs = sum(len(b) for b in batches)
    mb = sum(b.nbytes for b in batches) / 1e6
    for _, fast in OPS.values():  # warm: JIT/cache load and the class table are first-call costs, measured below
        fast(batches[0].slice(0, 10))
    load_before = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {op: {"reference": [], "compiled": []} for op in OPS}
    for _ in range(args.repeat):
        for op, (ref_fn, fast_fn) in OPS.items():
            ref_s, ref_out = cpu_seconds(ref_fn, batches)
            fast_s, fast_out = cpu_seconds(fast_fn, batches)
            for r, f in zip(ref_out, fast_out):
                bad = [k for k in r if not r[k].equals(f[k])]
                if bad or r.keys() != f.keys():
                    raise SystemExit(f"{op}: compiled columns differ from the reference: {bad}")
            times[op]["reference"].append(ref_s)
            times[op]["compiled"].append(fast_s)
    load_after = os.getloadavg()
    cold = first_call_seconds(empty_cache=True)
    warm = first_call_seconds(empty_cache=False)
    lines = [
        "# Quality signals: compiled (numba) vs reference paths",
        "",
        f"Command: `.venv/bin/python bench/bench_signals_speed.py --shards {args.shards} --repeat {args.repeat}`  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pyarrow {pa.__version__}; one thread (pyarrow cpu_count=1).  ",
        f"Load average (1 min) before/after: {load_before[0]:.1f} / {load_after[0]:.1f} (2 cores shared with other engineers' jobs; "
        "CPU seconds, both paths interleaved in one process, best of the runs).",
        "",
        f"Corpus: {corpus}; {n_docs:,} documents, {mb:.1f} MB of Arrow string data, one batch per shard.",
        "Every run checked that the compiled columns equal the reference columns (pyarrow `equals`, bit for bit).",
        "",
        "| op | reference CPU s | compiled CPU s | speed-up | compiled MB/s |",
        "|---|---:|---:|---:|---:|",
    ]
    ref_total = fast_total = 0.0
    for op, t in times.items():
        ref_s, fast_s = min(t["reference"]), min(t["compiled"])
        ref_total += ref_s
        fast_total += fast_s
        lines.append(f"| {op} | {ref_s:.2f} | {fast_s:.2f} | {ref_s / fast_s:.1f}x | {mb / fast_s:.0f} |")
    lines.append(f"| all three | {ref_total:.2f} | {fast_total:.2f} | {ref_total / fast_total:.1f}x | {mb / fast_total:.0f} |")
    runs = "; ".join(
        f"{op}: ref " + ", ".join(f"{x:.2f}" for x in t["reference"]) + " / compiled " + ", ".join(f"{x:.2f}" for x in t["compiled"])
        for op, t in times.items()
    )
    lines += [
        "",
        f"All runs, CPU s: {runs}",
        "",
        "First call in a fresh process (CPU s; import of quality.signals, then the three ops on a 2-document batch,",
        "which includes loading numba and building the code-point class table, ~0.3-0.4 s):",
        "",
        "| numba cache | import s | first call s |",
        "|---|---:|---:|",
        f"| empty (JIT compile of every kernel) | {cold[0]:.2f} | {cold[1]:.2f} |",
        f"| filled (cache=True, __pycache__) | {warm[0]:.2f} | {warm[1]:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    (ROOT / "bench" / "results" / "signals_speed.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

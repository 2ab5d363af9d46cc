"""Peak memory and CPU of score_text_stats, score_line_stats and score_repetition on one shard, whole batch vs chunks.

Run: .venv/bin/python bench/bench_signal_memory.py [--shard .yuliao/multilingual-corpus/part-00001.jsonl[,more.jsonl]]
     [--chunks whole,4194304,1048576] [--rounds 3] [--write]
(build the shard first with scripts/build_multilingual_corpus.py). With --write, appends a section to
bench/results/signal_memory.md (date, machine, load, command, table).

The parent reads the shard into one Arrow batch (one row per JSON line, as a pool worker's batch),
imports the scorers and runs each once on a few rows (numba kernels loaded, character table
built), then forks one child per measurement, so every child starts from the same warm state and
only the op's own allocations are counted:

* memory children: a thread samples psutil memory_full_info() (USS, RSS) every ~2 ms while the
  op runs; reported: peak minus the value just before the op (USS: pages private to the child,
  i.e. what the op allocated or copied; RSS: also counts shared pages it touched), and the
  child's ru_maxrss minus its RSS before the op.
* CPU children (no sampler thread): process_time() around op.apply.

"whole" sets quality.signals.SIGNAL_CHUNK_BYTES to sys.maxsize: one chunk, the unchunked code
path; the other values are chunk sizes in UTF-8 bytes. Configurations alternate within each
round, and every child checks its output table equals the whole-batch one (fingerprint).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quality import signals  # noqa: E402
from transforms.ops import OpStats  # noqa: E402

OPS = {
    "score_text_stats": signals.ScoreTextStats,
    "score_line_stats": signals.ScoreLineStats,
    "score_repetition": lambda: signals.ScoreRepetition(unit="auto"),
}
MB = 1 << 20


def read_shard(*paths: Path) -> pa.Table:
    ids, texts = [], []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                ids.append(str(rec.get("id")))
                texts.append(rec.get("text"))
    return pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})


def fingerprint(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def child(op_name: str, chunk: int, table: pa.Table, sample: bool, wfd: int) -> None:
    signals.SIGNAL_CHUNK_BYTES = chunk
    op = OPS[op_name]()
    proc = psutil.Process()
    peak = {"uss": 0, "rss": 0}
    stop = threading.Event()
    before = proc.memory_full_info()

    def sampler() -> None:
        while not stop.is_set():
            info = proc.memory_full_info()
            peak["uss"] = max(peak["uss"], info.uss)
            peak["rss"] = max(peak["rss"], info.rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sampler, daemon=True) if sample else None
    if thread:
        thread.start()
    t0 = time.process_time()
    out = op.apply(table, OpStats())
    cpu = time.process_time() - t0
    if thread:
        stop.set()
        thread.join()
        info = proc.memory_full_info()
        peak["uss"] = max(peak["uss"], info.uss)
        peak["rss"] = max(peak["rss"], info.rss)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result = {
        "cpu": cpu,
        "uss": (peak["uss"] - before.uss) / MB if sample else None,
        "rss": (peak["rss"] - before.rss) / MB if sample else None,
        "maxrss": (maxrss - before.rss) / MB,
        "fp": fingerprint(out),
    }
    os.write(wfd, json.dumps(result).encode())
    os.close(wfd)


def run_forked(op_name: str, chunk: int, table: pa.Table, sample: bool) -> dict:
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            child(op_name, chunk, table, sample, wfd)
        finally:
            os._exit(0)
    os.close(wfd)
    data = b""
    while chunk_bytes := os.read(rfd, 65536):
        data += chunk_bytes
    os.close(rfd)
    os.waitpid(pid, 0)
    return json.loads(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", default=str(ROOT / ".yuliao" / "multilingual-corpus" / "part-00001.jsonl"),
                    help="JSONL file(s), comma-separated: read into one batch")
    ap.add_argument("--chunks", default="whole,4194304,2097152,1048576")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    shards = [Path(p) for p in args.shard.split(",")]
    table = read_shard(*shards)
    text_bytes = sum(len(t.encode()) for t in table.column("text").to_pylist() if t)
    warm = table.slice(0, 50)
    for make in OPS.values():
        make().apply(warm, OpStats())
    chunks = [(c, sys.maxsize if c == "whole" else int(c)) for c in args.chunks.split(",")]

    load_before = os.getloadavg()
    rows: dict[tuple[str, str], dict[str, list]] = {}
    for op_name in OPS:
        for rnd in range(args.rounds):
            order = chunks if rnd % 2 == 0 else chunks[::-1]  # alternate which configuration runs first
            for label, size in order:
                mem = run_forked(op_name, size, table, sample=True)
                cpu = run_forked(op_name, size, table, sample=False)
                rec = rows.setdefault((op_name, label), {k: [] for k in ("cpu", "uss", "rss", "maxrss", "fp")})
                rec["cpu"].append(cpu["cpu"])
                for k in ("uss", "rss"):
                    rec[k].append(mem[k])
                rec["maxrss"].append(cpu["maxrss"])
                rec["fp"] += [mem["fp"], cpu["fp"]]
                print(op_name, label, f"cpu {cpu['cpu']:.3f}s uss +{mem['uss']:.1f} MB rss +{mem['rss']:.1f} MB "
                      f"maxrss +{cpu['maxrss']:.1f} MB", flush=True)
    load_after = os.getloadavg()

    lines = [
        f"| op | chunk | peak USS growth MB (median) | peak RSS growth MB | ru_maxrss growth MB | CPU s (median of {args.rounds}) | CPU / whole | output = whole |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for op_name in OPS:
        base = rows[(op_name, "whole")] if (op_name, "whole") in rows else rows[(op_name, chunks[0][0])]
        base_cpu = statistics.median(base["cpu"])
        for label, _ in chunks:
            rec = rows[(op_name, label)]
            same = set(rec["fp"]) == set(base["fp"]) and len(set(rec["fp"])) == 1
            name = "whole (unchunked)" if label == "whole" else f"{int(label) / MB:g} MB"
            cpu = statistics.median(rec["cpu"])
            lines.append(
                f"| {op_name} | {name} | {statistics.median(rec['uss']):.1f} | {statistics.median(rec['rss']):.1f} | "
                f"{statistics.median(rec['maxrss']):.1f} | {cpu:.3f} | {cpu / base_cpu:.3f} | {'yes' if same else 'NO'} |"
            )
    table_md = "\n".join(lines)
    print(table_md)
    if args.write:
        uname = platform.uname()
        header = (
            f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
            f"- machine: {uname.node} {uname.machine}, {psutil.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
            f"Python {platform.python_version()}, pyarrow {pa.__version__}\n"
            f"- load average (1/5/15 min) before: {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f}, "
            f"after: {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}\n"
            f"- input: {', '.join(str(s.relative_to(ROOT) if s.is_relative_to(ROOT) else s) for s in shards)}: {table.num_rows} documents, "
            f"{text_bytes / MB:.1f} MB of UTF-8 text, one Arrow batch\n"
            f"- command: `.venv/bin/python bench/bench_signal_memory.py {' '.join(sys.argv[1:])}`\n\n"
        )
        out = ROOT / "bench" / "results" / "signal_memory.md"
        if not out.exists():
            out.write_text(
                "# Quality-signal scorers: peak memory and CPU, whole batch vs chunks (bench/bench_signal_memory.py)\n\n"
                "Each figure is one op on one shard in a fresh child forked from a warm parent; growth over the child's\n"
                "state just before the op. Newest run first below the description; see the script's docstring.\n",
                encoding="utf-8",
            )
        with out.open("a", encoding="utf-8") as fh:
            fh.write(header + table_md + "\n")


if __name__ == "__main__":
    main()

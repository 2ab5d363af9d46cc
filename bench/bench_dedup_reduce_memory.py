"""Peak memory of dedup_near's in-memory reduce per verification setting, each in a fresh process.

What `yuliao run` does for a dedup_near stage: every shard's signature Parquet file is read into one
table and `DedupNear.reduce` runs over it. This bench signs the corpus of bench_dedup_precision.py
(``--set tune`` by default: the held-out set is for the precision run only) into 4 shard files per
setting, then for each setting starts a process that reads those files and reduces them, and
reports its peak RSS (VmHWM) after warm-up, after reading, and after the reduce, the Parquet
bytes and the Arrow bytes of the table.

Usage:
  .venv/bin/python bench/bench_dedup_reduce_memory.py [--set tune]   # -> bench/results/dedup_reduce_memory.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SETTINGS: dict[str, dict] = {
    "verify=signature (dedup_near@3 default)": {"verify": "signature"},
    "verify=borderline, 256 shingles (dedup_near@4 default)": {},
    "verify=borderline, 1024 shingles": {"verify_shingles": 1024},
    "verify=exact, all shingles": {"verify": "exact", "verify_shingles": None},
}
SHARDS = 4


def sign_all(which: str, work: Path) -> None:
    """Write SHARDS signature files per setting under work/<k>/."""
    import pyarrow.parquet as pq

    from bench_dedup_precision import corpus_path
    from transforms.dedup import DedupNear
    from transforms.schema import docs_from_pylist

    rows = [json.loads(line) for line in corpus_path(which).open(encoding="utf-8")]
    table = docs_from_pylist([{"id": r["id"], "text": r["text"], "source": "h", "source_uri": r["source"], "raw_sha256": "0"} for r in rows])
    size = -(-table.num_rows // SHARDS)
    for k, params in enumerate(SETTINGS.values()):
        op = DedupNear(threshold=0.7, **params)
        (work / str(k)).mkdir(parents=True, exist_ok=True)
        for s in range(SHARDS):
            pq.write_table(op.signatures(table.slice(s * size, size), s), work / str(k) / f"part-{s:05d}.parquet", compression="zstd")


CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
import pyarrow as pa, pyarrow.parquet as pq
from transforms.dedup import DedupNear
op = DedupNear(threshold=0.7, **json.loads({params!r}))
files = sorted(__import__("pathlib").Path({dir!r}).glob("part-*.parquet"))
op.reduce(pa.Table.from_batches([next(pq.ParquetFile(files[0]).iter_batches(batch_size=64))]))  # warm up: imports, kernels
# VmHWM: this process's own peak (ru_maxrss carries the forking parent's peak across exec on Linux)
rss = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024
base = rss()
sigs = pa.concat_tables([pq.read_table(f) for f in files])
loaded = rss()
t0 = time.process_time()
dec = op.reduce(sigs)
print(json.dumps({{"base": base, "loaded": loaded, "peak": rss(), "reduce_s": time.process_time() - t0, "arrow_mb": sigs.nbytes / 1e6,
                  "parquet_mb": sum(f.stat().st_size for f in files) / 1e6, "decisions": dec.num_rows}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", dest="which", default="tune", choices=["tune", "eval"])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "dedup_reduce_memory.md"))
    args = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sign_all(args.which, work)
        results = []
        for k, (name, params) in enumerate(SETTINGS.items()):
            code = CHILD.format(root=str(ROOT), params=json.dumps(params), dir=str(work / str(k)))
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
            results.append((name, json.loads(out.strip().splitlines()[-1])))
            print(name, results[-1][1], flush=True)
    load1 = os.getloadavg()
    lines = [
        f"# dedup_near in-memory reduce: peak RSS per verification setting, set `{args.which}`",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} shared cores; "
        f"load (1/5/15 min) before {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}",
        f"- command: `.venv/bin/python bench/bench_dedup_reduce_memory.py --set {args.which}`",
        f"- corpus: bench_dedup_precision.py's `{args.which}` corpus, {SHARDS} shards; threshold 0.7; one fresh process per setting "
        "(reads the shard signature files, reduces); RSS = VmHWM (peak resident set) of that process, in MB",
        "",
        "| setting | Parquet MB | Arrow MB | peak RSS after warm-up | after reading | after reduce | reduce CPU s | decision rows |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results:
        lines.append(f"| {name} | {r['parquet_mb']:.1f} | {r['arrow_mb']:.1f} | {r['base']:.0f} | {r['loaded']:.0f} | {r['peak']:.0f} "
                     f"| {r['reduce_s']:.2f} | {r['decisions']:,} |")
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

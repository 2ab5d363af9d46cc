"""Signature throughput on identical shingles: yuliao (OPH, permutations) vs datasketch and rensa.

Documents are ~2 KB of real text from ../shared/corpora (Tang poems for Chinese, Leipzig English
sentences for English). Shingles are computed once by yuliao's script-aware shingler; every
implementation then signs the *same* shingle hashes with 128 permutations:

* datasketch: ``MinHash(128, hashfunc=identity).update_batch(h32)`` per document (its API);
* rensa RMinHash: per document ``RMinHash(128).update([8-byte shingle hashes])`` and its batch
  ``RMinHash.digest_matrix_from_flat_token_hashes`` (flat buffer + offsets, no Python per doc);
* yuliao: ``oph_signatures`` and ``permutation_signatures`` over the whole batch.

Usage: .venv/bin/python bench/bench_dedup_speed.py [--docs 2000] [--out bench/results/dedup_speed.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared")) / "corpora"

from transforms import dedup as d  # noqa: E402


def chinese_docs(n: int, size: int = 2000) -> list[str]:
    """Return n ~size-byte documents of consecutive Tang poems."""
    poems = []
    for f in sorted((SHARED / "chinese-poetry/全唐诗").glob("poet.tang.*.json"))[:12]:
        poems += ["\n".join(p["paragraphs"]) for p in json.loads(f.read_text("utf-8"))]
    return _pack(poems, n, size)


def english_docs(n: int, size: int = 2000) -> list[str]:
    """Return n ~size-byte documents of English sentences (Leipzig corpora via lingua)."""
    sents = (SHARED / "lingua-sentences/en.txt").read_text("utf-8").splitlines()
    rng = np.random.default_rng(0)
    return _pack([sents[i] for i in rng.integers(0, len(sents), n * 40)], n, size)


def _pack(parts: list[str], n: int, size: int) -> list[str]:
    docs, cur, k = [], [], 0
    while len(docs) < n:
        cur.append(parts[k % len(parts)])
        k += 1
        if len("\n".join(cur).encode()) >= size:
            docs.append("\n".join(cur))
            cur = []
    return docs


def best_of(fn, repeat: int) -> float:
    """Return the best process CPU time (all threads) of `repeat` runs of fn.

    CPU time, not wall time: the 2 cores are shared with other jobs, which inflates wall time at
    random; CPU time still counts every thread a library starts, so multithreading is not hidden.
    """
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return max(min(times), 1e-6)


def bench(texts: list[str], num_perm: int, repeat: int, ds_docs: int) -> list[tuple[str, float]]:
    """Return (implementation, docs/s) rows for one corpus."""
    import rensa
    from datasketch import MinHash

    hashes, offsets, _ = d.shingle_hashes(texts, 5, 5)
    h32 = (hashes >> np.uint64(32)).astype(np.uint32)
    n = len(texts)
    rows = []
    t = best_of(lambda: d.shingle_hashes(texts, 5, 5), repeat)
    rows.append(("yuliao shingling only (text -> shingle hashes)", n / t))
    t = best_of(lambda: d.oph_signatures(hashes, offsets, num_perm, 1), repeat)
    rows.append(("yuliao OPH signatures", n / t))
    t = best_of(lambda: d.permutation_signatures(h32, offsets, num_perm, 1), repeat)
    rows.append(("yuliao permutation signatures (= datasketch affine32)", n / t))
    flat = np.ascontiguousarray(hashes)
    off64 = offsets.astype(np.uint64)
    t = best_of(lambda: rensa.RMinHash.digest_matrix_from_flat_token_hashes(flat, off64, num_perm, 1), repeat)
    rows.append(("rensa RMinHash batch (flat hashes + offsets)", n / t))
    # rensa's per-document API takes str/bytes tokens: give it each shingle hash as 8 bytes.
    lists = [[x.tobytes() for x in hashes[offsets[i] : offsets[i + 1]]] for i in range(n)]

    def rensa_per_doc() -> None:
        for toks in lists:
            m = rensa.RMinHash(num_perm, 1)
            m.update(toks)
            m.digest()

    t = best_of(rensa_per_doc, repeat)
    rows.append(("rensa RMinHash per document", n / t))
    l32 = [h32[offsets[i] : offsets[i + 1]] for i in range(ds_docs)]

    def datasketch_per_doc() -> None:
        for toks in l32:
            m = MinHash(num_perm, seed=1, hashfunc=lambda x: x)
            m.update_batch(toks)

    t = best_of(datasketch_per_doc, 1)
    rows.append(("datasketch MinHash.update_batch per document", ds_docs / t))
    t = best_of(lambda: (d.oph_signatures(*d.shingle_hashes(texts, 5, 5)[:2], num_perm, 1)), repeat)
    rows.append(("yuliao end to end (text -> OPH signature)", n / t))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=2000)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/dedup_speed.md")
    args = ap.parse_args()
    lines = [
        "# dedup signature throughput",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"{os.cpu_count()} cores shared with ~5 other engineers' jobs; throughput = documents per process CPU-second, "
        f"best of {args.repeat} runs (wall time is meaningless under that contention); "
        f"python {platform.python_version()}, numpy {np.__version__}",
        f"- command: `.venv/bin/python bench/bench_dedup_speed.py --docs {args.docs}`",
        f"- {args.docs} documents of ~2 KB per corpus, {args.num_perm} permutations, the same shingle hashes "
        "(5-char shingles for Chinese, 5-word shingles for English) fed to every implementation",
        "",
    ]
    for corpus, texts in (("Chinese (全唐诗, ~2 KB)", chinese_docs(args.docs)), ("English (Leipzig, ~2 KB)", english_docs(args.docs))):
        n_sh = np.diff(d.shingle_hashes(texts, 5, 5)[1]).mean()
        rows = bench(texts, args.num_perm, args.repeat, ds_docs=min(args.docs, 500))
        ds = dict(rows)["datasketch MinHash.update_batch per document"]
        rb = dict(rows)["rensa RMinHash batch (flat hashes + offsets)"]
        rp = dict(rows)["rensa RMinHash per document"]
        lines += [f"## {corpus}: {n_sh:.0f} shingles per document", "",
                  "| implementation | docs per CPU-second | × datasketch | × rensa batch | × rensa per doc |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {v:,.0f} | {v / ds:.1f} | {v / rb:.2f} | {v / rp:.2f} |" for name, v in rows]
        lines.append("")
    lines += [
        "## Reading",
        "",
        "- Targets: >= 20x datasketch is met by OPH on both corpora. >= 2x rensa is NOT met: OPH is 1.0-1.6x",
        "  rensa's per-document API (`RMinHash(...).update(tokens)`, what its README shows), and rensa's flat batch",
        "  API (`RMinHash.digest_matrix_from_flat_token_hashes`, Rust, ~2 ns per token) is 3-5x faster than",
        "  yuliao's numpy OPH, whose cost is dominated by `np.minimum.at` (~10-14 ns per shingle).",
        "- yuliao permutation signatures are bit-identical to datasketch affine32 (a test asserts it) and run at",
        "  datasketch speed: they exist as the reference, not for throughput.",
        "- End to end, shingling (NFKC/casefold table, tokenise, rolling n-gram hashes) costs ~5x the OPH",
        "  signature, so a faster signer would move the whole map stage by < 20%.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()

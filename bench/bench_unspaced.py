"""Drop rates per language of the multilingual recipe's language-ID and quality steps, without Prefect (issue 24).

    .venv/bin/python scripts/build_multilingual_corpus.py --out /tmp/ml-corpus
    .venv/bin/python bench/bench_unspaced.py --corpus /tmp/ml-corpus --json after.json
    # the same on another checkout of quality/ and transforms/ (e.g. `git archive <rev> quality transforms`):
    PYTHONPATH=/tmp/before .venv/bin/python bench/bench_unspaced.py --corpus /tmp/ml-corpus --json before.json
    .venv/bin/python bench/bench_unspaced.py --compare before.json after.json

Runs bench/e2e/recipe_multilingual.yaml's ops in order on every shard in this process, except the
corpus-wide dedup_near (identify_language, the scorers and the filters: the op code the workers run),
and counts, per true language (the corpus' lang_truth), documents and drops by reason. --compare
prints the two runs side by side for the scripts written without spaces and the control languages.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "bench" / "e2e" / "recipe_multilingual.yaml"
FOCUS = ("th", "lo", "km", "my", "bo", "dz")
CONTROL = ("en", "de", "zh", "zh-Hans", "zh-Hant", "ja", "ko", "vi", "hi")


def read_shard(path: Path):
    """One JSONL shard as a DOC_SCHEMA table and its rows' true languages."""
    import pyarrow as pa

    from transforms.schema import DOC_SCHEMA

    rows, truth = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            truth.append(rec["lang_truth"])
            rows.append({"id": str(rec["id"]), "text": rec["text"], "source": rec.get("source", "bench"), "source_uri": str(path),
                         "raw_sha256": hashlib.sha256(line.encode()).hexdigest(), "lang": None, "script": None,
                         "lang_conf": None, "meta": "{}"})
    return pa.Table.from_pylist(rows, schema=DOC_SCHEMA), truth


def run(corpus: Path) -> dict:
    import quality.signals
    from flows.io.recipe import load_recipe
    from transforms.ops import CorpusOp, OpStats, ensure_decision_columns

    ops = [op for op in load_recipe(str(RECIPE)).ops if not isinstance(op, CorpusOp)]
    docs: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    t0 = time.perf_counter()
    for shard in sorted(corpus.glob("part-*.jsonl")):
        table, truth = read_shard(shard)
        table = ensure_decision_columns(table)
        for op in ops:
            table = op.apply(table, OpStats())
        for lang, reason in zip(truth, table.column("drop_reason").to_pylist()):
            docs[lang] += 1
            if reason is not None:
                reasons[lang][reason] += 1
    return {
        "ops": [op.op_id for op in ops],
        "quality_signals": quality.signals.__file__,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "docs": dict(docs),
        "reasons": {k: dict(v) for k, v in reasons.items()},
    }


def _cell(res: dict, lang: str) -> str:
    n = res["docs"].get(lang, 0)
    dropped = sum(res["reasons"].get(lang, {}).values())
    return f"{dropped}/{n} ({100 * dropped / n:.1f} %)" if n else "-"


def _top(res: dict, lang: str, k: int = 3) -> str:
    return ", ".join(f"{r} {c}" for r, c in Counter(res["reasons"].get(lang, {})).most_common(k)) or "-"


def compare(before: dict, after: dict) -> None:
    print(f"before: {before['date']}, load {before['load_average'][0]:.2f}, {before['ops'][1]}; "
          f"after: {after['date']}, load {after['load_average'][0]:.2f}, {after['ops'][1]}\n")
    print("| language | docs | dropped before | dropped after | main reasons before | main reasons after |")
    print("|---|---:|---:|---:|---|---|")
    langs = [x for x in (*FOCUS, *CONTROL) if x in after["docs"] or x in before["docs"]]
    for lang in langs:
        print(f"| {lang} | {after['docs'].get(lang, 0)} | {_cell(before, lang)} | {_cell(after, lang)} | "
              f"{_top(before, lang)} | {_top(after, lang)} |")
    changed = [x for x in sorted(after["docs"]) if _cell(before, x) != _cell(after, x) or
               before["reasons"].get(x) != after["reasons"].get(x)]
    print(f"\nlanguages whose drops changed at all: {', '.join(changed) or 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, help="directory of part-*.jsonl (scripts/build_multilingual_corpus.py)")
    ap.add_argument("--json", type=Path, help="write the per-language counts here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        compare(*(json.loads(p.read_text()) for p in args.compare))
        return
    res = run(args.corpus)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in res.items() if k not in ("docs", "reasons")}))
    for lang in (*FOCUS, *CONTROL):
        if lang in res["docs"]:
            print(f"{lang}: {_cell(res, lang)}  {_top(res, lang)}")


if __name__ == "__main__":
    main()

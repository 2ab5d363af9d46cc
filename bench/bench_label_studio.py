"""Benchmark: what a user waits for. `yuliao annotate push` and `collect` as CLI processes vs Label Studio's own one-request import/export.

Side by side in the same run, against the same local server:
* push     `yuliao annotate push <run> --k 2` (a fresh process: imports, Prefect, sampling, predictions,
           durable map, reconcile) vs. one ``import_tasks`` request carrying the same tasks with their
           predictions (Label Studio's own import, no client work); plus the same push repeated
           (imports nothing).
* collect  `yuliao annotate collect` on N/2 tasks x 2 annotations (fetch, Parquet upsert, agreement,
           Dawid-Skene for every control, adjudication) vs. one JSON export request of the project
           (``GET /api/projects/<id>/export?exportType=JSON``); plus a second collect with nothing new.
* floor    `yuliao annotate status` on an empty workspace: what any such command costs before its work.

Both baselines are plain HTTP requests (no SDK, no client-side work). With --before <checkout>, that
checkout's CLI runs the same steps in the same run (same server, same load), for a before/after.
The yuliao commands share one resident Prefect API (started by an untimed warm-up), so every
command is a recorded flow run, as for a user.

The target (issue 21): each yuliao command within 1.2x the Label Studio request plus a few seconds
of fixed process cost. Text: real sentences (Leipzig Simplified Chinese + Common Voice written
Cantonese) from ../shared/corpora, cycled to the task count. Bounded by --tasks (default 2,000).
Usage: .venv/bin/python bench/bench_label_studio.py [--tasks 2000] [--before ../old-checkout] [--out bench/results/label_studio.md]
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
    RECORD_KEY, MappingStore, connect_api, ensure_project, get_config, server_settings,
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


def yuliao(code: Path, *args: str, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run the yuliao CLI of checkout `code` in a fresh process (as a user does); return (wall s, CPU s of it and its children, result)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "flows.cli.main", *args], env={**env, "PYTHONPATH": str(code)}, cwd=code,
                         capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise SystemExit(f"yuliao {' '.join(args)} ({code}) failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return seconds, cpu, out


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def annotated_tasks(rows: list[tuple[str, str, str]], users: list[dict]) -> list[dict]:
    """Return one task per row with two annotators' ratings (they disagree on every fourth) and an "issues" answer on rating 1."""
    tasks = []
    for i, (_, _, t) in enumerate(rows):
        truth = 1 + i % 5
        tasks.append({"data": {"text": t, RECORD_KEY: f"ann-{i:06d}"}, "annotations": [
            {"result": [{"from_name": "quality", "to_name": "text", "type": "rating",
                         "value": {"rating": truth if (k == 0 or i % 4) else 1 + (truth % 5)}}]
             + ([{"from_name": "issues", "to_name": "text", "type": "choices", "value": {"choices": ["spam"]}}] if truth == 1 else []),
             "completed_by": users[k]["id"], "lead_time": 10.0 + k} for k in range(2)]})
    return tasks


def push_step(code: Path, label: str, run: Path, ws: Path, tag: str, env: dict[str, str], out: dict, again: bool) -> None:
    """Time `yuliao annotate push` of the run (the second time: nothing to import); record its wall/CPU s and requests."""
    title = f"bench push {label} {tag}"[:50]
    seconds, cpu, pushed = yuliao(code, "annotate", "push", str(run), "--k", "2", "--project", title, "--workspace", str(ws), env=env)
    out["push_again" if again else "push"] = (seconds, cpu)
    out["push_pid"] = int(pushed.stdout.strip().splitlines()[-1].rsplit("/", 1)[1])
    if again:
        assert "imported 0 task(s)" in " ".join(pushed.stderr.split()), pushed.stderr
        records = sorted((ws / "annotation" / f"project-{out['push_pid']}" / "pushes").glob("*.json"))
        out["push_requests"] = [json.loads(r.read_text(encoding="utf-8")).get("label_studio_requests") for r in records]


def collect_step(code: Path, ws: Path, collect_pid: int, env: dict[str, str], out: dict, n: int, again: bool) -> None:
    """Time `yuliao annotate collect` of the annotated project (the second time: nothing new); record its figures."""
    out["collect_again" if again else "collect"] = yuliao(code, "annotate", "collect", "--workspace", str(ws), "--project",
                                                          str(collect_pid), env=env)[:2]
    report = json.loads((ws / "annotation" / f"project-{collect_pid}" / "agreement.json").read_text(encoding="utf-8"))
    assert report["annotations_total"] == n, report["annotations_total"]
    out.setdefault("collect_requests", []).append(report.get("label_studio_requests"))
    out["summary"] = report["summary"]


def cli_steps(codes: list[tuple[Path, str]], run: Path, wss: dict[str, Path], collect_pid: int, tag: str, env: dict[str, str],
              n: int, loads: list[str]) -> dict[str, dict]:
    """Time push, push again, collect, collect again and the floor for every checkout, step by step.

    The checkouts take turns within each step, and which goes first alternates from step to step, so
    that a change of load from other jobs during the run does not favour one of them.
    """
    out: dict[str, dict] = {label: {"label": label} for _, label in codes}
    steps = [
        ("push", lambda c, l: push_step(c, l, run, wss[l], tag, env, out[l], again=False)),
        ("push again", lambda c, l: push_step(c, l, run, wss[l], tag, env, out[l], again=True)),
        ("collect", lambda c, l: collect_step(c, wss[l], collect_pid, env, out[l], n, again=False)),
        ("collect again", lambda c, l: collect_step(c, wss[l], collect_pid, env, out[l], n, again=True)),
        # The floor: a command that imports what push/collect import, runs a flow and asks the server one question.
        ("floor", lambda c, l: out[l].__setitem__("floor", yuliao(c, "annotate", "status", "--workspace",
                                                                  str(wss[l].parent / f"empty-{l}"), env=env)[:2])),
    ]
    for i, (name, step) in enumerate(steps):
        for code, label in (codes if i % 2 == 0 else codes[::-1]):
            step(code, label)
        loads.append(f"after {name} {load_average()}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=2_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "label_studio.md")
    ap.add_argument("--before", type=Path, help="a checkout of the previous code: its CLI runs the same steps in the same run")
    args = ap.parse_args()
    settings = server_settings()
    ls = connect_api(settings, timeout=900)  # plain HTTP requests: the baseline is the server's own work
    tag = dt.datetime.now(dt.timezone.utc).strftime("%H%M%S")
    n = args.tasks
    rows = real_texts(n)
    home = ROOT / ".yuliao" / "bench-home"  # a user's steady state: Prefect's database already made
    env = {**os.environ, "YULIAO_LS_URL": settings.url, "YULIAO_LS_TOKEN": settings.token, "YULIAO_HOME": str(home),
           "YULIAO_SERVER_IDLE_SECONDS": "600",  # the resident Prefect API the commands share stops itself after the bench
           # An installed yuliao has its bytecode cached (pip compiles it; Python writes it on first import). With
           # PYTHONDONTWRITEBYTECODE=1 every process would compile ~1,100 modules again (~3 CPU s): not what a user waits for.
           "PYTHONPYCACHEPREFIX": str(home / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    codes = [(ROOT, "after")] + ([(args.before.resolve(), "before")] if args.before else [])
    loads = [load_average()]
    config = get_config("quality_rating")
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp) / "data", rows)
        # Warm-up (not timed), a small push and collect per checkout: the resident Prefect API started and the
        # bytecode of every module push and collect import written, so no timed step pays for another's first run.
        users = [ls.create_user(f"bench{k}.{tag}", f"bench{k}.{tag}@annotators.test") for k in range(2)]
        warm_run = write_run(Path(tmp) / "warm-data", rows[:20])
        warm_pid, _ = ensure_project(ls, f"bench warm-up {tag}", config.xml(), 2)
        ls.import_tasks(warm_pid, annotated_tasks(rows[:10], users))
        for code, label in codes:
            warm_ws = Path(tmp) / f"warm-{label}"
            with MappingStore(warm_ws / "annotation" / "label_studio.sqlite", settings.url) as store:
                store.record_project(warm_pid, f"bench warm-up {tag}", "quality_rating", 2)
            warm = yuliao(code, "annotate", "push", str(warm_run), "--k", "2", "--project", f"bench warm-up push {tag}",
                          "--workspace", str(warm_ws), env=env)[2]
            warm_push_pid = int(warm.stdout.strip().splitlines()[-1].rsplit("/", 1)[1])
            yuliao(code, "annotate", "collect", "--workspace", str(warm_ws), "--project", str(warm_pid), env=env)
        loads.append(load_average())

        # --- push baseline: Label Studio's own one-request import of the same tasks ---
        tasks = build_tasks(pq.ParquetFile(run / "kept" / "part-00000.parquet").read(), config, PREDICTION_COLUMNS[config.name])
        base_pid, _ = ensure_project(ls, f"bench import {tag}", config.xml(), 2)
        _, t_import = timed(lambda: ls.import_tasks(base_pid, tasks))
        assert ls.project(base_pid)["task_number"] == n

        # --- collect baseline: n annotations on n/2 tasks by two annotators, one JSON export request ---
        cpid, _ = ensure_project(ls, f"bench collect {tag}", config.xml(), 2)
        ls.import_tasks(cpid, annotated_tasks(rows[: n // 2], users))
        _, t_export = timed(lambda: ls.export_json(cpid))
        loads.append(load_average())

        wss = {label: Path(tmp) / f"ws-{label}" for _, label in codes}
        for ws in wss.values():
            with MappingStore(ws / "annotation" / "label_studio.sqlite", settings.url) as store:
                store.record_project(cpid, f"bench collect {tag}", "quality_rating", 2)
        by_label = cli_steps(codes, run, wss, cpid, tag, env, n, loads)
        results = [by_label[label] for _, label in codes]
        # The baselines once more, after the yuliao steps: the ratios use the mean of both measurements.
        base2_pid, _ = ensure_project(ls, f"bench import 2 {tag}", config.xml(), 2)
        _, t_import2 = timed(lambda: ls.import_tasks(base2_pid, tasks))
        _, t_export2 = timed(lambda: ls.export_json(cpid))
        loads.append(f"after the second baselines {load_average()}")
        pids = [base_pid, base2_pid, cpid, warm_pid, warm_push_pid, *(r["push_pid"] for r in results)]
        for pid in pids:  # the local server should not grow with every run
            ls.delete_project(pid)

    t_import_mean, t_export_mean = (t_import + t_import2) / 2, (t_export + t_export2) / 2

    def vs(seconds: float, baseline: float) -> str:
        return f"{seconds / baseline:.2f}x; {seconds - 1.2 * baseline:+.1f} s over 1.2x"

    table = [
        "| code | step | what | items | wall s | CPU s of the yuliao process | Label Studio requests | vs Label Studio's own request (wall) |",
        "|---|---|---|---:|---:|---:|---:|---:|",
        f"| - | push | Label Studio: one import request with all tasks and predictions (before / after the yuliao steps) | {n:,} tasks | {t_import:.1f} / {t_import2:.1f} | - | 1 | 1.00x (mean) |",
        f"| - | collect | Label Studio: one JSON export request (before / after the yuliao steps) | {n:,} annotations | {t_export:.1f} / {t_export2:.1f} | - | 1 | 1.00x (mean) |",
    ]
    for r in results:
        first, again = (r["push_requests"] + [None, None])[:2]
        c_first, c_again = (r["collect_requests"] + [None, None])[:2]
        table += [
            f"| {r['label']} | push | `yuliao annotate push --k 2` (new process) | {n:,} tasks | {r['push'][0]:.1f} | {r['push'][1]:.1f} | {first or '-'} | {vs(r['push'][0], t_import_mean)} |",
            f"| {r['label']} | push | the same push again (imports 0) | {n:,} checked | {r['push_again'][0]:.1f} | {r['push_again'][1]:.1f} | {again or '-'} | - |",
            f"| {r['label']} | collect | `yuliao annotate collect` (export, upsert, agreement, Dawid-Skene per question) | {n:,} annotations | {r['collect'][0]:.1f} | {r['collect'][1]:.1f} | {c_first or '-'} | {vs(r['collect'][0], t_export_mean)} |",
            f"| {r['label']} | collect | the same collect again (nothing new) | {n:,} annotations | {r['collect_again'][0]:.1f} | {r['collect_again'][1]:.1f} | {c_again or '-'} | - |",
            f"| {r['label']} | floor | `yuliao annotate status` on an empty workspace (start, imports, a flow run, one request) | - | {r['floor'][0]:.1f} | {r['floor'][1]:.1f} | 1 | - |",
        ]
    cmd = "python bench/bench_label_studio.py " + " ".join(sys.argv[1:])
    text = "\n".join([
        "# Label Studio push / collect benchmark, through the CLI", "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; label-studio 1.23.2 (SQLite, local, 127.0.0.1)",
        f"- load average (1/5/15 min): start {loads[0]} | after warm-up {loads[1]} | after the baselines {loads[2]} | "
        + " | ".join(loads[3:]) + " (2 cores shared with other jobs)",
        "- yuliao steps: each step runs for every checkout in turn, the first alternating from step to step",
        f"- command: `{cmd}`; each yuliao step is a fresh `python -m flows.cli.main` process (wall time, as a user waits) "
        "against a resident Prefect API (flow runs recorded), bytecode cached as in an installed package",
        f"- agreement on the collect project: {json.dumps(results[0]['summary'], ensure_ascii=False)}",
        "", *table, "",
    ])
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

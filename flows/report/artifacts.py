"""Prefect artifacts for a finished run: the funnel, language/script mix, time per op, and a link to the report.

They appear on the flow run's Artifacts tab in the Prefect UI (and under `prefect artifact ls`),
keyed per recipe so the UI also keeps their history across runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from flows.report.html import REPORT_NAME, ReportData, collect_report_data, save_report


def artifact_key(recipe_name: str, what: str) -> str:
    """Return a Prefect artifact key (lowercase letters, digits and dashes only)."""
    return re.sub(r"[^a-z0-9-]+", "-", f"{recipe_name}-{what}".lower()).strip("-")


def funnel_rows(data: ReportData) -> list[dict]:
    """Rows of the funnel table: read -> after each dropping op -> kept, then drops by reason and quarantine."""
    read = data.funnel[0][1] if data.funnel else 0
    rows = [{"step": step, "records": n, "share of read": f"{n / read:.1%}" if read else "-"} for step, n in data.funnel]
    rows += [{"step": f"dropped: {reason}", "records": n, "share of read": f"{n / read:.1%}" if read else "-"}
             for reason, n in data.drops_by_reason.items()]
    rows.append({"step": "quarantined (unreadable input)", "records": data.quarantined,
                 "share of read": f"{data.quarantined / read:.1%}" if read else "-"})
    return rows


def mix_markdown(data: ReportData) -> str:
    """Markdown tables of the kept records' language and script mix."""
    out = []
    for title, counts in (("Language", data.lang), ("Script", data.script)):
        total = sum(counts.values()) or 1
        out.append(f"### {title} (kept)\n\n| {title.lower()} | records | share |\n|---|---:|---:|")
        out += [f"| {k} | {v:,} | {v / total:.1%} |" for k, v in counts.most_common(20)]
        out.append("")
    return "\n".join(out)


def op_time_rows(data: ReportData) -> list[dict]:
    """Rows of the time-per-op table (seconds summed over shards)."""
    ops = {o["op"]: o for o in data.record.get("ops", [])}
    return [{"op": op, "seconds": round(s, 3), "rows in": ops.get(op, {}).get("rows_in"), "rows out": ops.get(op, {}).get("rows_out")}
            for op, s in data.op_seconds]


def publish_run_artifacts(data: ReportData, report_path: Path) -> list[str]:
    """Create the run's artifacts in the current flow run; return their keys."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    name = data.record.get("recipe", {}).get("name", "run")
    run_id = data.record.get("run_id", "")
    keys = [artifact_key(name, k) for k in ("funnel", "language-mix", "op-time", "report")]
    create_table_artifact(funnel_rows(data), key=keys[0], description=f"Funnel of run {run_id}: read -> kept / dropped by reason / quarantined")
    create_markdown_artifact(mix_markdown(data), key=keys[1], description=f"Language and script mix of run {run_id}")
    create_table_artifact(op_time_rows(data), key=keys[2], description=f"Time per operator, run {run_id}")
    create_link_artifact(report_path.resolve().as_uri(), link_text=f"report of run {run_id}", key=keys[3],
                         description=f"Self-contained HTML report of run {run_id} (opens offline)")
    return keys


def report_and_artifacts(run_dir: Path, artifacts: bool = True) -> Path:
    """Write `<run_dir>/report.html` and (inside a flow run) publish the run's artifacts; return the report path."""
    data = collect_report_data(run_dir)
    path = save_report(data, run_dir / REPORT_NAME)
    if artifacts:
        publish_run_artifacts(data, path)
    return path

"""Run and release reports: one self-contained HTML file with inline SVG charts that opens offline.

`render_report` draws the aggregates `flows.report.data.collect_report_data` read from a run or
release directory with matplotlib's SVG backend; no JavaScript, no CDN, no network.
`write_report` does both and writes `<dir>/report.html`.
"""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from flows.report.data import LENGTH_BINS, Boundary, Example, ReportData, collect_report_data

REPORT_NAME = "report.html"
TOP_CATEGORIES = 15
PALETTE = {"kept": "#2b8a3e", "dropped": "#c92a2a", "quarantined": "#e67700", "neutral": "#1c7ed6", "grey": "#868e96"}


# ---------------------------------------------------------------- charts (matplotlib, SVG backend)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=96, layout="constrained")
    return fig, fig.add_subplot()


def _svg(fig, label: str) -> str:
    """Serialise a figure to an inline <svg> element (text kept as text, deterministic ids)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "yuliao"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" class="chart" ', 1)


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def chart_funnel(steps: list[tuple[str, int]], quarantined: int) -> str:
    """Horizontal funnel: rows left after each dropping op, with quarantine as its own bar."""
    labels = [s for s, _ in steps]
    values = [v for _, v in steps]
    fig, ax = _figure(7.5, 0.45 * len(steps) + 1.0)
    colors = [PALETTE["neutral"]] * len(steps)
    colors[-1] = PALETTE["kept"]
    ax.barh(range(len(steps)), values, color=colors)
    top = max(values) if values else 1
    for i, v in enumerate(values):
        share = f" ({v / top:.1%})" if top else ""
        ax.text(v, i, f" {v:,}{share}", va="center", fontsize=9)
    ax.set_yticks(range(len(steps)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.3 or 1)
    ax.set_xlabel("records")
    ax.set_title(f"Funnel (quarantined at read: {quarantined:,})", fontsize=11)
    _style(ax)
    return _svg(fig, "funnel chart")


def chart_bars(counts: dict[str, float], title: str, color: str, xlabel: str = "records", label: str = "") -> str:
    """Horizontal bar chart of the largest categories (the rest summed as 'other')."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    if len(items) > TOP_CATEGORIES:
        items = items[: TOP_CATEGORIES - 1] + [("other", sum(v for _, v in items[TOP_CATEGORIES - 1:]))]
    fig, ax = _figure(6.0, 0.32 * max(len(items), 1) + 1.0)
    ax.barh(range(len(items)), [v for _, v in items], color=color)
    total = sum(v for _, v in items) or 1
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v:,.4g} ({v / total:.1%})" if isinstance(v, float) else f" {v:,} ({v / total:.1%})", va="center", fontsize=8)
    ax.set_yticks(range(len(items)), [k for k, _ in items])
    ax.invert_yaxis()
    ax.set_xlim(0, (max((v for _, v in items), default=1) or 1) * 1.35)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=11)
    _style(ax)
    return _svg(fig, label or title)


def chart_per_source(per_source: dict[str, dict[str, int]]) -> str:
    """Stacked bars per raw source: kept / dropped / quarantined."""
    names = list(per_source)
    fig, ax = _figure(7.0, 0.35 * max(len(names), 1) + 1.2)
    left = np.zeros(len(names))
    for part in ("kept", "dropped", "quarantined"):
        vals = np.array([per_source[n].get(part, 0) for n in names], float)
        ax.barh(range(len(names)), vals, left=left, color=PALETTE[part], label=part)
        left += vals
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Outcome per source", fontsize=11)
    _style(ax)
    return _svg(fig, "outcome per source")


def chart_lengths(hist: dict[str, np.ndarray]) -> str:
    """Text length (characters, log scale) of kept and dropped records."""
    fig, ax = _figure(7.0, 3.0)
    for side in ("kept", "dropped"):
        if hist[side].sum():
            ax.stairs(hist[side], LENGTH_BINS, label=f"{side} ({int(hist[side].sum()):,})", color=PALETTE[side],
                      fill=side == "kept", alpha=0.55 if side == "kept" else 1.0)
    ax.set_xscale("log")
    nz = np.nonzero(hist["kept"] + hist["dropped"])[0]
    if len(nz):
        ax.set_xlim(LENGTH_BINS[nz[0]], LENGTH_BINS[nz[-1] + 1])
    ax.set_xlabel("characters per record (log scale)")
    ax.set_ylabel("records")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Length distribution", fontsize=11)
    _style(ax)
    return _svg(fig, "length distribution")


def chart_score(name: str, values: dict[str, np.ndarray]) -> str:
    """Histogram of one score column, kept against dropped."""
    allv = np.concatenate([v for v in values.values() if len(v)]) if any(len(v) for v in values.values()) else np.array([0.0])
    lo, hi = float(np.min(allv)), float(np.max(allv))
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    fig, ax = _figure(5.0, 2.6)
    for side in ("kept", "dropped"):
        if len(values.get(side, [])):
            ax.hist(values[side], bins=bins, histtype="stepfilled" if side == "kept" else "step",
                    color=PALETTE[side], alpha=0.55 if side == "kept" else 1.0, label=f"{side} (n={len(values[side]):,})")
    ax.set_xlabel(name)
    ax.set_ylabel("records")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(name, fontsize=10)
    _style(ax)
    return _svg(fig, f"distribution of {name}")


def chart_clusters(sizes: Counter) -> str:
    """Number of duplicate clusters by cluster size (log count)."""
    items = sorted(sizes.items())
    fig, ax = _figure(6.0, 2.8)
    ax.bar([str(k) for k, _ in items], [v for _, v in items], color=PALETTE["neutral"])
    if max(sizes.values()) > 50 * min(sizes.values()):  # a long tail: log counts keep the big clusters visible
        ax.set_yscale("log")
    ax.set_xlabel("cluster size (kept original + duplicates)")
    ax.set_ylabel("clusters")
    ax.set_title(f"Dedup clusters ({sum(sizes.values()):,}; {sum((k - 1) * v for k, v in items):,} duplicates dropped)", fontsize=11)
    _style(ax)
    return _svg(fig, "dedup cluster sizes")


def chart_boundary(b: Boundary) -> str:
    """The decision metric of one filter: kept against rows dropped for this reason, with the threshold line."""
    vals = [v[~np.isnan(v)] for v in (b.kept_values, b.dropped_values)]
    allv = np.concatenate([v for v in vals if len(v)])
    log = b.log_scale
    lo, hi = float(np.min(allv)), float(np.max(allv))
    if log:
        bins = np.logspace(np.log10(max(lo, 1.0)), np.log10(max(hi, 2.0)), 41)
    else:
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    fig, ax = _figure(5.0, 2.4)
    for side, v in (("kept", vals[0]), ("dropped", vals[1])):
        if len(v):
            ax.hist(np.clip(v, bins[0], bins[-1]), bins=bins, histtype="stepfilled" if side == "kept" else "step",
                    color=PALETTE[side], alpha=0.55 if side == "kept" else 1.0,
                    label=f"{side}{'' if side == 'kept' else ': ' + b.reason} (n={len(v):,})")
    if b.threshold and _is_number(b.threshold[1]):
        ax.axvline(b.threshold[1], color="#212529", linestyle="--", linewidth=1)
        ax.annotate(f"{b.threshold[0]} = {b.threshold[1]:g}", (b.threshold[1], 1), xycoords=("data", "axes fraction"),
                    fontsize=8, ha="left", va="top")
    if log:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(str(b.metric))
    ax.set_ylabel("records (log)")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    ax.set_title(f"{b.op}: {b.reason}", fontsize=10)
    _style(ax)
    return _svg(fig, f"boundary of {b.op} {b.reason}")


# ---------------------------------------------------------------- HTML


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Noto Sans",sans-serif;margin:2rem auto;max-width:72rem;color:#212529;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dee2e6;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{border:1px solid #dee2e6;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}.chart{max-width:100%;height:auto}
.kpi{display:inline-block;margin:0 1.5rem .5rem 0}.kpi b{display:block;font-size:1.4rem}
.ex{font-size:.85rem;white-space:pre-wrap;word-break:break-word;max-width:40rem}.muted{color:#868e96}
.side-dropped{border-left:4px solid #c92a2a}.side-kept{border-left:4px solid #2b8a3e}
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _table(head: list[str], rows: list[list[object]], numeric: set[int] = frozenset()) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f'<td class="n">{_e(v)}</td>' if i in numeric else f"<td>{_e(v)}</td>"
                                     for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _threshold_text(value: object) -> str:
    """A recorded parameter value as the report prints it: numbers in %g, lists and flags as JSON."""
    return f"{value:g}" if _is_number(value) else json.dumps(value, ensure_ascii=False)


def _examples(b: Boundary) -> str:
    def rows(exs: list[Example], side: str) -> str:
        if not exs:
            return f'<tr class="side-{side}"><td colspan="3" class="muted">(none)</td></tr>'
        return "".join(f'<tr class="side-{side}"><td>{_e(side)}</td><td class="n">'
                       f'{_e(f"{e.metric:.4g}" if e.metric is not None else e.note or "")}</td>'
                       f'<td><code>{_e(e.id)}</code><div class="ex">{_e(e.text)}</div></td></tr>' for e in exs)
    head = f"<tr><th>side</th><th>{_e(b.metric or '—')}</th><th>record</th></tr>"
    rule = f", threshold {_e(b.threshold[0])} = {_e(_threshold_text(b.threshold[1]))}" if b.threshold else ""
    chart = chart_boundary(b) if b.metric and len(b.dropped_values) else ""
    return (f"<h3>{_e(b.op)} <span class='muted'>reason {_e(b.reason)}, {b.dropped_rows:,} dropped{rule}</span></h3>"
            f'<div class="grid">{chart}<table>{head}{rows(b.just_dropped, "dropped")}{rows(b.just_kept, "kept")}</table></div>')


def render_report(data: ReportData) -> str:
    """Return the report as one self-contained HTML document."""
    rec = data.record
    kept = data.funnel[-1][1] if data.funnel else 0
    read = data.funnel[0][1] if data.funnel else 0
    dropped = sum(data.drops_by_reason.values())
    parts: list[str] = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(data.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(data.title)}</h1>",
        f'<p class="muted">generated {datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")} by yuliao; '
        f"status {_e(rec.get('status', rec.get('format', '')))}; "
        f"recipe sha256 {_e(str(rec.get('recipe', {}).get('sha256', ''))[:12])}; commit {_e(str(rec.get('git_commit') or rec.get('code', {}).get('git_commit', '') or '')[:10])}</p>",
        "<div>" + "".join(f'<span class="kpi">{_e(k)}<b>{v:,}</b></span>' for k, v in
                          (("read", read), ("kept", kept), ("dropped", dropped), ("quarantined", data.quarantined))) + "</div>",
        "<h2 id='funnel'>Funnel</h2>", '<div class="grid">', chart_funnel(data.funnel, data.quarantined),
    ]
    if data.per_source:
        parts.append(chart_per_source(data.per_source))
    parts.append("</div>")
    parts.append(_table(["step", "records"], [[s, f"{v:,}"] for s, v in data.funnel], {1}))
    parts.append("<h2 id='drops'>Drop reasons</h2>")
    if data.drops_by_reason:
        parts.append('<div class="grid">' + chart_bars(data.drops_by_reason, "Dropped by reason", PALETTE["dropped"])
                     + chart_bars(data.drops_by_op, "Dropped by operator", PALETTE["dropped"]) + "</div>")
    else:
        parts.append("<p>No record was dropped.</p>")
    qerr = rec.get("quarantine_by_error") or {}
    if data.quarantined:
        parts.append("<h3>Quarantined at read</h3>" + _table(["error", "records"], [[k, v] for k, v in qerr.items()], {1})
                     + _table(["where", "error", "detail"], [[q.get("source_uri"), q.get("error"), q.get("detail")] for q in data.quarantine_examples]))
    parts.append("<h2 id='languages'>Language and script mix (kept)</h2>")
    if data.lang or data.script:
        parts.append('<div class="grid">' + chart_bars(dict(data.lang), "Language", PALETTE["neutral"])
                     + chart_bars(dict(data.script), "Script", PALETTE["neutral"]) + "</div>")
        if set(data.lang) == {"(none)"}:
            parts.append('<p class="muted">No language identification op ran in this recipe (lang is empty).</p>')
    parts.append("<h2 id='lengths'>Length distribution</h2>" + chart_lengths(data.length_hist))
    if data.scores:
        parts.append("<h2 id='scores'>Quality scores</h2><div class='grid'>"
                     + "".join(chart_score(c, v) for c, v in data.scores.items()) + "</div>")
        rows = []
        for c, v in data.scores.items():
            for side in ("kept", "dropped"):
                x = v.get(side, np.array([]))
                if len(x):
                    q = np.quantile(x, [0.05, 0.5, 0.95])
                    rows.append([c, side, f"{len(x):,}", f"{q[0]:.4g}", f"{q[1]:.4g}", f"{q[2]:.4g}"])
        parts.append(_table(["score", "side", "n (sampled)", "p5", "median", "p95"], rows, {2, 3, 4, 5}))
    parts.append("<h2 id='dedup'>Deduplication</h2>")
    if data.cluster_sizes:
        parts.append(chart_clusters(data.cluster_sizes))
    else:
        parts.append("<p>No duplicate clusters (no record was dropped as a duplicate of another).</p>")
    if data.op_seconds:
        parts.append("<h2 id='time'>Time per operator</h2>"
                     + chart_bars({k: round(v, 4) for k, v in data.op_seconds}, "Seconds per operator (summed over shards)",
                                  PALETTE["grey"], xlabel="seconds", label="time per operator"))
        parts.append(_table(["op", "rows in", "rows out", "seconds", "params"],
                            [[o["op"], f"{o['rows_in']:,}", f"{o['rows_out']:,}", o["seconds"], json.dumps(o.get("params", {}), ensure_ascii=False)]
                             for o in rec.get("ops", [])], {1, 2, 3}))
    parts.append("<h2 id='annotations'>Annotation</h2>")
    if data.annotations and "projects" in data.annotations:
        parts += [_collected_project_html(p) for p in data.annotations["projects"]]
    elif data.annotations:
        a = data.annotations
        parts.append(f"<p>{a['judgements']:,} judgements on {a['items']:,} items from <code>{_e(a['path'])}</code>.</p>")
        grid = []
        if a["judgements_per_item"]:
            grid.append(chart_bars({f"{k} judgement(s)": v for k, v in sorted(a["judgements_per_item"].items())},
                                   "Annotation progress: items by judgements", PALETTE["neutral"], xlabel="items"))
        if a["labels"]:
            grid.append(chart_bars(dict(a["labels"]), "Labels given", PALETTE["neutral"], xlabel="judgements"))
        parts.append('<div class="grid">' + "".join(grid) + "</div>")
        if "agreement" in a:
            parts.append(_table(["agreement", "value"], [[k, f"{v:.3f}" if isinstance(v, float) else v] for k, v in a["agreement"].items()], {1}))
        elif "agreement_error" in a:
            parts.append(f"<p class='muted'>agreement not computed: {_e(a['agreement_error'])}</p>")
    else:
        parts.append('<p class="muted">No annotations found for this run (looked for annotations.parquet or annotations/ beside it, '
                     "and for projects pushed from it in the workspace's annotation/ directory).</p>")
    parts.append("<h2 id='boundaries'>Examples at each filter boundary</h2>")
    parts.append('<p class="muted">For every operator that dropped records: the dropped records closest to the kept side '
                 "and the kept records closest to the dropped side, by the score or length the filter decides on; "
                 "duplicates are shown with their kept original.</p>")
    parts += [_examples(b) for b in data.boundaries] or ["<p>No filter dropped anything.</p>"]
    if data.kind == "run":
        parts.append("<h2 id='files'>Per input file</h2>" + _table(
            ["source", "path", "read", "kept", "dropped", "quarantined", "balanced"],
            [[f["source"], f["path"], f["read"], f["kept"], f["dropped"], f["quarantined"], "yes" if f["balanced"] else "NO"]
             for f in rec.get("per_file", [])], {2, 3, 4, 5}))
    parts.append("</body></html>")
    return "\n".join(parts)


def _fmt(v: object) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _collected_project_html(p: dict) -> str:
    """One collected project: progress, labels given and aggregated, kappa/alpha, gold accuracy, annotators, other questions."""
    parts = [f"<h3>Project {_e(p['project_id'])} ({_e(p['config'])}, question <code>{_e(p['control'])}</code>)</h3>",
             f"<p>{p['judgements']:,} judgements ({p['skipped']:,} skipped) on {p['items']:,} items, collected "
             f"{_e(p['collected_at'] or 'never')} from <code>{_e(p['path'])}</code>; labels aggregated by {_e(p['method'])}; "
             f"{_e(_fmt(p['flagged']))} record(s) below confidence {_e(_fmt(p['min_confidence']))} sent to adjudication.</p>"]
    grid = []
    if p["judgements_per_item"]:
        grid.append(chart_bars({f"{k} judgement(s)": v for k, v in sorted(p["judgements_per_item"].items())},
                               "Annotation progress: items by judgements", PALETTE["neutral"], xlabel="items"))
    if p["labels"]:
        grid.append(chart_bars(dict(p["labels"]), f"Labels given ({p['control']})", PALETTE["neutral"], xlabel="judgements"))
    for col, counts in p["aggregated"].items():
        if counts:
            grid.append(chart_bars(dict(counts), f"Aggregated {col}", PALETTE["kept"], xlabel="records"))
    parts.append('<div class="grid">' + "".join(grid) + "</div>")
    ag = p["agreement"]
    rows = [["Fleiss' kappa", _fmt(ag.get("fleiss_kappa"))], ["Krippendorff's alpha (nominal)", _fmt(ag.get("alpha_nominal"))],
            ["Krippendorff's alpha (ordinal)", _fmt(ag.get("alpha_ordinal"))], ["mean Cohen's kappa", _fmt(ag.get("mean_cohen_kappa"))],
            ["items with 2+ judgements", _fmt(ag.get("n_items_multi"))],
            ["gold accuracy of the aggregated labels", _fmt(p["gold_accuracy"])],
            ["gold accuracy of majority vote", _fmt(p["gold_majority_vote_accuracy"])],
            ["gold items answered", _fmt(p["gold_items_answered"])]]
    parts.append(_table(["agreement", "value"], rows, {1}))
    if p["annotators"]:
        parts.append(_table(["annotator", "annotations", "skipped", "gold accuracy", "agreement with the others' majority", "median lead time (s)"],
                            [[a.get("annotator"), _fmt(a.get("annotations")), _fmt(a.get("skipped")), _fmt(a.get("gold_accuracy")),
                              _fmt(a.get("consensus_agreement")), _fmt(a.get("median_lead_time_s"))] for a in p["annotators"]], {1, 2, 3, 4, 5}))
    for name, c in p["controls"].items():
        if c.get("kind") == "multi":
            parts.append(f"<p>Question <code>{_e(name)}</code> (several answers allowed): {c['records_labelled']:,} records aggregated, per option:</p>")
            parts.append(_table(["option", "ticked (judgements)", "records labelled", "alpha (nominal)"],
                                [[o["option"], o["ticked"], o["records_labelled"], _fmt(o["alpha_nominal"])] for o in c.get("per_option", [])], {1, 2, 3}))
        elif c.get("summary"):
            cs = c["summary"]
            parts.append(f"<p>Question <code>{_e(name)}</code> ({_e(c['kind'])}): {c['records_labelled']:,} records aggregated; "
                         f"alpha (nominal) {_e(_fmt(cs.get('alpha_nominal')))}, Fleiss' kappa {_e(_fmt(cs.get('fleiss_kappa')))}.</p>")
    return "\n".join(parts)


def save_report(data: ReportData, target: Path) -> Path:
    """Write the rendered report atomically (temp file, then rename); return its path."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(render_report(data), encoding="utf-8")
    tmp.replace(target)
    return target


def write_report(path: Path, out: Path | None = None, annotations: Path | None = None) -> Path:
    """Render the report of a run or release directory to `out` (default `<dir>/report.html`); return its path."""
    return save_report(collect_report_data(path, annotations), out or path / REPORT_NAME)

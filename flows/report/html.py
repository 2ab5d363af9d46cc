"""Run and release reports: one self-contained HTML file with inline SVG charts that opens offline.

`render_report` draws the aggregates `flows.report.data.collect_report_data` read from a run or
release directory as inline SVG charts built from plain elements (no matplotlib); no JavaScript,
no CDN, no network.
`write_report` does both and writes `<dir>/report.html`.
"""

from __future__ import annotations

import html
import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from flows.report.data import LENGTH_BINS, Boundary, Example, ReportData, collect_report_data

REPORT_NAME = "report.html"
TOP_CATEGORIES = 15
PALETTE = {"kept": "#2b8a3e", "dropped": "#c92a2a", "quarantined": "#e67700", "neutral": "#1c7ed6", "grey": "#868e96"}


# ---------------------------------------------------------------- charts (plain SVG)
# Drawn as plain SVG elements: the charts are bars, step histograms, lines and text, and matplotlib's
# import and layout engine cost ~1.7 CPU-s of every run's fixed cost (issue 20, bench/results/cli_startup.md).

FONT_PX = 11
FONT_STACK = 'system-ui,-apple-system,&quot;Segoe UI&quot;,&quot;Noto Sans CJK SC&quot;,&quot;Noto Sans&quot;,sans-serif'
LATIN_ADVANCE = 0.62  # average glyph advance of a sans font, in ems, for label widths
WIDE_ADVANCE = 1.0  # CJK and other East Asian wide characters


@dataclass(frozen=True)
class _Axis:
    """A linear or log scale from data values [lo, hi] to pixels [px0, px1]."""

    lo: float
    hi: float
    px0: float
    px1: float
    log: bool = False

    def _t(self, v: float) -> float:
        return math.log10(max(v, self.lo)) if self.log else v

    def __call__(self, v: float) -> float:
        lo, hi = self._t(self.lo), self._t(self.hi)
        return self.px0 + (self._t(min(max(v, self.lo), self.hi)) - lo) / ((hi - lo) or 1.0) * (self.px1 - self.px0)

    def ticks(self) -> list[float]:
        """Round tick values inside [lo, hi]: powers of ten on a log scale, 1/2/2.5/5 steps otherwise."""
        if self.log:
            return [10.0 ** k for k in range(math.ceil(math.log10(self.lo) - 1e-9), math.floor(math.log10(self.hi) + 1e-9) + 1)]
        span = self.hi - self.lo
        if span <= 0:
            return [self.lo]
        raw = span / 5
        mag = 10.0 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
        first = math.ceil(self.lo / step - 1e-9)
        return [round((first + i) * step, 12) for i in range(int((self.hi - first * step) / step + 1e-9) + 1)]


def _text_px(text: str, size: float = FONT_PX) -> float:
    """Estimate the width of `text` in pixels (wide East Asian characters count one em, others 0.62)."""
    import unicodedata

    return sum(WIDE_ADVANCE if unicodedata.east_asian_width(c) in "WF" else LATIN_ADVANCE for c in text) * size


def _clip_label(text: str, max_px: float) -> str:
    """Shorten `text` with an ellipsis until it fits `max_px`."""
    while len(text) > 1 and _text_px(text) > max_px:
        text = text[:-2] + "…"
    return text


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        mantissa, exp = f"{v:.0e}".split("e")
        return f"{mantissa}e{int(exp)}"
    return f"{v:,.6g}" if abs(v) >= 1000 else f"{v:.6g}"


def _text(x: float, y: float, text: str, anchor: str = "start", size: float = FONT_PX, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size:g}"{extra}>{html.escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, color: str, extra: str = "") -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{max(h, 0.0):.1f}" fill="{color}"{extra}/>'


def _svg_chart(width: float, height: float, label: str, title: str, body: list[str]) -> str:
    """Wrap chart elements in an inline <svg> with its accessible label and a centred title."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" class="chart" '
            f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'font-family="{FONT_STACK}" fill="#212529">'
            f"<title>{html.escape(title)}</title>" + _text(width / 2, 17, title, "middle", 13) + "".join(body) + "</svg>")


def _x_axis(x: _Axis, y: float, label: str) -> list[str]:
    """A horizontal axis line at `y` with its ticks, tick labels and axis label."""
    out = [f'<path d="M{x.px0:.1f},{y:.1f}H{x.px1:.1f}" stroke="#495057" fill="none"/>']
    for t in x.ticks():
        px = x(t)
        out.append(f'<path d="M{px:.1f},{y:.1f}v4" stroke="#495057"/>')
        out.append(_text(px, y + 15, _tick_label(t), "middle", 9))
    out.append(_text((x.px0 + x.px1) / 2, y + 31, label, "middle", 10))
    return out


def _y_axis(yax: _Axis, x: float, label: str) -> list[str]:
    """A vertical axis line at `x` with its ticks, tick labels and (rotated) axis label."""
    out = [f'<path d="M{x:.1f},{yax.px0:.1f}V{yax.px1:.1f}" stroke="#495057" fill="none"/>']
    for t in yax.ticks():
        py = yax(t)
        out.append(f'<path d="M{x:.1f},{py:.1f}h-4" stroke="#495057"/>')
        out.append(_text(x - 6, py + 3, _tick_label(t), "end", 9))
    mid = (yax.px0 + yax.px1) / 2
    out.append(_text(12, mid, label, "middle", 10, f' transform="rotate(-90 12 {mid:.1f})"'))
    return out


def _legend(x: float, y: float, entries: list[tuple[str, str]]) -> list[str]:
    """Colour swatches with their names, one per line from (x, y)."""
    out = []
    for i, (name, color) in enumerate(entries):
        out.append(_rect(x, y + i * 15 - 8, 10, 10, color))
        out.append(_text(x + 14, y + i * 15 + 1, name, size=9))
    return out


def _hbar_chart(rows: list[tuple[str, list[tuple[float, str]], str]], title: str, xlabel: str, label: str,
                xmax: float, legend: list[tuple[str, str]] = ()) -> str:
    """Horizontal (optionally stacked) bars: one row per (name, [(value, colour)…], note after the bar)."""
    names = [_clip_label(name, 220) for name, _, _ in rows]
    left = max((_text_px(n) for n in names), default=0) + 10
    plot_w, bar_h, top = 360.0, 18.0, 28.0
    notes_w = max((_text_px(note, 9) for _, _, note in rows), default=0)
    legend_w = max((_text_px(n, 9) + 24 for n, _ in legend), default=0)
    width = left + plot_w + 16 + legend_w
    bottom = top + bar_h * max(len(rows), 1)
    x = _Axis(0.0, xmax if xmax > 0 else 1.0, left, left + plot_w)
    body = []
    for i, (name, (_, segments, note)) in enumerate(zip(names, rows)):
        y = top + i * bar_h
        body.append(_text(left - 5, y + bar_h * 0.68, name, "end"))
        start = 0.0
        for value, color in segments:
            body.append(_rect(x(start), y + 2, x(start + value) - x(start), bar_h - 4, color))
            start += value
        if note:
            body.append(_text(min(x(start) + 3, left + plot_w + 16 - min(notes_w, 120)), y + bar_h * 0.68, note, size=9))
    body += _x_axis(x, bottom + 2, xlabel)
    body += _legend(left + plot_w + 20, top + 8, list(legend))
    return _svg_chart(width, bottom + 42, label, title, body)


def _step_path(counts: np.ndarray, edges: np.ndarray, x: _Axis, y: _Axis, base: float) -> str:
    """An outline of a histogram: up and across each bin, back to the baseline at the end."""
    d = [f"M{x(float(edges[0])):.1f},{y(base):.1f}"]
    for c, e0, e1 in zip(counts, edges[:-1], edges[1:]):
        level = y(float(c)) if c > 0 else y(base)
        d.append(f"V{level:.1f}H{x(float(e1)):.1f}")
    d.append(f"V{y(base):.1f}")
    return "".join(d)


def _hist_chart(series: list[tuple[str, np.ndarray, np.ndarray, str, bool]], title: str, xlabel: str, ylabel: str,
                label: str, xlog: bool = False, ylog: bool = False, vline: tuple[str, float] | None = None,
                width: float = 480.0, height: float = 250.0) -> str:
    """Step histograms (name, counts, bin edges, colour, filled) on shared axes, with an optional threshold line."""
    left, right, top, bottom = 58.0, width - 12, 30.0, height - 44
    lo = min(float(e[0]) for _, _, e, _, _ in series)
    hi = max(float(e[-1]) for _, _, e, _, _ in series)
    if xlog:
        lo = max(lo, 1e-9)
    peak = max((float(c.max()) for _, c, _, _, _ in series if len(c)), default=1.0) or 1.0
    x = _Axis(lo, hi if hi > lo else lo + 1, left, right, xlog)
    y = _Axis(0.8, peak * 2, bottom, top, True) if ylog else _Axis(0.0, peak * 1.1, bottom, top)
    base = y.lo
    body = []
    for _, counts, edges, color, filled in series:
        d = _step_path(counts, edges, x, y, base)
        style = f'fill="{color}" fill-opacity="0.55" stroke="none"' if filled else f'fill="none" stroke="{color}" stroke-width="1.5"'
        body.append(f'<path d="{d}" {style}/>')
    if vline is not None:
        px = x(vline[1])
        body.append(f'<path d="M{px:.1f},{bottom:.1f}V{top:.1f}" stroke="#212529" stroke-dasharray="4 3" fill="none"/>')
        body.append(_text(px + 3, top + 10, f"{vline[0]} = {vline[1]:g}", size=9))
    body += _x_axis(x, bottom, xlabel)
    body += _y_axis(y, left, ylabel)
    body += _legend(right - max(_text_px(n, 9) for n, *_ in series) - 16, top + 26 if vline else top + 8,
                    [(n, c) for n, _, _, c, _ in series])
    return _svg_chart(width, height, label, title, body)


def chart_funnel(steps: list[tuple[str, int]], quarantined: int) -> str:
    """Horizontal funnel: rows left after each dropping op, with quarantine as its own bar."""
    top = max((v for _, v in steps), default=0)
    rows = [(s, [(float(v), PALETTE["kept"] if i == len(steps) - 1 else PALETTE["neutral"])],
             f"{v:,}" + (f" ({v / top:.1%})" if top else "")) for i, (s, v) in enumerate(steps)]
    return _hbar_chart(rows, f"Funnel (quarantined at read: {quarantined:,})", "records", "funnel chart", top * 1.3)


def chart_bars(counts: dict[str, float], title: str, color: str, xlabel: str = "records", label: str = "") -> str:
    """Horizontal bar chart of the largest categories (the rest summed as 'other')."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    if len(items) > TOP_CATEGORIES:
        items = items[: TOP_CATEGORIES - 1] + [("other", sum(v for _, v in items[TOP_CATEGORIES - 1:]))]
    total = sum(v for _, v in items) or 1
    rows = [(str(k), [(float(v), color)], (f"{v:,.4g}" if isinstance(v, float) else f"{v:,}") + f" ({v / total:.1%})")
            for k, v in items]
    return _hbar_chart(rows, title, xlabel, label or title, (max((v for _, v in items), default=1) or 1) * 1.35)


def chart_per_source(per_source: dict[str, dict[str, int]]) -> str:
    """Stacked bars per raw source: kept / dropped / quarantined."""
    parts = ("kept", "dropped", "quarantined")
    rows = [(name, [(float(per_source[name].get(p, 0)), PALETTE[p]) for p in parts], "") for name in per_source]
    widest = max((sum(v for v, _ in segs) for _, segs, _ in rows), default=1) or 1
    return _hbar_chart(rows, "Outcome per source", "records", "outcome per source", widest * 1.05,
                       legend=[(p, PALETTE[p]) for p in parts])


def chart_lengths(hist: dict[str, np.ndarray]) -> str:
    """Text length (characters, log scale) of kept and dropped records."""
    nz = np.nonzero(hist["kept"] + hist["dropped"])[0]
    a, b = (int(nz[0]), int(nz[-1]) + 1) if len(nz) else (0, len(LENGTH_BINS) - 1)
    edges = LENGTH_BINS[a: b + 1].astype(float)
    series = [(f"{side} ({int(hist[side].sum()):,})", hist[side][a:b], edges, PALETTE[side], side == "kept")
              for side in ("kept", "dropped") if hist[side].sum()]
    if not series:
        series = [("kept (0)", np.zeros(len(edges) - 1), edges, PALETTE["kept"], True)]
    return _hist_chart(series, "Length distribution", "characters per record (log scale)", "records",
                       "length distribution", xlog=True, width=560)


def chart_score(name: str, values: dict[str, np.ndarray]) -> str:
    """Histogram of one score column, kept against dropped."""
    present = [v for v in values.values() if len(v)]
    allv = np.concatenate(present) if present else np.array([0.0])
    lo, hi = float(np.min(allv)), float(np.max(allv))
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    series = [(f"{side} (n={len(values[side]):,})", np.histogram(values[side], bins=bins)[0], bins, PALETTE[side], side == "kept")
              for side in ("kept", "dropped") if len(values.get(side, []))]
    if not series:
        series = [("no values", np.zeros(len(bins) - 1), bins, PALETTE["grey"], True)]
    return _hist_chart(series, name, name, "records", f"distribution of {name}", width=400, height=220)


def chart_clusters(sizes: Counter) -> str:
    """Number of duplicate clusters by cluster size (log count when the tail is long)."""
    items = sorted(sizes.items())
    log = max(sizes.values()) > 50 * min(sizes.values())  # a long tail: log counts keep the big clusters visible
    width, left, top, bottom = max(300.0, 60 + 34 * len(items)), 58.0, 30.0, 180.0
    peak = max(v for _, v in items)
    y = _Axis(0.8, peak * 2, bottom, top, True) if log else _Axis(0.0, peak * 1.1, bottom, top)
    slot = (width - left - 12) / len(items)
    body = []
    for i, (k, v) in enumerate(items):
        x0 = left + i * slot
        body.append(_rect(x0 + slot * 0.15, y(v), slot * 0.7, y(y.lo) - y(v), PALETTE["neutral"]))
        body.append(_text(x0 + slot / 2, bottom + 15, str(k), "middle", 9))
    body.append(f'<path d="M{left:.1f},{bottom:.1f}H{width - 12:.1f}" stroke="#495057" fill="none"/>')
    body.append(_text((left + width - 12) / 2, bottom + 31, "cluster size (kept original + duplicates)", "middle", 10))
    body += _y_axis(y, left, "clusters")
    title = f"Dedup clusters ({sum(sizes.values()):,}; {sum((k - 1) * v for k, v in items):,} duplicates dropped)"
    return _svg_chart(max(width, _text_px(title, 13) + 20), bottom + 42, "dedup cluster sizes", title, body)


def chart_boundary(b: Boundary) -> str:
    """The decision metric of one filter: kept against rows dropped for this reason, with the threshold line."""
    vals = [v[~np.isnan(v)] for v in (b.kept_values, b.dropped_values)]
    allv = np.concatenate([v for v in vals if len(v)])
    log = b.metric == "length"
    lo, hi = float(np.min(allv)), float(np.max(allv))
    if log:
        bins = np.logspace(np.log10(max(lo, 1.0)), np.log10(max(hi, 2.0)), 41)
    else:
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 41)
    series = [(f"{side}{'' if side == 'kept' else ': ' + b.reason} (n={len(v):,})",
               np.histogram(np.clip(v, bins[0], bins[-1]), bins=bins)[0], bins, PALETTE[side], side == "kept")
              for side, v in (("kept", vals[0]), ("dropped", vals[1])) if len(v)]
    vline = (b.threshold[0], float(b.threshold[1])) if b.threshold else None
    return _hist_chart(series, f"{b.op}: {b.reason}", "characters" if log else str(b.metric), "records (log)",
                       f"boundary of {b.op} {b.reason}", xlog=log, ylog=True, vline=vline, width=400, height=220)


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

"""The run report: rendered for the demo run by the flow, loaded in headless Chromium, charts present.

Also: boundary examples pick the records nearest each filter's threshold, record text is escaped,
annotation progress/agreement appears when an annotations table exists, and the run publishes its
Prefect artifacts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows.report.html import collect_report_data, render_report, write_report
from tests.flows.chromium import chromium_binary, load_page

ROOT = Path(__file__).resolve().parents[3]
DEMO = ROOT / "configs" / "recipes" / "demo.yaml"
SVG_PROBE = """JSON.stringify({
  svgs: [...document.querySelectorAll('svg.chart')].map(s => {
    const b = s.getBoundingClientRect();
    return {label: s.getAttribute('aria-label'), w: b.width, h: b.height, marks: s.querySelectorAll('path, rect, use').length};
  }),
  h2: [...document.querySelectorAll('h2')].map(h => h.id),
  title: document.title,
})"""

needs_chromium = pytest.mark.skipif(
    chromium_binary() is None,
    reason="headless browser check needs Debian's chromium: apt-get update && apt-get install -y chromium")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_api) -> Path:
    from flows.curate import run_recipe

    ws = tmp_path_factory.mktemp("report-ws")
    return run_recipe(str(DEMO), workspace=str(ws), run_id="demo-report")


@pytest.mark.integration
def test_flow_writes_report_and_artifacts(demo_run):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    html = (demo_run / "report.html").read_text(encoding="utf-8")
    rec = json.loads((demo_run / "run.json").read_text())
    assert f"{rec['totals']['kept']:,}" in html and "too_short" in html
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="demo-")))
    # Other tests' runs may share the recipe name (and so the keys): take this run's versions.
    by_key = {a.key: a for a in arts if f"run {rec['run_id']}" in (a.description or "")}
    assert {"demo-funnel", "demo-language-mix", "demo-op-time", "demo-report"} <= set(by_key)
    funnel = json.loads(by_key["demo-funnel"].data)
    assert funnel[0] == {"step": "read", "records": rec["totals"]["read"], "share of read": "100.0%"}
    assert {"step": "dropped: exact_duplicate", "records": rec["drops_by_reason"]["exact_duplicate"],
            "share of read": f"{rec['drops_by_reason']['exact_duplicate'] / rec['totals']['read']:.1%}"} in funnel
    assert by_key["demo-report"].data == f"[report of run demo-report]({(demo_run / 'report.html').resolve().as_uri()})"
    assert "dedup_exact@" in by_key["demo-op-time"].data


@pytest.mark.integration
@needs_chromium
def test_demo_report_loads_in_chromium_with_its_charts(demo_run):
    page = load_page((demo_run / "report.html").resolve().as_uri(), SVG_PROBE)
    assert page.errors == []
    assert page.requests == [], "the report must not fetch anything"
    probe = json.loads(page.probe)
    labels = [s["label"] for s in probe["svgs"]]
    for want in ("funnel chart", "outcome per source", "Dropped by reason", "Language", "Script",
                 "length distribution", "dedup cluster sizes", "time per operator"):
        assert want in labels
    assert all(s["w"] > 100 and s["h"] > 50 and s["marks"] >= 3 for s in probe["svgs"]), probe["svgs"]
    assert {"funnel", "drops", "languages", "lengths", "dedup", "boundaries"} <= set(probe["h2"])


@needs_chromium
def test_browser_check_catches_errors_and_fetches(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<p>x</p><script>throw new Error("boom")</script><img src="http://example.invalid/a.png">')
    page = load_page(bad.as_uri(), "document.querySelectorAll('svg').length")
    assert any("boom" in e for e in page.errors)
    assert page.requests == ["http://example.invalid/a.png"] and page.probe == 0


def _part(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


@pytest.fixture()
def scored_run(tmp_path) -> Path:
    return make_scored_run(tmp_path)


def make_scored_run(tmp_path: Path) -> Path:
    """A hand-made run: a quality filter dropped score_q < 0.5, and a dedup op dropped one copy."""
    kept = [{"id": f"k{i}", "text": f"kept <b>{i}</b> " * (i + 1), "source": "s", "lang": "zh", "script": "Hans",
             "score_q": 0.5 + i / 20} for i in range(10)]
    dropped = [{"id": f"d{i}", "text": f"low {i} <script>alert(1)</script>", "source": "s", "lang": "en", "script": "Latn",
                "score_q": i / 20, "drop_reason": "low_quality", "dropped_by": "quality_filter@1", "duplicate_of": None}
               for i in range(10)]
    dropped.append({"id": "dup1", "text": "kept <b>0</b> ", "source": "s", "lang": "zh", "script": "Hans", "score_q": 0.5,
                    "drop_reason": "exact_duplicate", "dropped_by": "dedup_exact@2", "duplicate_of": "k0"})
    _part(tmp_path / "kept" / "part-00000.parquet", kept)
    _part(tmp_path / "dropped" / "part-00000.parquet", dropped)
    ops = [{"op": "quality_filter@1", "params": {"column": "score_q", "min_score": 0.5}, "rows_in": 21, "rows_out": 11, "seconds": 0.1,
            "dropped": {"low_quality": 10}},
           {"op": "dedup_exact@2", "params": {}, "rows_in": 11, "rows_out": 10, "seconds": 0.2, "dropped": {"exact_duplicate": 1}}]
    (tmp_path / "run.json").write_text(json.dumps({
        "run_id": "hand", "recipe": {"name": "hand"}, "status": "completed", "ops": ops,
        "totals": {"read": 21, "kept": 10, "dropped": 11, "quarantined": 0}, "per_file": []}))
    return tmp_path


def test_boundary_examples_are_nearest_the_threshold(scored_run):
    data = collect_report_data(scored_run)
    q = next(b for b in data.boundaries if b.op == "quality_filter@1")
    assert q.metric == "score_q" and q.dropped_rows == 10
    assert [e.id for e in q.just_dropped] == ["d9", "d8", "d7"]  # the best of the dropped
    assert [e.id for e in q.just_kept] == ["k0", "k1", "k2"]  # the worst of the kept
    dup = next(b for b in data.boundaries if b.op == "dedup_exact@2")
    assert dup.just_dropped[0].note == "duplicate of k0" and [e.id for e in dup.just_kept] == ["k0"]
    assert data.cluster_sizes == {2: 1}
    assert data.funnel == [("read", 21), ("parsed", 21), ("after quality_filter@1", 11), ("after dedup_exact@2", 10), ("kept", 10)]


def test_report_escapes_text_and_draws_scores(scored_run):
    html = render_report(collect_report_data(scored_run))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'aria-label="distribution of score_q"' in html
    assert not re.search(r"""(src|href)=["']https?://""", html)


def test_annotation_progress_and_agreement(scored_run):
    labels = [{"item": f"k{i}", "annotator": a, "label": ("good" if i < 6 or a == "a1" else "bad")}
              for i in range(8) for a in ("a1", "a2")] + [{"item": "k9", "annotator": "a1", "label": "good"}]
    pq.write_table(pa.Table.from_pylist(labels), scored_run / "annotations.parquet")
    data = collect_report_data(scored_run)
    a = data.annotations
    assert a["judgements"] == 17 and a["items"] == 9
    assert a["judgements_per_item"] == {2: 8, 1: 1}
    assert a["agreement"]["n_items_multi"] == 8 and a["agreement"]["alpha_nominal"] < 1.0
    out = write_report(scored_run)
    assert "Annotation progress" in out.read_text(encoding="utf-8")


def test_reasons_are_matched_to_the_threshold_and_signal_they_were_decided_on():
    from flows.report.html import _reason_metric

    cols = {"signal_chars", "signal_cjk_share", "signal_digit_share", "signal_symbol_share", "signal_short_line_share",
            "signal_dup_line_share", "signal_dup_5gram_share", "signal_dup_6gram_share", "signal_stopwords"}
    text_stats = {"max_digit_share": 0.3, "max_garbled_share": 0.01, "max_symbol_share": 0.05, "min_cjk_share": 0.3}
    assert _reason_metric("low_cjk_share", text_stats, cols) == ("signal_cjk_share", "min_cjk_share", 0.3, True)
    assert _reason_metric("digit_heavy", text_stats, cols) == ("signal_digit_share", "max_digit_share", 0.3, False)
    length = {"min_chars": 100, "max_chars": 200000, "min_words": None}
    assert _reason_metric("too_few_chars", length, cols) == ("signal_chars", "min_chars", 100.0, True)
    assert _reason_metric("too_many_chars", length, cols) == ("signal_chars", "max_chars", 200000.0, False)
    lines = {"max_short_line_share": 0.67, "max_dup_line_share": 0.3}
    assert _reason_metric("short_lines", lines, cols)[:2] == ("signal_short_line_share", "max_short_line_share")
    rep = {"max_dup_5gram_share": 0.5, "max_dup_6gram_share": 0.45}
    assert _reason_metric("dup_6gram_repetition", rep, cols)[:2] == ("signal_dup_6gram_share", "max_dup_6gram_share")
    assert _reason_metric("exact_duplicate", {"keep": "first"}, cols) is None

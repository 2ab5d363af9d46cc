"""Chinese must render as Chinese, not as boxes ("tofu"), in the report and in Label Studio, in Debian's chromium.

A missing glyph is drawn as the font's one .notdef box (or nothing), so distinct characters with no
font behind them all produce the same pixels. The probe draws several distinct CJK characters in the
page's own font stack on a canvas and counts distinct pixel patterns. A control run with a
fontconfig that hides every Chinese-capable font proves the probe sees tofu when it is there.
scripts/test_services.sh installs fonts-noto-cjk wherever it installs chromium.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.flows.chromium import chromium_binary, load_page

pytestmark = pytest.mark.skipif(chromium_binary() is None,
                                reason="needs Debian's chromium and fonts-noto-cjk: bash scripts/test_services.sh")

CJK_CHARS = ["语", "料", "永", "国", "鬱"]
GLYPH_PROBE = """(() => {
  const font = getComputedStyle(document.body).fontFamily;
  const chars = %s;
  const draw = c => {
    const cv = document.createElement('canvas'); cv.width = 64; cv.height = 64;
    const ctx = cv.getContext('2d');
    ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, 64, 64); ctx.fillStyle = '#000';
    ctx.font = `48px ${font}`; ctx.textBaseline = 'top'; ctx.fillText(c, 4, 4);
    const d = ctx.getImageData(0, 0, 64, 64).data;
    let ink = 0, key = '';
    for (let i = 0; i < d.length; i += 4) { const dark = d[i] < 128; ink += dark; key += dark ? '1' : '0'; }
    return {ink, key};
  };
  const drawn = chars.map(draw);
  return JSON.stringify({font, ink: drawn.map(g => g.ink), distinct: new Set(drawn.map(g => g.key)).size,
                         cjk_in_page: /[\\u4e00-\\u9fff]/.test(document.body.textContent)});
})()""" % json.dumps(CJK_CHARS)
NO_CJK_FONTCONFIG = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <selectfont><rejectfont><pattern><patelt name="lang"><string>zh-cn</string></patelt></pattern></rejectfont></selectfont>
</fontconfig>
"""


def glyphs(url: str) -> dict:
    page = load_page(url, GLYPH_PROBE)
    return json.loads(page.probe)


def assert_chinese_renders(probe: dict) -> None:
    # Every character drawn, each differently: no two share the .notdef box.
    assert min(probe["ink"]) > 40, f"CJK characters drew (almost) nothing in {probe['font']}: install fonts-noto-cjk"
    assert probe["distinct"] == len(CJK_CHARS), (
        f"CJK characters render as identical boxes in {probe['font']}: install fonts-noto-cjk (scripts/test_services.sh)")


def tofu_control(url: str, tmp_path: Path, monkeypatch) -> dict:
    """Load the same page with every Chinese-capable font hidden from chromium."""
    conf = tmp_path / "no-cjk.conf"
    conf.write_text(NO_CJK_FONTCONFIG, encoding="utf-8")
    with monkeypatch.context() as m:
        m.setenv("FONTCONFIG_FILE", str(conf))
        return glyphs(url)


@pytest.fixture()
def report_page(tmp_path: Path, corpora: Path) -> str:
    from flows.report.html import write_report

    from tests.flows.test_annotate_integration import make_run, real_sentences

    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = make_run(tmp_path / "ws", real_sentences(corpora)[:30])
    # Chinese labels beside the run: the report draws them as chart text.
    pq.write_table(pa.table({"item": ["a", "a", "b"], "annotator": ["x", "y", "x"], "label": ["新闻", "新闻", "文学"]}),
                   run_dir / "annotations.parquet")
    return write_report(run_dir).resolve().as_uri()


def test_the_report_shows_chinese_as_chinese(report_page: str, tmp_path: Path, monkeypatch):
    probe = glyphs(report_page)
    assert probe["cjk_in_page"]
    assert_chinese_renders(probe)
    control = tofu_control(report_page, tmp_path, monkeypatch)
    assert control["distinct"] < len(CJK_CHARS) or min(control["ink"]) <= 40, "the probe cannot see tofu"


@pytest.mark.integration
def test_label_studio_shows_chinese_as_chinese(label_studio, tmp_path: Path, monkeypatch):
    url = f"{label_studio.url}/user/login/"
    assert_chinese_renders(glyphs(url))
    control = tofu_control(url, tmp_path, monkeypatch)
    assert control["distinct"] < len(CJK_CHARS) or min(control["ink"]) <= 40, "the probe cannot see tofu"

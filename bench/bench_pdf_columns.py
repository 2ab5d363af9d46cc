"""Two-column PDFs made with reportlab from Debian text editions: paragraphs read back exactly, with and without
yuliao's column step (transforms.convert.layout.column_pages), in the same run.

Layouts: `a4` (two justified columns on A4, running head and page number: the layout the column step was written
against) and `letter` (a full-width title and abstract over the columns, indented first lines, Times or HeiseiMin,
Letter size: not looked at while writing it). Text: paragraphs of the text editions that bench/bench_pdf.py
fetches into bench/.cache/pdf (run it once first). A paragraph counts when it comes out exactly (whitespace
ignored); LCS is over all non-space characters in order.

    .venv/bin/python bench/bench_pdf_columns.py [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import transforms.convert.layout as layout  # noqa: E402
from flows.io.readers.pdf import read_pdf_pages  # noqa: E402

DOC = ROOT / "bench" / ".cache" / "pdf" / "root" / "usr" / "share" / "doc"
CASES = (  # (name, text edition, language, layout, paragraphs, role)
    ("debian-history en, a4", DOC / "debian-history/docs/project-history.en.txt.gz", "en", "a4", 120, "tuning"),
    ("maint-guide zh-cn, a4", DOC / "maint-guide-zh-cn/maint-guide.zh-cn.txt.gz", "zh", "a4", 120, "tuning"),
    ("debian-faq en, letter", DOC / "debian/FAQ/debian-faq.en.txt.gz", "en", "letter", 80, "evaluation"),
    ("debian-history ja, letter", DOC / "debian-history/docs/project-history.ja.txt.gz", "ja", "letter", 80, "evaluation"),
)


def source_paragraphs(path: Path, lang: str, n: int, letter: bool) -> list[str]:
    """Prose paragraphs of a text edition: blocks of 2+ non-blank lines that are no table, list, listing or heading."""
    out = []
    for block in re.split(r"\n\s*\n", gzip.open(path, "rt", encoding="utf-8").read()):
        lines = [line.strip() for line in block.splitlines()]
        if len(lines) < 2 or not all(lines) or any(line.startswith(("|", "+", "*", "$", "#", "-", "^", "[")) for line in lines):
            continue
        if letter and re.match(r"^\d+(\.\d+)*\.? ", lines[0]):
            continue
        out.append(("" if lang != "en" else " ").join(lines))
    return [p for p in out if len(p) > (60 if letter else 80)][:n]


def make_pdf(paras: list[str], lang: str, kind: str) -> tuple[bytes, list[str]]:
    """The PDF and the paragraphs it holds, in order."""
    from reportlab.lib.pagesizes import A4, LETTER
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import BaseDocTemplate, Frame, FrameBreak, NextPageTemplate, PageTemplate, Paragraph

    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;")  # noqa: E731
    buf = io.BytesIO()
    wrap = "CJK" if lang != "en" else None
    if kind == "a4":
        font = "Helvetica" if lang == "en" else "STSong-Light"
        if lang != "en":
            pdfmetrics.registerFont(UnicodeCIDFont(font))
        body = ParagraphStyle("b", fontName=font, fontSize=9.5, leading=12 if lang == "en" else 13, alignment=4, wordWrap=wrap, spaceBefore=6)
        (w, h), m, gap = A4, 50, 18
        cw = (w - 2 * m - gap) / 2

        def deco(c, doc):
            c.saveState(); c.setFont("Helvetica", 8)
            c.drawString(m, h - 30, "Journal of Test Layouts, vol. 3"); c.drawRightString(w - m, h - 30, str(doc.page))
            c.drawCentredString(w / 2, 25, f"- {doc.page} -"); c.restoreState()

        doc = BaseDocTemplate(buf, pagesize=A4)
        doc.addPageTemplates([PageTemplate(id="two", frames=[Frame(m, m, cw, h - 2 * m - 10), Frame(m + cw + gap, m, cw, h - 2 * m - 10)], onPage=deco)])
        doc.build([Paragraph(esc(p), body) for p in paras])
        return buf.getvalue(), paras
    font = "Times-Roman" if lang == "en" else "HeiseiMin-W3"
    if lang != "en":
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    body = ParagraphStyle("b", fontName=font, fontSize=10, leading=12.5, alignment=4, firstLineIndent=12, wordWrap=wrap)
    title = ParagraphStyle("t", fontName=font, fontSize=16, leading=20, alignment=1)
    abstract = ParagraphStyle("a", fontName=font, fontSize=9, leading=11, alignment=4, leftIndent=40, rightIndent=40, wordWrap=wrap)
    (w, h), m, gap = LETTER, 54, 14
    cw = (w - 2 * m - gap) / 2

    def deco(c, doc):
        c.saveState(); c.setFont("Times-Italic", 8)
        c.drawString(m, h - 36, "Proceedings of the Workshop on Layout, 2026"); c.drawRightString(w - m, 30, str(doc.page)); c.restoreState()

    first = [Frame(m, h - m - 150, w - 2 * m, 140), Frame(m, m, cw, h - 2 * m - 160), Frame(m + cw + gap, m, cw, h - 2 * m - 160)]
    rest = [Frame(m, m, cw, h - 2 * m - 10), Frame(m + cw + gap, m, cw, h - 2 * m - 10)]
    doc = BaseDocTemplate(buf, pagesize=LETTER)
    doc.addPageTemplates([PageTemplate(id="first", frames=first, onPage=deco), PageTemplate(id="rest", frames=rest, onPage=deco)])
    story = [Paragraph(esc(paras[0][:60]), title), Paragraph(esc(paras[1]), abstract), FrameBreak(), NextPageTemplate("rest")]
    doc.build(story + [Paragraph(esc(p), body) for p in paras[2:]])
    return buf.getvalue(), [paras[0][:60]] + paras[1:]


def read_back(data: bytes, columns: bool) -> list[str]:
    import pypdfium2

    pages = read_pdf_pages(data, 1, len(pypdfium2.PdfDocument(data))).pages
    real = layout.column_pages
    layout.column_pages = real if columns else (lambda page: [page])
    try:
        return [p.text for p in layout.paragraphs_of(layout.strip_running_lines(pages)[0])]
    finally:
        layout.column_pages = real


def main() -> None:
    from rapidfuzz.distance import LCSseq

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    norm = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    rows = ["| PDF | role | paragraphs | exact, columns off | exact, columns on | char LCS on |", "|---|---|---|---|---|---|"]
    for name, path, lang, kind, n, role in CASES:
        data, want = make_pdf(source_paragraphs(path, lang, n, kind == "letter"), lang, kind)
        wanted = [norm(p) for p in want]
        cells = []
        for columns in (False, True):
            got = read_back(data, columns)
            found = {norm(p) for p in got}
            cells.append(sum(1 for w in wanted if w in found))
        ref, out = norm("".join(want)), norm("".join(got))
        rows.append(f"| {name} | {role} | {len(want)} | {cells[0]} | {cells[1]} | {LCSseq.similarity(out, ref) / len(ref):.4f} |")
    report = f"run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.2f}\n\n" + "\n".join(rows)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""PDF reader (PDFium through pypdfium2): running text with word spaces and paragraphs, pages as metadata.

PDFium was picked by measurement (bench/bench_pdf.py, bench/results/pdf_extractors.md) over pypdf, pdfminer.six
and pdfplumber: it keeps word spaces where pypdf glues words, and is the fastest. Each page gives
lines in PDFium's reading order with their boxes; transforms.convert.layout removes running
headers/footers/page numbers, finds paragraphs and joins lines (docs/conversion.md).

`unit: file` (default) gives one document per PDF, `page` one per page, `section` one per entry of
the PDF outline at `section_level` (chapters by default; front matter before the first entry is its
own section; a PDF without an outline falls back to one document and says so in meta). A page
without a text layer that carries images (a scan) is quarantined as `no_text_layer`, one entry per
page; blank pages are recorded in meta (`unit: page`: quarantined as `empty_page`, so pages add up).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, register_format
from flows.io.readers.streams import oversized, read_capped
from flows.io.recipe import InputSpec
from transforms.convert.layout import (
    Line,
    Page,
    Paragraph,
    document_vocabulary,
    glyphs_spaced,
    is_blank,
    paragraphs_of,
    strip_running_lines,
    text_right_edge,
    with_column_tabs,
)
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc
from transforms.schema import sha256_hex

TEXT = FieldMapping("text")
# PDFium is not thread-safe and the thread task runner reads files in parallel: one document at a time.
PDFIUM_LOCK = threading.Lock()
FEW_LINES = 3


class PdfOptions(BaseModel):
    """Options of the pdf reader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Literal["file", "page", "section"] = "file"
    section_level: int = Field(1, ge=1, le=6)  # outline depth that starts a section (1: chapters)
    strip_furniture: bool = True  # remove running headers, footers and page numbers


@dataclass(frozen=True)
class PdfPages:
    """What PDFium gives for a whole file: its pages as lines, which pages are scans, outline, info."""

    pages: list[Page]
    with_images: set[int]  # numbers of the pages with images and at most FEW_LINES lines of text (scan candidates)
    outline: list[tuple[int, int, str]]  # (level, first page number, title)
    info: dict[str, str]


def boxed_line(textpage, text: str, start: int, height: float) -> Line:
    """Return one line of text (page chars start..) with the box spanned by its first and last visible characters,
    missing word spaces added and spaces between table columns made tabs (transforms.convert.layout)."""
    lead = len(text) - len(text.lstrip())
    trail = len(text) - len(text.rstrip())
    first, last = start + lead, start + len(text) - 1 - trail
    if first > last:
        return Line(text)
    boxes = [textpage.get_charbox(start + k, loose=True) for k in range(len(text))]
    a, b = boxes[lead], boxes[len(text) - 1 - trail]
    em = min(a[3] - a[1], b[3] - b[1])
    cell_x: tuple[float, ...] = ()
    if em > 0:
        text, cell_x = with_column_tabs(glyphs_spaced(text, boxes), em)
    return Line(text, min(a[0], b[0]), max(a[2], b[2]), height - max(a[3], b[3]), height - min(a[1], b[1]), cell_x)


def drops_a_line(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """True when glyph box `b` sits a line below `a`: its centre lower by over half the smaller box's height (centres,
    not bottoms or the line box's height: a URL's typewriter glyphs have shorter loose boxes than the roman ones)."""
    return (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2 > 0.5 * min(a[3] - a[1], b[3] - b[1])


def split_visual_lines(textpage, text: str, start: int, height: float) -> list[Line]:
    """Split a PDFium line that spans several visual lines (it sometimes omits the break) where the text drops down."""
    line = boxed_line(textpage, text, start, height)
    if not line.has_box:
        return [line]
    a = textpage.get_charbox(start + len(text) - len(text.lstrip()), loose=True)
    b = textpage.get_charbox(start + len(text.rstrip()) - 1, loose=True)
    if not drops_a_line(a, b):  # the last glyph stands on the first one's line: nothing to split
        return [line]
    out: list[Line] = []
    cut, prev = 0, None
    for k, ch in enumerate(text):
        if ch.isspace():
            continue
        box = textpage.get_charbox(start + k, loose=True)
        if prev is not None and drops_a_line(prev, box) and box[0] < prev[0]:
            out.append(boxed_line(textpage, text[cut:k], start + cut, height))
            cut = k
        prev = box
    out.append(boxed_line(textpage, text[cut:], start + cut, height))
    return out


def page_lines(textpage, height: float) -> tuple[Line, ...]:
    """Return a PDFium text page as lines in its reading order, each with its box (y from the page top)."""
    n = textpage.count_chars()
    text = textpage.get_text_range(0, n) if n else ""
    if len(text) != n:  # no index-to-box mapping: keep the lines without geometry
        return tuple(Line(t) for t in text.replace("\r\n", "\n").split("\n"))
    lines: list[Line] = []
    start = 0
    for part in text.split("\r\n"):
        lines.extend(split_visual_lines(textpage, part, start, height) if part.strip() else [Line(part)])
        start += len(part) + 2
    return tuple(lines)


def has_images(page) -> bool:
    """True when a PDFium page holds at least one image object."""
    import pypdfium2.raw as pdfium_c

    return next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)), None) is not None


def outline_of(pdf) -> list[tuple[int, int, str]]:
    """Return the PDF outline (bookmarks) as (level from 1, page number, title), entries without a page left out."""
    out: list[tuple[int, int, str]] = []
    for item in pdf.get_toc():
        dest = item.get_dest()
        index = dest.get_index() if dest is not None else None
        if index is not None:
            out.append((item.level + 1, index + 1, item.get_title()))
    return out


def read_pdf_pages(data: bytes, first: int = 1, last: int | None = None) -> PdfPages:
    """Extract the lines of pages first..last (1-based, default all), the scanned pages among them, the outline and the info."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(io.BytesIO(data))
        try:
            pages: list[Page] = []
            with_images: set[int] = set()
            for k in range(first - 1, min(len(pdf), last or len(pdf))):
                page = pdf[k]
                width, height = page.get_size()
                textpage = page.get_textpage()
                lines = page_lines(textpage, height)
                pages.append(Page(k + 1, lines, width, height))
                # a scan may still carry a running header: decide after furniture removal, look for images now
                if sum(1 for line in lines if line.text.strip()) <= FEW_LINES and has_images(page):
                    with_images.add(k + 1)
                textpage.close()
                page.close()
            outline = outline_of(pdf)
            meta = pdf.get_metadata_dict(skip_empty=True)
        finally:
            pdf.close()
    return PdfPages(pages, with_images, outline, meta)


def sections(outline: list[tuple[int, int, str]], n_pages: int, level: int) -> list[tuple[int, int, str | None]]:
    """Return (first page, last page, title) of each section at an outline level; front matter first."""
    starts: list[tuple[int, str | None]] = []
    for lvl, page, title in outline:
        if lvl <= level and (not starts or page > starts[-1][0]):
            starts.append((page, title))
        elif lvl <= level and starts and page == starts[-1][0]:
            continue  # two entries on one page: the first names the section
    if not starts:
        return []
    if starts[0][0] > 1:
        starts.insert(0, (1, None))
    return [(p, (starts[i + 1][0] - 1) if i + 1 < len(starts) else n_pages, t) for i, (p, t) in enumerate(starts)]


def document_text(paragraphs: list[Paragraph]) -> tuple[str, list[list[int]], list[list[int]]]:
    """Join paragraphs one per line; return the text, [page, char offset] where each page's body text starts,
    and [page, char offset] of each footnote."""
    parts: list[str] = []
    offsets: list[list[int]] = []
    notes_at: list[list[int]] = []
    pos = 0
    for para in paragraphs:
        if para.footnote:
            notes_at.append([para.pages[0], pos])
        for page, off in para.line_offsets:
            if not para.footnote and (not offsets or offsets[-1][0] != page):
                offsets.append([page, pos + off])
        parts.append(para.text)
        pos += len(para.text) + 1
    return "\n".join(parts), offsets, notes_at


def pdf_info_meta(info: dict[str, str], n_pages: int) -> dict:
    """Return the document-level meta of a PDF: page count, title and author when set."""
    meta: dict = {"pdf_pages": n_pages}
    for key, name in (("Title", "pdf_title"), ("Author", "pdf_author")):
        if info.get(key):
            meta[name] = str(info[key])
    return meta


@dataclass(frozen=True)
class PdfFile:
    """One PDF after furniture removal, with what every document cut from it shares."""

    uri: str
    data: bytes
    sha256: str
    pages: list[Page]
    scanned: set[int]  # page numbers with images and no text left: no text layer
    vocabulary: set[str]  # for hyphen rejoining, from the whole file
    right: float  # right edge of the file's text block
    meta: dict


def document_of(spec: InputSpec, pdf: PdfFile, span: list[Page], meta: dict, uri: str) -> Iterator[dict | Quarantined]:
    """Yield a no_text_layer entry per scanned page of a run of pages, then its document (or why there is none)."""
    scanned = [p.number for p in span if p.number in pdf.scanned]
    for number in scanned:
        yield Quarantined(spec.source, f"{pdf.uri}#page={number}", "no_text_layer",
                          f"page {number} has images but no text layer (a scan); OCR it first, yuliao does not",
                          b"", raw_sha256=pdf.sha256)
    text, offsets, notes_at = document_text(paragraphs_of([p for p in span if p.number not in pdf.scanned], pdf.vocabulary, pdf.right))
    if not text.strip():
        if not scanned:  # nothing else accounts for these pages
            where = f"page {span[0].number}" if len(span) == 1 else f"pages {span[0].number}-{span[-1].number}"
            yield Quarantined(spec.source, uri, "empty_page" if len(span) == 1 else "no_text",
                              f"{where}: no text besides running headers/footers and no images (blank)", b"", raw_sha256=pdf.sha256)
        return
    meta = {**pdf.meta, **meta, "pdf_page_first": span[0].number, "pdf_page_last": span[-1].number, "pdf_page_offsets": offsets}
    blank = [p.number for p in span if is_blank(p) and p.number not in pdf.scanned]
    if blank:
        meta["pdf_blank_pages"] = blank
    if scanned:
        meta["pdf_no_text_layer_pages"] = scanned
    if notes_at:
        meta["pdf_footnotes"] = notes_at
    yield record_to_doc({"text": text, **meta}, pdf.data, source=spec.source, source_uri=uri, locator=uri,
                        mapping=TEXT, mojibake=spec.mojibake)


def open_pdf(source: Source, data: bytes, options: PdfOptions) -> tuple[PdfFile, list[tuple[int, int, str]]]:
    """Extract a PDF's pages, remove running headers/footers; return it and its outline."""
    got = read_pdf_pages(data)
    pages, removed = strip_running_lines(got.pages) if options.strip_furniture else (got.pages, 0)
    scanned = {p.number for p in pages if p.number in got.with_images and is_blank(p)}
    meta = pdf_info_meta(got.info, len(pages)) | {"pdf_furniture_lines_removed": removed}
    pdf = PdfFile(source.uri, data, sha256_hex(data), pages, scanned, document_vocabulary(pages), text_right_edge(pages), meta)
    return pdf, got.outline


@register_format("pdf", (".pdf",), PdfOptions)
def read_pdf(spec: InputSpec, options: PdfOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a PDF as documents of running text: one per file, page or outline section (option `unit`)."""
    data, size, sha = read_capped(source, spec.max_record_bytes)
    if sha is not None:
        yield oversized(spec, source.uri, size, data, sha)
        return
    try:
        pdf, outline = open_pdf(source, data, options)
    except Exception as exc:  # noqa: BLE001 - a corrupt or password-protected PDF is quarantined, the run goes on
        yield Quarantined(spec.source, source.uri, "unreadable_pdf", f"pdf could not be parsed: {type(exc).__name__}: {exc}", data)
        return
    if not pdf.pages:
        yield Quarantined(spec.source, source.uri, "no_text", "the pdf has no pages", data)
        return
    if options.unit == "page":
        for page in pdf.pages:
            yield from document_of(spec, pdf, [page], {"pdf_unit": "page"}, f"{source.uri}#page={page.number}")
        return
    spans = sections(outline, len(pdf.pages), options.section_level) if options.unit == "section" else []
    for first, last, title in spans:
        yield from document_of(spec, pdf, pdf.pages[first - 1:last], {"pdf_unit": "section", "pdf_section_title": title},
                               f"{source.uri}#pages={first}-{last}")
    if not spans:
        meta = {"pdf_unit": "file"}
        if options.unit == "section":
            meta["pdf_unit_fallback"] = "no outline in the pdf: one document for the file"
        yield from document_of(spec, pdf, pdf.pages, meta, source.uri)

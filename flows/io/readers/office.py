"""DOCX (python-docx) and ODT (content.xml read with lxml) readers: one document per file. PDF is flows/io/readers/pdf.py.

Normalisation, as documented in docs/conversion.md: the body in document order, one paragraph or
heading per line, each table row one line with its cells separated by tabs (a cell's own
paragraphs and tabs become spaces). Page headers and footers are not body text and stay out
(DOCX keeps them in header parts, ODT in styles.xml). ODT footnotes follow the body. Core
properties / document metadata go to meta.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from flows.io.readers import NoOptions, Source, register_format
from flows.io.readers.streams import oversized, read_capped
from flows.io.recipe import InputSpec
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc

TEXT = FieldMapping("text")


def cell_text(text: str) -> str:
    """A table cell on one line: its paragraphs and tabs become spaces, so tabs only ever separate cells."""
    return " ".join(text.split())


def docx_rows(table) -> Iterator[str]:
    """Yield a python-docx table's rows as lines, cells separated by tabs (a merged cell once, not per grid column)."""
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # python-docx repeats a horizontally merged cell for each column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(cell_text(cell.text))
        yield "\t".join(cells)


def docx_text(data: bytes) -> tuple[str, dict]:
    """Return the body text (paragraphs and table rows in document order) and core properties of a .docx file.

    Page headers and footers live outside the body and stay out of the text.
    """
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(docx_rows(block))
        else:
            lines.append(block.text)
    props = document.core_properties
    meta = {"title": props.title, "author": props.author, "created": props.created.isoformat() if props.created else None}
    return "\n".join(lines), {f"docx_{k}": v for k, v in meta.items() if v}


ODF = {
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "dc": "http://purl.org/dc/elements/1.1/",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
}
ODF_SKIPPED = {f"{{{ODF['text']}}}tracked-changes", f"{{{ODF['office']}}}annotation", f"{{{ODF['text']}}}note-citation"}


def odf_inline(el, notes: list[str]) -> str:
    """Return the text of a paragraph element: `text:s` spaces, tabs and line breaks kept; footnote bodies set aside."""
    out = [el.text or ""]
    for child in el:
        tag = child.tag
        if tag == f"{{{ODF['text']}}}s":
            out.append(" " * int(child.get(f"{{{ODF['text']}}}c", "1")))
        elif tag == f"{{{ODF['text']}}}tab":
            out.append("\t")
        elif tag == f"{{{ODF['text']}}}line-break":
            out.append("\n")
        elif tag == f"{{{ODF['text']}}}note":
            body = child.find(f"{{{ODF['text']}}}note-body")
            if body is not None:
                notes.append(" ".join(odf_blocks(body, notes)))
        elif tag not in ODF_SKIPPED:
            out.append(odf_inline(child, notes))
        out.append(child.tail or "")
    return "".join(out)


def odf_blocks(el, notes: list[str]) -> list[str]:
    """Return the lines of an ODF body element in order: headings and paragraphs, list items, table rows (tab-separated)."""
    lines: list[str] = []
    for child in el:
        tag = child.tag
        if tag in (f"{{{ODF['text']}}}p", f"{{{ODF['text']}}}h"):
            lines.append(odf_inline(child, notes))
        elif tag == f"{{{ODF['table']}}}table-row":
            cells = [cell_text(" ".join(odf_blocks(cell, notes))) for cell in child
                     if cell.tag == f"{{{ODF['table']}}}table-cell"]
            while cells and not cells[-1]:  # trailing empty (repeated) cells of a spreadsheet-like grid
                cells.pop()
            lines.append("\t".join(cells))
        elif tag not in ODF_SKIPPED:
            lines.extend(odf_blocks(child, notes))  # sections, lists, list items, tables, header rows
    return lines


def odt_text(data: bytes) -> tuple[str, dict]:
    """Return the body text of an .odt file (page headers/footers live in styles.xml and stay out), footnotes last."""
    import zipfile

    from lxml import etree

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        root = etree.fromstring(z.read("content.xml"))
        meta_xml = etree.fromstring(z.read("meta.xml")) if "meta.xml" in z.namelist() else None
    body = root.find(f"{{{ODF['office']}}}body/{{{ODF['office']}}}text")
    if body is None:
        raise ValueError("no office:text body (not a text document: a spreadsheet or presentation?)")
    notes: list[str] = []
    lines = odf_blocks(body, notes) + notes
    meta = {}
    if meta_xml is not None:
        for key, path in (("title", "dc:title"), ("author", "meta:initial-creator")):
            found = meta_xml.find(f".//{path}", ODF)
            if found is not None and found.text:
                meta[f"odt_{key}"] = found.text
    return "\n".join(lines), meta


def _whole(spec: InputSpec, source: Source, kind: str, extract) -> Iterator[dict | Quarantined]:
    data, size, sha = read_capped(source, spec.max_record_bytes)
    if sha is not None:
        yield oversized(spec, source.uri, size, data, sha)
        return
    try:
        text, meta = extract(data)
    except Exception as exc:  # noqa: BLE001 - a corrupt document is quarantined, the run goes on
        yield Quarantined(spec.source, source.uri, f"unreadable_{kind}", f"{kind} could not be parsed: {type(exc).__name__}: {exc}", data)
        return
    if not text.strip():
        yield Quarantined(spec.source, source.uri, "no_text",
                          f"the {kind} has no extractable text (scanned images need OCR, which yuliao does not do)", data)
        return
    yield record_to_doc({"text": text, **meta}, data, source=spec.source, source_uri=source.uri, locator=source.uri,
                        mapping=TEXT, mojibake=spec.mojibake)


@register_format("docx", (".docx",), NoOptions)
def read_docx(spec: InputSpec, options: NoOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a .docx file as one document (paragraphs and table rows in document order)."""
    yield from _whole(spec, source, "docx", docx_text)


@register_format("odt", (".odt",), NoOptions)
def read_odt(spec: InputSpec, options: NoOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read an OpenDocument text file as one document (paragraphs and table rows in order, footnotes last)."""
    yield from _whole(spec, source, "odt", odt_text)

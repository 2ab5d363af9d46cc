"""DOCX (python-docx) and PDF (pypdf) readers: one document per file.

Normalisation, as documented in docs/conversion.md: DOCX text is its paragraphs in order, one per
line, then table cells row by row (cells joined by a tab); PDF text is pypdf's text of each page,
pages joined by a form feed line ("\\n\\f\\n"). Core properties / document info go to meta.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from flows.readers import NoOptions, Source, register_format
from flows.readers.streams import oversized, read_capped
from flows.recipe import InputSpec
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc

TEXT = FieldMapping("text")
PAGE_BREAK = "\n\f\n"


def docx_text(data: bytes) -> tuple[str, dict]:
    """Return the text and core properties of a .docx file."""
    import docx

    document = docx.Document(io.BytesIO(data))
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append("\t".join(cell.text for cell in row.cells))
    props = document.core_properties
    meta = {"title": props.title, "author": props.author, "created": props.created.isoformat() if props.created else None}
    return "\n".join(lines), {f"docx_{k}": v for k, v in meta.items() if v}


def pdf_text(data: bytes) -> tuple[str, dict]:
    """Return the text of every page of a PDF (pages joined by a form-feed line) and its info."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")  # many "encrypted" PDFs only restrict editing; raises when a password is needed
    pages = [page.extract_text() or "" for page in reader.pages]
    info = reader.metadata or {}
    meta = {"pdf_pages": len(pages), "pdf_title": info.get("/Title"), "pdf_author": info.get("/Author")}
    return PAGE_BREAK.join(pages), {k: str(v) if k != "pdf_pages" else v for k, v in meta.items() if v}


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
    """Read a .docx file as one document (paragraphs, then tables)."""
    yield from _whole(spec, source, "docx", docx_text)


@register_format("pdf", (".pdf",), NoOptions)
def read_pdf(spec: InputSpec, options: NoOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a PDF as one document (text layer of every page)."""
    yield from _whole(spec, source, "pdf", pdf_text)

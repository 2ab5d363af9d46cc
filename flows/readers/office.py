"""DOCX (python-docx) reader: one document per file. PDF is flows/readers/pdf.py.

Normalisation, as documented in docs/conversion.md: DOCX text is its paragraphs in order, one per
line, then table cells row by row (cells joined by a tab). Core properties go to meta.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from flows.readers import NoOptions, Source, register_format
from flows.readers.streams import oversized, read_capped
from flows.recipe import InputSpec
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc

TEXT = FieldMapping("text")


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

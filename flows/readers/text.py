"""Plain-text reader: one document per file, per blank-line paragraph or per line, in any detected encoding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flows.readers import Source, register_format, with_compression
from flows.readers.streams import (SNIFF_BYTES, choose_encoding, decode_line, is_blank, iter_lines, newline_for, oversized,
                                   read_capped, sniff, strip_cr)
from flows.recipe import InputSpec
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc

TEXT = FieldMapping("text")


class TextOptions(BaseModel):
    """How a text file is cut into documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    unit: Literal["file", "paragraph", "line"] = Field("file", description="one document per file, per blank-line paragraph, or per line")


def text_doc(spec: InputSpec, raw: bytes, text: str, uri: str, locator: str, meta: dict) -> dict | Quarantined:
    """Return the document for one decoded text record (NUL bytes and mojibake checked by record_to_doc)."""
    return record_to_doc({"text": text}, raw, source=spec.source, source_uri=uri, locator=locator,
                         mapping=TEXT, extra_meta=meta, mojibake=spec.mojibake)


def _whole_file(spec: InputSpec, source: Source) -> Iterator[dict | Quarantined]:
    data, size, sha = read_capped(source, spec.max_record_bytes)
    if sha is not None:
        yield oversized(spec, source.uri, size, data, sha)
        return
    if not data:
        yield Quarantined(spec.source, source.uri, "empty_document", "the file is empty", b"")
        return
    guess = choose_encoding(spec, data[:SNIFF_BYTES], len(data) <= SNIFF_BYTES)
    body = data[guess.bom :]
    decoded = decode_line(spec, body, guess, source.uri, guess.bom)
    if isinstance(decoded, Quarantined):
        yield decoded
        return
    yield text_doc(spec, data, decoded.text, source.uri, source.uri, decoded.meta)


def _lines(spec: InputSpec, source: Source, paragraphs: bool) -> Iterator[dict | Quarantined]:
    head, complete = sniff(source)
    if not head:
        return
    guess = choose_encoding(spec, head, complete)
    newline = newline_for(guess)
    para: list[bytes] = []  # raw lines of the current paragraph (bounded by max_record_bytes)
    para_start = (0, 0)
    para_size = 0
    para_over = False

    def flush() -> Iterator[dict | Quarantined]:
        number, offset = para_start
        uri = f"{source.uri}:{number}"
        if para_over:
            yield oversized(spec, uri, para_size, para[0][:256] if para else b"", None)
            return
        raw = newline.join(para)
        decoded = decode_line(spec, raw, guess, uri, offset)
        if isinstance(decoded, Quarantined):
            yield decoded
            return
        yield text_doc(spec, raw, decoded.text, uri, f"{source.uri}:L{number}", decoded.meta)

    with source.open() as stream:
        if guess.bom:
            stream.read(guess.bom)
        for line in iter_lines(stream, spec.max_record_bytes, newline, offset=guess.bom):
            raw = line.raw if line.oversized else strip_cr(line.raw, newline)
            uri = f"{source.uri}:{line.number}"
            if not paragraphs:
                if line.oversized:
                    yield oversized(spec, uri, line.size, line.raw, line.sha256)
                elif not is_blank(raw, newline):
                    decoded = decode_line(spec, raw, guess, uri, line.offset)
                    yield decoded if isinstance(decoded, Quarantined) else text_doc(
                        spec, raw, decoded.text, uri, f"{source.uri}:L{line.number}", decoded.meta)
                continue
            if not line.oversized and is_blank(raw, newline):
                if para or para_over:
                    yield from flush()
                para, para_size, para_over = [], 0, False
                continue
            if not para and not para_over:
                para_start = (line.number, line.offset)
            para_size += line.size + len(newline)
            if line.oversized or para_size > spec.max_record_bytes:
                para_over = True  # keep only the first line's head: memory stays bounded
                para = para[:1] or [line.raw]
            else:
                para.append(raw)
        if para or para_over:
            yield from flush()


@register_format("text", with_compression((".txt", ".text", ".md")), TextOptions)
def read_text(spec: InputSpec, options: TextOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a text file as documents cut by `unit`; the encoding is detected per file (or set on the input)."""
    if options.unit == "file":
        yield from _whole_file(spec, source)
    else:
        yield from _lines(spec, source, paragraphs=options.unit == "paragraph")

"""Plain-text reader: one document per file, per blank-line paragraph or per line, in any detected encoding."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, register_format, with_compression
from flows.io.readers.streams import (SNIFF_BYTES, choose_encoding, empty_compressed, decode_line, is_blank, iter_lines, newline_for, oversized,
                                   read_capped, sniff, strip_cr)
from flows.io.recipe import InputSpec
from transforms.convert.encoding import EncodingGuess
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
    yield from empty_compressed(spec, source, head)
    if not head:
        return
    guess = choose_encoding(spec, head, complete, lines=True)
    newline = newline_for(guess)
    state = _Paragraph(spec, source, guess, newline)
    with source.open() as stream:
        if guess.bom:
            stream.read(guess.bom)
        for line in iter_lines(stream, spec.max_record_bytes, newline, offset=guess.bom):
            raw = line.raw if line.oversized else strip_cr(line.raw, newline)
            uri = f"{source.uri}:{line.number}"
            if line.oversized:
                # A line over the limit is its own quarantine entry (hashed whole by iter_lines).
                yield from state.flush()
                yield oversized(spec, uri, line.size, line.raw, line.sha256)
            elif is_blank(raw, newline):
                yield from state.flush()
            elif not paragraphs:
                decoded = decode_line(spec, raw, guess, uri, line.offset)
                yield decoded if isinstance(decoded, Quarantined) else text_doc(
                    spec, raw, decoded.text, uri, f"{source.uri}:L{line.number}", decoded.meta)
            else:
                state.add(line.number, line.offset, raw)
        yield from state.flush()


class _Paragraph:
    """The paragraph being read: its lines, or, once over max_record_bytes, a running hash and its head."""

    def __init__(self, spec: InputSpec, source: Source, guess: EncodingGuess, newline: bytes) -> None:
        self.spec, self.source, self.guess, self.newline = spec, source, guess, newline
        self.reset()

    def reset(self) -> None:
        self.lines: list[bytes] = []
        self.start = (0, 0)
        self.size = 0
        self.hasher: hashlib._Hash | None = None
        self.head = b""

    def add(self, number: int, offset: int, raw: bytes) -> None:
        if not self.lines and self.hasher is None:
            self.start = (number, offset)
        elif self.hasher is not None:
            self.hasher.update(self.newline + raw)
            self.size += len(self.newline) + len(raw)
            return
        self.lines.append(raw)
        self.size += len(raw) + (len(self.newline) if len(self.lines) > 1 else 0)
        if self.size > self.spec.max_record_bytes:
            # Over the limit: hash what is held and let it go, memory stays bounded.
            joined = self.newline.join(self.lines)
            self.hasher, self.head, self.lines = hashlib.sha256(joined), joined[:256], []

    def flush(self) -> Iterator[dict | Quarantined]:
        if not self.lines and self.hasher is None:
            return
        number, offset = self.start
        uri = f"{self.source.uri}:{number}"
        if self.hasher is not None:
            item: dict | Quarantined = oversized(self.spec, uri, self.size, self.head, self.hasher.hexdigest())
        else:
            raw = self.newline.join(self.lines)
            decoded = decode_line(self.spec, raw, self.guess, uri, offset)
            item = decoded if isinstance(decoded, Quarantined) else text_doc(
                self.spec, raw, decoded.text, uri, f"{self.source.uri}:L{number}", decoded.meta)
        self.reset()
        yield item


@register_format("text", with_compression((".txt", ".text", ".md")), TextOptions)
def read_text(spec: InputSpec, options: TextOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a text file as documents cut by `unit`; the encoding is detected per file (or set on the input)."""
    if options.unit == "file":
        yield from _whole_file(spec, source)
    else:
        yield from _lines(spec, source, paragraphs=options.unit == "paragraph")

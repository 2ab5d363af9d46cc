"""JSON reader: a top-level array streamed element by element, a single object, or JSON Lines in a .json file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, mapping_of, register_format, with_compression
from flows.io.readers.jsonl import iter_json_lines
from flows.io.readers.streams import CHUNK, empty_compressed, oversized, read_capped, sniff
from flows.io.recipe import InputSpec
from transforms.convert.jsonarray import JsonArraySplitter
from transforms.convert.records import Quarantined, parse_json_line

# RFC 8259: JSON exchanged between systems is UTF-8; elements that are not fail strictly and are quarantined.


class JsonOptions(BaseModel):
    """How a .json file is laid out."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    layout: Literal["auto", "array", "object", "lines"] = Field(
        "auto", description="auto: '[' -> array of records, a first line that parses alone -> JSON Lines, else one object")


def _layout(head: bytes) -> str:
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body.startswith(b"["):
        return "array"
    first = body.split(b"\n", 1)[0].strip()
    try:
        json.loads(first)
        return "lines"
    except ValueError:
        return "object"


def _array(spec: InputSpec, source: Source) -> Iterator[dict | Quarantined]:
    mapping = mapping_of(spec)
    splitter = JsonArraySplitter(spec.max_record_bytes)
    with source.open() as stream:
        read = getattr(stream, "read1", stream.read)
        pending = True
        while pending:
            data = read(CHUNK)
            pending = bool(data)
            elements = splitter.feed(data) if data else splitter.close()
            for el in elements:
                uri = f"{source.uri}@{el.offset}#{el.index}"
                if el.sha256 is not None:
                    yield oversized(spec, uri, el.size, el.raw, el.sha256)
                elif el.error is not None:
                    yield Quarantined(spec.source, uri, "json_decode", f"array element {el.index} at byte {el.offset}: {el.error}", el.raw)
                else:
                    yield parse_json_line(el.raw, source=spec.source, source_uri=uri, locator=f"{source.uri}#{el.index}",
                                          mapping=mapping, max_record_bytes=spec.max_record_bytes,
                                          extra_meta=None,
                                          mojibake=spec.mojibake)
    if splitter.trailing:
        yield Quarantined(spec.source, f"{source.uri}#trailing", "json_decode",
                          "bytes after the array's closing ']' were ignored; the file may be two arrays concatenated", b"")


def _object(spec: InputSpec, source: Source) -> Iterator[dict | Quarantined]:
    data, size, sha = read_capped(source, spec.max_record_bytes)
    if sha is not None:
        yield oversized(spec, source.uri, size, data, sha)
        return
    yield parse_json_line(data.removeprefix(b"\xef\xbb\xbf"), source=spec.source, source_uri=source.uri, locator=source.uri,
                          mapping=mapping_of(spec), max_record_bytes=spec.max_record_bytes, mojibake=spec.mojibake)


@register_format("json", with_compression((".json",)), JsonOptions)
def read_json(spec: InputSpec, options: JsonOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a .json file: array elements streamed in bounded memory (source_uri `file@byte#index`), one object, or lines."""
    layout = options.layout
    if layout == "auto":
        head, _ = sniff(source, 1 << 16)
        yield from empty_compressed(spec, source, head)
        if not head.strip():
            return
        layout = _layout(head)
    if layout == "array":
        yield from _array(spec, source)
    elif layout == "object":
        yield from _object(spec, source)
    else:
        yield from iter_json_lines(spec, source)

"""JSON Lines reader (plain, .gz, .bz2, .xz, .zst), streaming line by line in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator

from flows.io.readers import NoOptions, Source, mapping_of, register_format, with_compression
from flows.io.readers.streams import choose_encoding, empty_compressed, decode_line, is_blank, iter_lines, newline_for, oversized, sniff, strip_cr
from flows.io.recipe import InputSpec
from transforms.convert.records import Quarantined, parse_json_line


def iter_json_lines(spec: InputSpec, source: Source, first_line: int = 1) -> Iterator[dict | Quarantined]:
    """Yield one document (or quarantine entry) per non-blank line of a JSON Lines source."""
    mapping = mapping_of(spec)
    head, complete = sniff(source)
    yield from empty_compressed(spec, source, head)
    if not head:
        return
    guess = choose_encoding(spec, head, complete, lines=True)
    newline = newline_for(guess)
    with source.open() as stream:
        if guess.bom:
            stream.read(guess.bom)
        for line in iter_lines(stream, spec.max_record_bytes, newline, offset=guess.bom):
            uri = f"{source.uri}:{line.number}"
            if line.oversized:
                yield oversized(spec, uri, line.size, line.raw, line.sha256)
                continue
            raw = strip_cr(line.raw, newline)
            if is_blank(raw, newline):
                continue
            decoded = decode_line(spec, raw, guess, uri, line.offset)
            if isinstance(decoded, Quarantined):
                yield decoded
                continue
            yield parse_json_line(raw, source=spec.source, source_uri=uri, locator=f"{source.uri}:L{line.number}",
                                  mapping=mapping, max_record_bytes=spec.max_record_bytes, text=decoded.text,
                                  extra_meta=None if plain_utf8(decoded.meta) else decoded.meta, mojibake=spec.mojibake)


def plain_utf8(meta: dict) -> bool:
    """True for JSON's own encoding, UTF-8 found by strict decoding: not worth a meta entry on every record."""
    return meta.get("encoding") == "utf-8" and meta.get("encoding_method") == "utf-8" and "decode_replaced" not in meta


@register_format("jsonl", with_compression((".jsonl", ".ndjson")), NoOptions)
def read_jsonl(spec: InputSpec, options: NoOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a JSON Lines source: one document per non-blank line; bad lines are quarantined, the rest kept."""
    yield from iter_json_lines(spec, source)

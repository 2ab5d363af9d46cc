"""Byte-stream helpers shared by readers: bounded line splitting, per-source encoding choice, record decoding."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from flows.io.readers import Source, is_compressed
from flows.io.recipe import InputSpec
from transforms.convert.encoding import (EncodingGuess, canonical_codec, detect_encoding, detect_line_encoding, newline_of, split_bom,
                                        utf8_rather_than)
from transforms.convert.records import Quarantined
from transforms.convert.text import Decoded, decode_record, describe_failure

SNIFF_BYTES = 1 << 16  # head of a source used for encoding detection
CHUNK = 1 << 20
HEAD_BYTES = 256
HIGH_BYTES = bytes(range(0x80, 0x100))


@dataclass(frozen=True)
class Line:
    """One line of a stream: number, byte offset of its start, bytes without the newline; head + hash when oversized."""

    number: int
    offset: int
    raw: bytes
    size: int
    sha256: str | None = None  # set when the line was over the limit: raw is then its head only

    @property
    def oversized(self) -> bool:
        """True when the line was over the limit and only its head was kept."""
        return self.sha256 is not None


def _start_oversized(parts: list[bytes], piece: bytes) -> tuple["hashlib._Hash", bytes]:
    """Begin hashing a line that went over the limit: a hasher fed with `parts` (not `piece`) and its head."""
    hasher = hashlib.sha256()
    for p in parts:
        hasher.update(p)
    return hasher, (b"".join(parts) + piece)[:HEAD_BYTES]


def iter_lines(stream: IO[bytes], max_bytes: int, newline: bytes = b"\n", offset: int = 0) -> Iterator[Line]:
    """Split a stream into lines in bounded memory; a line over max_bytes is hashed and let go, never buffered whole.

    `newline` is the encoded newline (two bytes for UTF-16, four for UTF-32): it is only matched at
    code-unit boundaries, counted from `offset` (the stream's position, after any BOM).
    """
    width = len(newline)
    parts: list[bytes] = []
    size = 0
    hasher = None
    head = b""
    number = 0
    start = offset
    pos = offset  # file offset of the next byte to read
    pending = b""  # bytes after the last complete code unit, carried to the next chunk
    # read1: one decompressor step per call, so bytes before a truncation point are never lost with it.
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(CHUNK)
        if not data:
            break
        data = pending + data
        usable = len(data) - len(data) % width
        data, pending = data[:usable], data[usable:]
        i = 0
        while True:
            j = data.find(newline, i)
            while j >= 0 and j % width:
                j = data.find(newline, j + 1)
            if j < 0:
                piece = data[i:]
                if hasher is None and size + len(piece) > max_bytes:
                    hasher, head = _start_oversized(parts, piece)
                    parts = []
                if hasher is not None:
                    hasher.update(piece)
                else:
                    parts.append(piece)
                size += len(piece)
                break
            piece = data[i:j]
            number += 1
            if hasher is None and size + len(piece) <= max_bytes:
                yield Line(number, start, b"".join(parts) + piece if parts else piece, size + len(piece))
            else:
                if hasher is None:
                    hasher, head = _start_oversized(parts, piece)
                hasher.update(piece)
                yield Line(number, start, head, size + len(piece), hasher.hexdigest())
            parts, size, hasher, head = [], 0, None, b""
            start = pos + j + width
            i = j + width
        pos += len(data)
    tail = pending
    if size or tail or parts:
        number += 1
        if hasher is None and size + len(tail) <= max_bytes:
            yield Line(number, start, b"".join(parts) + tail, size + len(tail))
        else:
            if hasher is None:
                hasher, head = _start_oversized(parts, tail)
            hasher.update(tail)
            yield Line(number, start, head, size + len(tail), hasher.hexdigest())


def empty_compressed(spec: InputSpec, source: Source, head: bytes) -> Iterator[Quarantined]:
    """For a compressed source that gives no bytes: quarantine a 0-byte file, or raise the decompressor's error
    (the registry quarantines it as unreadable_file); a well-formed compressed empty file yields nothing."""
    if head or not is_compressed(source.name):
        return
    if source.size == 0:
        yield Quarantined(spec.source, f"{source.uri}#empty", "empty_file",
                          "the compressed file is empty (0 bytes; not even a header): the download or copy was cut short", b"")
        return
    with source.open() as stream:
        stream.read(1)  # raises when the stream is cut or corrupt before its first byte


def choose_encoding(spec: InputSpec, head: bytes, complete: bool, lines: bool = False) -> EncodingGuess:
    """Return how to decode a source: the input's explicit encoding (BOM honoured), or detection on its head.

    `lines`: the source is read line by line, so its main encoding is judged by lines (a few lines in
    another codec are decided one by one by `decode_line`, not allowed to mislead the whole file).
    """
    if spec.encoding != "auto":
        bom, codec = split_bom(head, canonical_codec(spec.encoding))
        return EncodingGuess(codec, 1.0, "override", bom)
    return detect_line_encoding(head, final=complete) if lines else detect_encoding(head, final=complete)


def sniff(source: Source, n: int = SNIFF_BYTES) -> tuple[bytes, bool]:
    """Return the first n bytes of a source and whether that is the whole source (a read error ends the head early)."""
    parts: list[bytes] = []
    got = 0
    try:
        with source.open() as f:
            read = getattr(f, "read1", f.read)
            while got <= n:
                chunk = read(n + 1 - got)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
    except Exception:  # noqa: BLE001 - a truncated source: detect on what could be read; the read proper reports the error
        pass
    head = b"".join(parts)
    return head[:n], len(head) <= n


def strip_cr(raw: bytes, newline: bytes) -> bytes:
    """Drop a trailing carriage return (CRLF files), in the stream's code-unit width."""
    cr = newline.replace(b"\n", b"\r")
    return raw[: -len(cr)] if raw.endswith(cr) else raw


def is_blank(raw: bytes, newline: bytes) -> bool:
    """True when a line holds only whitespace (in ASCII-compatible or UTF-16/32 code units); U+0000 is not whitespace."""
    width = len(newline)
    if width == 1:
        return not raw.strip()
    if len(raw) % width:
        return False
    low = newline.index(b"\n")  # where the significant byte of a code unit sits (LE: first, BE: last)
    high = b"".join(raw[i::width] for i in range(width) if i != low)
    return not high.strip(b"\x00") and not raw[low::width].strip()


def decode_line(spec: InputSpec, raw: bytes, guess: EncodingGuess, uri: str, offset: int) -> Decoded | Quarantined:
    """Decode one record's bytes with the source's codec; with encoding=auto a record the file codec rejects gets its own detection."""
    decoded = decode_record(raw, guess, "quarantine")
    if isinstance(decoded, Decoded):
        utf8 = utf8_rather_than(raw, decoded.text, guess.codec) if spec.encoding == "auto" else None
        if utf8 is not None:  # a UTF-8 record in a legacy-codec file: the legacy codec reads it as mojibake
            return Decoded(utf8, {"encoding": "utf-8", "encoding_confidence": 1.0,
                                  "encoding_method": f"utf-8 (per record; file is {guess.codec})"})
        return decoded
    if spec.encoding == "auto":
        # Mixed files exist (concatenated dumps): a record in another codec is decoded with that one when sure.
        # Only multi-byte evidence counts: a BOM or NUL pattern means nothing in the middle of a file.
        own = detect_encoding(raw)
        enough = len(raw) - len(raw.translate(None, HIGH_BYTES)) >= 4
        if enough and own.method in ("utf-8", "cascade") and own.confidence >= 0.8 and own.codec != guess.codec:
            again = decode_record(raw, own, "quarantine")
            if isinstance(again, Decoded):
                return Decoded(again.text, again.meta | {"encoding_method": f"{own.method} (per record; file is {guess.codec})"})
    if spec.on_decode_error == "replace":
        replaced = decode_record(raw, guess, "replace")
        assert isinstance(replaced, Decoded)
        return replaced
    return Quarantined(spec.source, uri, "decode_error", describe_failure(decoded, offset), raw)


def oversized(spec: InputSpec, uri: str, size: int, head: bytes, sha: str | None) -> Quarantined:
    """Return the quarantine entry for a record over the input's max_record_bytes."""
    return Quarantined(spec.source, uri, "oversized_record",
                       f"record is {size} bytes, over max_record_bytes={spec.max_record_bytes}; "
                       "raise max_record_bytes on the input if it is real", head, sha)


def read_capped(source: Source, limit: int) -> tuple[bytes, int, str | None]:
    """Read a whole source if it is at most `limit` bytes; else return (head, size, sha256) without keeping it."""
    with source.open() as f:
        data = f.read(limit + 1)
        if len(data) <= limit:
            return data, len(data), None
        hasher = hashlib.sha256(data)
        size = len(data)
        head = data[:HEAD_BYTES]
        del data
        while chunk := f.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return head, size, hasher.hexdigest()


def newline_for(guess: EncodingGuess) -> bytes:
    """Return the encoded newline lines are split on for a codec."""
    return newline_of(guess.codec)[0]

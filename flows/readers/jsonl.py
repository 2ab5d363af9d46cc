"""JSON Lines reader (plain, .gz, .bz2, .xz, .zst), streaming line by line."""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Iterator
from typing import IO

import zstandard

from flows.readers import BatchBuilder, NoOptions, ReadBatch, mapping_of, register_reader
from flows.recipe import InputSpec
from transforms.convert.records import Quarantined, parse_json_line


def open_maybe_compressed(path: str) -> IO[bytes]:
    """Open a file for binary reading, decompressing by extension."""
    low = path.lower()
    if low.endswith(".gz"):
        return gzip.open(path, "rb")
    if low.endswith(".bz2"):
        return bz2.open(path, "rb")
    if low.endswith(".xz"):
        return lzma.open(path, "rb")
    if low.endswith(".zst"):
        return zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), read_across_frames=True)
    return open(path, "rb")


def iter_lines_bounded(stream: IO[bytes], max_bytes: int, chunk: int = 1 << 20) -> Iterator[tuple[bytes, bool]]:
    """Yield (line without newline, oversized) pairs; an oversized line is truncated, never buffered whole."""
    buf = b""
    oversized = False
    while True:
        data = stream.read(chunk)
        if not data:
            break
        buf += data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) > max_bytes:
                    # Keep memory flat on a 100 MB single line: remember only the head.
                    buf = buf[: max_bytes + 1]
                    oversized = True
                break
            line, buf = buf[:nl], buf[nl + 1 :]
            if oversized:
                yield line[: max_bytes + 1], True
                oversized = False
            else:
                yield line, len(line) > max_bytes
    if buf or oversized:
        yield buf, oversized or len(buf) > max_bytes


@register_reader("jsonl", (".jsonl", ".jsonl.gz", ".jsonl.bz2", ".jsonl.xz", ".jsonl.zst", ".ndjson", ".json.gz"), NoOptions)
def read_jsonl(spec: InputSpec, path: str, options: NoOptions, batch_rows: int) -> Iterator[ReadBatch]:
    """Read a JSON Lines file: one document per non-blank line; bad lines are quarantined."""
    mapping = mapping_of(spec)
    builder = BatchBuilder(batch_rows)
    lineno = 0
    try:
        with open_maybe_compressed(path) as stream:
            for lineno, (raw, oversized) in enumerate(iter_lines_bounded(stream, spec.max_record_bytes), start=1):
                raw = raw.rstrip(b"\r")
                if not raw.strip():
                    continue
                uri = f"{path}:{lineno}"
                if oversized:
                    item = Quarantined(spec.source, uri, "oversized_record",
                                       f"line is over max_record_bytes={spec.max_record_bytes}; raise the limit in the recipe input if it is real", raw[:256])
                else:
                    item = parse_json_line(raw, source=spec.source, source_uri=uri, locator=f"{path}:L{lineno}",
                                           mapping=mapping, max_record_bytes=spec.max_record_bytes)
                if (batch := builder.add(item)) is not None:
                    yield batch
    except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, ValueError) as exc:
        # Truncated or corrupt compressed stream: keep everything read so far, quarantine the rest.
        builder.add(Quarantined(spec.source, f"{path}:{lineno + 1}", "unreadable_file",
                                f"could not read past line {lineno}: {type(exc).__name__}: {exc}; the file is truncated or corrupt, re-fetch it",
                                b""))
    if (batch := builder.flush()) is not None:
        yield batch

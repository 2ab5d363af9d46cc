"""Incremental splitter of a top-level JSON array into its elements' raw bytes, in bounded memory.

Why not ijson alone: ijson streams parsed values but gives neither an element's raw bytes (needed
for `raw_sha256`) nor its byte offset (needed for `source_uri`), and a syntax error ends its
iteration, losing every later element. This splitter only tracks strings and nesting depth, hands
each element's bytes to `json.loads`, and resumes at the next top-level comma after a bad one.
The tests compare its output with ijson's on well-formed files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

_STRUCT = re.compile(rb'["\[\]{},]')
_IN_STRING = re.compile(rb'["\\]')
_WS = b" \t\r\n"
HEAD_BYTES = 256


@dataclass(frozen=True)
class Element:
    """One top-level array element: its byte offset, raw bytes (or head + hash when oversized), or an error."""

    index: int
    offset: int
    raw: bytes
    size: int
    sha256: str | None = None  # set when raw is only the head of an oversized element
    error: str | None = None


class JsonArraySplitter:
    """Feed bytes of a JSON array; collect complete elements. Memory is bounded by max_element_bytes."""

    def __init__(self, max_element_bytes: int) -> None:
        self.max = max_element_bytes
        self.state = "start"  # start | expect_value | in_value | after_value | done
        self.buf = b""  # bytes of the current element from its first byte
        self.scan = 0  # how far inside buf the structure has been scanned
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.offset = 0  # file offset of buf[0] (or of the next byte outside an element)
        self.start = 0  # file offset of the current element
        self.index = 0
        self.dropped = 0  # bytes of an oversized element already hashed and let go
        self.hasher: hashlib._Hash | None = None
        self.head = b""
        self.trailing = False  # non-whitespace after the closing bracket

    def _emit(self, raw: bytes, error: str | None = None) -> Element:
        raw = raw.rstrip(_WS)
        if self.hasher is None and len(raw) > self.max:
            self.hasher, self.head = hashlib.sha256(), raw[:HEAD_BYTES]
        if self.hasher is not None:
            self.hasher.update(raw)
            el = Element(self.index, self.start, self.head, self.dropped + len(raw), self.hasher.hexdigest(),
                         error or f"oversized element: over max_record_bytes={self.max}")
        else:
            el = Element(self.index, self.start, raw, len(raw), None, error)
        self.index += 1
        self.hasher, self.head, self.dropped = None, b"", 0
        return el

    def feed(self, data: bytes) -> Iterator[Element]:
        """Consume the next chunk; yield every element that is now complete."""
        if self.state == "done":
            self.trailing = self.trailing or bool(data.strip(_WS))
            return
        self.buf += data
        while True:
            if self.state in ("start", "expect_value", "after_value"):
                stripped = self.buf.lstrip(_WS)
                self.offset += len(self.buf) - len(stripped)
                self.buf = stripped
                if not self.buf:
                    return
                c = self.buf[:1]
                if self.state == "start":
                    if self.buf.startswith(b"\xef\xbb\xbf"):
                        self.buf, self.offset = self.buf[3:], self.offset + 3
                        continue
                    if c != b"[":
                        raise ValueError(f"not a JSON array: starts with {self.buf[:20]!r}")
                    self.buf, self.offset, self.state = self.buf[1:], self.offset + 1, "expect_value"
                    continue
                if c == b"]":
                    self.buf, self.offset, self.state = self.buf[1:], self.offset + 1, "done"
                    self.trailing = bool(self.buf.strip(_WS))
                    self.buf = b""
                    return
                if self.state == "after_value":
                    if c != b",":
                        raise ValueError(f"expected ',' or ']' at byte {self.offset}, found {self.buf[:20]!r}")
                    self.buf, self.offset, self.state = self.buf[1:], self.offset + 1, "expect_value"
                    continue
                self.state, self.start, self.scan, self.depth = "in_value", self.offset, 0, 0
            # in_value: scan for the end of the element
            end = self._scan()
            if end is None:
                if self.hasher is None and len(self.buf) > self.max:
                    self.hasher, self.head = hashlib.sha256(), self.buf[:HEAD_BYTES]
                if self.hasher is not None:
                    # Oversized: hash what is scanned and let it go, keeping memory flat.
                    self.hasher.update(self.buf[: self.scan])
                    self.dropped += self.scan
                    self.offset += self.scan
                    self.buf, self.scan = self.buf[self.scan :], 0
                return
            raw, rest = self.buf[:end], self.buf[end:]
            error = None
            if self.depth < 0:
                error = f"unbalanced closing bracket at byte {self.offset + end - 1}"
                self.depth = 0
            yield self._emit(raw, error)
            self.offset += end
            self.buf, self.state = rest, "after_value"

    def _scan(self) -> int | None:
        """Advance through buf; return the end index of the element when a top-level ',' or ']' is reached."""
        buf, i = self.buf, self.scan
        while i < len(buf):
            if self.escape:
                self.escape, i = False, i + 1
                continue
            if self.in_string:
                m = _IN_STRING.search(buf, i)
                if m is None:
                    i = len(buf)
                    break
                if m.group() == b"\\":
                    self.escape, i = True, m.end()
                else:
                    self.in_string, i = False, m.end()
                continue
            m = _STRUCT.search(buf, i)
            if m is None:
                i = len(buf)
                break
            ch, i = m.group(), m.start()
            if ch == b'"':
                self.in_string, i = True, i + 1
            elif ch in b"[{":
                self.depth, i = self.depth + 1, i + 1
            elif ch in b"]}":
                if self.depth == 0:
                    if ch == b"]":
                        self.scan = i
                        return i
                    self.depth = -1  # a stray '}' at top level: the element is malformed
                    i += 1
                    continue
                self.depth, i = self.depth - 1, i + 1
            else:  # ','
                if self.depth <= 0:
                    self.scan = i
                    return i
                i += 1
        self.scan = i
        return None

    def close(self) -> Iterator[Element]:
        """Signal end of input; yield a truncated element if one was open."""
        if self.state == "in_value":
            yield self._emit(self.buf, f"truncated: input ended inside an element (at byte {self.offset + len(self.buf)})")
            self.state = "done"
        elif self.state in ("start",):
            raise ValueError("empty input: no JSON array")
        elif self.state != "done":
            raise ValueError(f"truncated: input ended before the closing ']' (at byte {self.offset})")

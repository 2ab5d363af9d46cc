"""Test helper: find raw PII values in files and command output, in every form they could take.

A value is searched as written, with its separators removed (`6222 0229 …` -> `62220229…`), in
full-width digits, and upper/lower case; each text is searched as is and with its own separators
squeezed out, so `138-1234-5678` in a file counts as `13812345678`. Files are read as bytes
(UTF-8, UTF-16 LE/BE and Latin-1 views), Parquet decoded cell by cell (binary cells as UTF-8),
JSON with its escapes undone, HTML unescaped, and gzip/zstd members decompressed.
"""

from __future__ import annotations

import gzip
import html
import json
import re
from pathlib import Path

import pyarrow.parquet as pq

_SEPARATORS = re.compile(r"[\s\-–—()（）.·/_]+")
_TO_FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@"}


def value_forms(value: str) -> set[str]:
    """Return the forms a raw value may surface in: as written, squeezed, full-width, case-folded."""
    squeezed = _SEPARATORS.sub("", value)
    forms = {value, squeezed, squeezed.translate(_TO_FULLWIDTH), squeezed.lower(), squeezed.upper()}
    return {f for f in forms if len(f) >= 6}


def find_values(text: str, values: list[str]) -> list[str]:
    """Return the raw values found in `text` (in any of their forms, also with `text`'s separators squeezed)."""
    squeezed = _SEPARATORS.sub("", text)
    found = []
    for v in values:
        forms = value_forms(v)
        if any(f in text or f in squeezed for f in forms):
            found.append(v)
    return found


def _cell_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def file_views(path: Path) -> list[str]:
    """Return every text view of a file the scan searches."""
    data = path.read_bytes()
    views = [data.decode("utf-8", "replace"), data.decode("latin-1"),
             data.decode("utf-16-le", "replace"), data.decode("utf-16-be", "replace")]
    name = path.name.lower()
    if name.endswith(".parquet") and data[:4] == b"PAR1":
        table = pq.read_table(path)
        views.append(json.dumps(table.to_pylist(), ensure_ascii=False, default=_cell_text))
        for col in table.columns:  # binary cells decoded one by one (json.dumps would not reach nested bytes)
            views.extend(_cell_text(v) for v in col.to_pylist() if isinstance(v, bytes))
    if name.endswith(".gz"):
        views.append(gzip.decompress(data).decode("utf-8", "replace"))
    if name.endswith(".zst"):
        import zstandard

        views.append(zstandard.ZstdDecompressor().decompressobj().decompress(data).decode("utf-8", "replace"))
    if name.endswith(".json"):
        try:
            views.append(json.dumps(json.loads(data), ensure_ascii=False))
        except ValueError:
            pass
    if name.endswith((".html", ".htm", ".svg", ".md")):
        views.append(html.unescape(data.decode("utf-8", "replace")))
    return views


def scan_tree(root: Path, values: list[str]) -> dict[str, list[str]]:
    """Return {file: raw values found} for every file under `root` that holds any."""
    leaks: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        found = sorted({v for view in file_views(path) for v in find_values(view, values)})
        if found:
            leaks[str(path)] = found
    return leaks

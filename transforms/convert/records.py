"""Pure conversion of parsed raw records (dicts) into documents or quarantine entries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from transforms.convert.mojibake import find_and_repair_mojibake
from transforms.schema import RAW_EXCERPT_BYTES, make_doc_id, sha256_hex


@dataclass(frozen=True)
class FieldMapping:
    """Which raw field is the text, which is the record's own id, which go to meta."""

    text_field: str = "text"
    id_field: str | None = None
    meta_fields: tuple[str, ...] | None = None  # None: every other field


@dataclass(frozen=True)
class Quarantined:
    """A raw record that could not become a document, with where it was and why."""

    source: str
    source_uri: str
    error: str
    detail: str
    raw: bytes
    raw_sha256: str | None = None  # set when `raw` is only the head of a record hashed while streaming

    def to_row(self) -> dict:
        """Return the row for the quarantine table."""
        return {
            "source": self.source,
            "source_uri": self.source_uri,
            "error": self.error,
            "detail": self.detail,
            "raw_sha256": self.raw_sha256 or sha256_hex(self.raw),
            "raw_excerpt": self.raw[:RAW_EXCERPT_BYTES],
        }


def _json_default(value: Any) -> str:
    return str(value)


def mostly_nul(text: str) -> str | None:
    """Return why a record that is at least half U+0000 is no text (a zero-filled region), else None."""
    nuls = text.count("\x00")
    if not nuls or 2 * nuls < len(text):
        return None
    of = "" if nuls == len(text) else f" of {len(text)} characters"
    return (f"{nuls} NUL bytes{of}: a zero-filled region (a file preallocated and never written, or cut by a crashed "
            "copy) or binary data, not text; re-fetch the file, the records around it are read")


def finite_meta(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """Return `value` with NaN/Infinity floats replaced by None, and the paths (`a.b`, `x[1]`) where that happened.

    JSON has no NaN or Infinity (RFC 8259); Python's json reads and writes them, which makes `meta`
    unreadable by strict parsers (DuckDB, Arrow, browsers). They become null and are named in meta.
    """
    if isinstance(value, float):
        return (value, []) if math.isfinite(value) else (None, [path])
    if isinstance(value, dict):
        out, bad = {}, []
        for k, v in value.items():
            out[k], sub = finite_meta(v, f"{path}.{k}" if path else str(k))
            bad += sub
        return out, bad
    if isinstance(value, (list, tuple)):
        items, bad = [], []
        for i, v in enumerate(value):
            item, sub = finite_meta(v, f"{path}[{i}]")
            items.append(item)
            bad += sub
        return items, bad
    return value, []


def lone_surrogate_at(text: str) -> int | None:
    """Return the index of the first lone surrogate in a string (JSON can escape one; UTF-8 cannot hold it), else None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def meta_json(others: dict[str, Any]) -> str:
    """Return meta as strict JSON (sorted keys); non-finite numbers become null, listed under `_non_finite`.

    Keys or values with lone surrogates are kept as JSON escapes (ASCII output), so meta stays valid UTF-8.
    """
    try:
        out = json.dumps(others, ensure_ascii=False, sort_keys=True, default=_json_default, allow_nan=False)
    except ValueError:
        clean, bad = finite_meta(others)
        out = json.dumps({**clean, "_non_finite": bad}, ensure_ascii=False, sort_keys=True, default=_json_default,
                         allow_nan=False)
    return out if lone_surrogate_at(out) is None else json.dumps(json.loads(out), ensure_ascii=True, sort_keys=True)


def record_to_doc(
    record: Any,
    raw: bytes,
    *,
    source: str,
    source_uri: str,
    locator: str,
    mapping: FieldMapping,
    extra_meta: dict[str, Any] | None = None,
    mojibake: str = "repair",
) -> dict | Quarantined:
    """Turn one parsed raw record into a document row, or a Quarantined entry saying why not.

    `mojibake`: "repair" fixes certain, reversible mis-decodings of the text (and says so in meta),
    "flag" only records them, "off" skips the check.
    """
    if not isinstance(record, dict):
        return Quarantined(source, source_uri, "not_an_object",
                           f"expected a JSON object, got {type(record).__name__}; wrap each record as {{\"{mapping.text_field}\": ...}}", raw)
    if mapping.text_field not in record:
        keys = ", ".join(sorted(map(str, record))[:20])
        return Quarantined(source, source_uri, "missing_text_field",
                           f"no field {mapping.text_field!r} (fields: {keys}); set text_field in the recipe input", raw)
    text = record[mapping.text_field]
    if not isinstance(text, str):
        # Lists too: how to join them (lines, paragraphs, sentences) is the data owner's call, not a guess.
        hint = "; join the list into one string before reading" if isinstance(text, list) else ""
        return Quarantined(source, source_uri, "text_not_string",
                           f"field {mapping.text_field!r} is {type(text).__name__}, not a string{hint}", raw)
    if (why := mostly_nul(text)) is not None:
        return Quarantined(source, source_uri, "nul_byte", why, raw)
    if (at := lone_surrogate_at(text)) is not None:
        return Quarantined(source, source_uri, "invalid_unicode",
                           f"text holds a lone UTF-16 surrogate (U+{ord(text[at]):04X} at character {at}), e.g. a JSON escape "
                           "of half a character pair: not valid Unicode, cannot be stored as UTF-8; fix the producer", raw)
    if "\x00" in text:
        return Quarantined(source, source_uri, "nul_byte",
                           "text contains NUL bytes (binary data?); clean the input or drop the record", raw)
    fix = None
    if mojibake != "off":
        repaired, fix = find_and_repair_mojibake(text)
        if fix is not None and mojibake == "repair" and fix.repaired:
            text = repaired
    others = {k: v for k, v in record.items() if k != mapping.text_field}
    if mapping.meta_fields is not None:
        others = {k: v for k, v in others.items() if k in mapping.meta_fields or k == mapping.id_field}
    if fix is not None:
        extra_meta = {**(extra_meta or {}), "mojibake": fix.kind,
                      "mojibake_repaired": fix.repaired and mojibake == "repair", "mojibake_detail": fix.detail}
    if extra_meta:
        others = {**others, **{f"_{k}": v for k, v in extra_meta.items()}}
    try:
        meta = meta_json(others) if others else None
    except RecursionError:
        return Quarantined(source, source_uri, "json_decode", "record nested too deeply to store its fields in meta; flatten it", raw)
    raw_sha = sha256_hex(raw)
    return {
        "id": make_doc_id(source, locator, raw_sha),
        "text": text,
        "source": source,
        "source_uri": source_uri,
        "raw_sha256": raw_sha,
        "lang": None,
        "script": None,
        "lang_conf": None,
        "meta": meta,
    }


def parse_json_line(
    raw: bytes,
    *,
    source: str,
    source_uri: str,
    locator: str,
    mapping: FieldMapping,
    max_record_bytes: int,
    text: str | None = None,
    extra_meta: dict[str, Any] | None = None,
    mojibake: str = "repair",
) -> dict | Quarantined:
    """Parse one JSON Lines line (bytes, without the newline; `text` if already decoded) into a document or quarantine entry."""
    if len(raw) > max_record_bytes:
        return Quarantined(source, source_uri, "oversized_record",
                           f"record is {len(raw)} bytes, over max_record_bytes={max_record_bytes}; raise the limit in the recipe input if it is real", raw)
    line = text
    if line is None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Quarantined(source, source_uri, "decode_error",
                               f"not valid UTF-8 at byte {exc.start} of the line ({exc.reason}); set the input's encoding in the recipe", raw)
    if (why := mostly_nul(line)) is not None:
        return Quarantined(source, source_uri, "nul_byte", why, raw)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Quarantined(source, source_uri, "json_decode",
                           f"malformed JSON at column {exc.colno}: {exc.msg}; fix or remove the line", raw)
    except RecursionError:
        return Quarantined(source, source_uri, "json_decode", "JSON nested too deeply to parse; fix or remove the record", raw)
    return record_to_doc(record, raw, source=source, source_uri=source_uri, locator=locator, mapping=mapping,
                         extra_meta=extra_meta, mojibake=mojibake)

"""Pure decoding of one raw record's bytes under an input's decode policy: text plus meta, or a located failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from transforms.convert.encoding import DecodeFailure, EncodingGuess, strict_decode

OnDecodeError = Literal["quarantine", "replace"]


@dataclass(frozen=True)
class Decoded:
    """A record's text and what to record about how it was decoded."""

    text: str
    meta: dict


def encoding_meta(guess: EncodingGuess) -> dict:
    """Return the meta entries that record how a file was decoded (prefixed with '_' in documents)."""
    return {"encoding": guess.codec, "encoding_confidence": guess.confidence, "encoding_method": guess.method}


def decode_record(raw: bytes, guess: EncodingGuess, on_error: OnDecodeError) -> Decoded | DecodeFailure:
    """Decode one record's bytes strictly; on failure return where, or (replace) decode with U+FFFD and count them."""
    text = strict_decode(raw, guess.codec)
    if isinstance(text, str):
        return Decoded(text, encoding_meta(guess))
    if on_error == "quarantine":
        return text
    replaced = raw.decode(guess.codec, errors="replace")
    # Count only the replacements the decoder made, not U+FFFD already present in the input.
    n = replaced.count("\ufffd") - raw.decode(guess.codec, errors="ignore").count("\ufffd")
    return Decoded(replaced, encoding_meta(guess) | {"decode_replaced": n, "decode_first_error_byte": text.start})


def describe_failure(failure: DecodeFailure, base_offset: int) -> str:
    """Return an actionable message for undecodable bytes at a file position."""
    return (f"bytes {base_offset + failure.start}..{base_offset + failure.end} do not decode as {failure.codec} "
            f"({failure.reason}); set 'encoding' on the input if detection was wrong, "
            f"or on_decode_error: replace to keep the text with U+FFFD")


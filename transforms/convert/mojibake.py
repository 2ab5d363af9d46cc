"""Decode-time mojibake: detect text that was decoded with the wrong codec, repair it only when certain.

Two repairable kinds, both exactly reversible (the repair is undone by the inverse codec pair, and
we check that it is): UTF-8 bytes read as cp1252/Latin-1 ("Ã©", via ftfy's encoding fixer) and UTF-8
bytes read as GB18030/Big5 ("涓枃" for "中文"). One kind is flagged but never repaired because
the bytes are gone: "锟斤拷", U+FFFD replacement characters saved as UTF-8 then read as GBK.
General text cleaning (ftfy's other fixes) is the cleaning op's job, not this module's.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import ftfy
import ftfy.badness
import ftfy.chardata

from transforms.convert.encoding import plausibility

# "锟斤拷" is EF BF BD EF BF BD (two U+FFFD in UTF-8) read as GBK; "锟" alone starts it.
GBK_REPLACEMENT_MARKERS = ("锟斤拷", "锟斤", "�")
# Mis-decodings of UTF-8 as a CJK codec that are undone exactly by encoding back.
CJK_MISREAD_CODECS = ("gb18030", "big5hkscs")
MIN_MULTIBYTE = 3  # below this many multi-byte UTF-8 characters a match could be chance


@dataclass(frozen=True)
class MojibakeFix:
    """What was found in a text and, when repaired, the codec pair that undid it."""

    kind: str  # utf8_as_cp1252 | utf8_as_gb18030 | utf8_as_big5hkscs | lost_replacement_chars
    repaired: bool
    detail: str


def _count_multibyte(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


# UTF-8 lead bytes C2..EF read as cp1252/Latin-1 give these characters; no mojibake of that kind without them.
_LATIN_LEADS = re.compile("[\u00c2-\u00ef]")
_C1_CONTROLS = re.compile("[\x80-\x9f]")  # ftfy reads these as Windows-1252 (encode latin-1, decode windows-1252)


def _utf8_pair_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    """Return, per ftfy single-byte codec, a regex for two characters it encodes as a UTF-8 lead + continuation byte."""
    import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-* codecs)

    patterns = []
    for encoding in ftfy.chardata.CHARMAP_ENCODINGS:
        leads, continuations = [], []
        for byte in range(0x80, 0xF5):
            try:
                char = bytes([byte]).decode(encoding)
            except UnicodeDecodeError:
                continue
            if byte >= 0xC2:
                leads.append(char)
            elif byte <= 0xBF:
                continuations.append(char)
        patterns.append((encoding, re.compile(f"[{re.escape(''.join(leads))}][{re.escape(''.join(continuations))}]")))
    return tuple(patterns)


_UTF8_PAIRS = _utf8_pair_patterns()


def could_be_misread_utf8(text: str) -> bool:
    """True when ftfy's encoding fixer could find a pure encode/decode repair for `text`.

    ftfy re-encodes a text through one of its single-byte codecs it fits entirely (CHARMAP_ENCODINGS) and
    decodes UTF-8, or reads C1 controls as Windows-1252; with one byte per character, the decode changes
    the text only where two adjacent characters encode as a UTF-8 lead and continuation byte. Checking
    that first spares ftfy's badness regex on ordinary accented Latin text (~8 % of a multilingual run's CPU).
    """
    if _C1_CONTROLS.search(text):
        return True
    return any(ftfy.chardata.possible_encoding(text, encoding) and pair.search(text) for encoding, pair in _UTF8_PAIRS)


def _repair_latin(text: str) -> tuple[str, MojibakeFix] | None:
    """Undo UTF-8 read as cp1252/Latin-1 when ftfy's plan is pure re-encoding and round-trips."""
    if not _LATIN_LEADS.search(text) or not could_be_misread_utf8(text) or not ftfy.badness.is_bad(text):
        return None
    fixed, plan = ftfy.fix_encoding_and_explain(text)
    if fixed == text or not plan or any(step not in ("encode", "decode") for step, _ in plan):
        return None
    # Undo the plan in reverse; only an exact round trip counts as certain.
    undone = fixed
    try:
        for step, codec in reversed(plan):
            undone = undone.encode(codec) if step == "decode" else undone.decode(codec)
    except (UnicodeError, AttributeError):
        return None
    if undone != text:
        return None
    steps = " -> ".join(f"{s} {c}" for s, c in plan)
    return fixed, MojibakeFix("utf8_as_cp1252", True, steps)


def _repair_cjk(text: str) -> tuple[str, MojibakeFix] | None:
    """Undo UTF-8 read as GB18030/Big5: encode back, decode UTF-8 strictly, keep it if it reads better."""
    for codec in CJK_MISREAD_CODECS:
        try:
            # Cheap gate: real text re-encoded is almost never valid UTF-8 even for a few characters.
            head = text[:64].encode(codec)
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            fixed = text.encode(codec).decode("utf-8")
        except UnicodeError:
            continue
        if fixed == text or _count_multibyte(fixed) < MIN_MULTIBYTE:
            continue
        if fixed.encode("utf-8").decode(codec, errors="strict") != text:
            continue
        if plausibility(fixed) > plausibility(text) + 0.2:
            return fixed, MojibakeFix(f"utf8_as_{codec}", True, f"encode {codec} -> decode utf-8")
    return None


def find_and_repair_mojibake(text: str) -> tuple[str, MojibakeFix | None]:
    """Return (text, None) when clean; else the repaired (or unchanged, if unrepairable) text and what was found."""
    if not text.isascii():
        for marker in GBK_REPLACEMENT_MARKERS[:1]:
            if marker in text:
                n = text.count(marker)
                return text, MojibakeFix("lost_replacement_chars", False,
                                         f"{n}x '{marker}': U+FFFD saved as UTF-8 then read as GBK; the original bytes are lost")
        for repair in (_repair_latin, _repair_cjk):
            found = repair(text)
            if found is not None:
                return found
    return text, None

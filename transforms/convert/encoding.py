"""Pure encoding detection and strict decoding: bytes -> (text, codec, confidence) or a located failure.

Detection order (cheapest and most certain first): BOM; BOM-less UTF-16/32 by NUL pattern; strict
UTF-8; then a strict-decode cascade over the CJK legacy codecs scored by how many decoded
characters are common ones, with charset-normalizer as the judge for everything else (single-byte
code pages) and as a second opinion when the cascade is unsure. On short Chinese text
charset-normalizer alone often confuses GB18030 and Big5 (measured in bench/results/read.md), which
is why the cascade goes first.
"""

from __future__ import annotations

import codecs
from transforms.lazy import build_once
import re
from collections import Counter
from dataclasses import dataclass

import charset_normalizer

# Codecs we decode with, by the names detectors use. Legacy Chinese codecs are decoded with their
# supersets: every valid GB2312/GBK byte sequence decodes the same way in GB18030 (apart from
# unassigned cells), and Big5-HKSCS extends Big5.
CANONICAL = {
    "ascii": "utf-8",
    "utf_8": "utf-8",
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf_8_sig": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "gb18030": "gb18030",
    "hz": "hz",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "big5hkscs": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "shift_jis": "shift_jis",  # JIS mapping (0x8160 -> U+301C); cp932 is tried when it fails
    "shift-jis": "shift_jis",
    "sjis": "shift_jis",
    "cp932": "cp932",
    "euc_jp": "euc_jp",
    "euc-jp": "euc_jp",
    "euc_kr": "cp949",
    "euc-kr": "cp949",
    "cp949": "cp949",
    "utf_16": "utf-16",
    "utf-16": "utf-16",
    "utf_16_le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "utf_16_be": "utf-16-be",
    "utf-16-be": "utf-16-be",
    "utf_32": "utf-32",
    "utf-32": "utf-32",
}

BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_LEAD_BYTES = bytes(range(0xC0, 0x100))  # UTF-8 lead bytes: one per multi-byte character

# The CJK legacy codecs tried by strict decoding, in tie-break order.
CJK_CASCADE: tuple[str, ...] = ("gb18030", "big5hkscs", "shift_jis", "cp932", "cp949", "euc_jp")


# Codecs that read the same text the same way except for a few cells: not rivals when judging a margin.
FAMILY = {"shift_jis": "sjis", "cp932": "sjis"}


def canonical_codec(name: str) -> str:
    """Return the codec we decode with for an encoding name (supersets for GBK/Big5/Shift-JIS)."""
    key = name.strip().lower().replace(" ", "")
    if key in CANONICAL:
        return CANONICAL[key]
    key = codecs.lookup(key).name  # raises LookupError on an unknown name
    return CANONICAL.get(key, key)


@dataclass(frozen=True)
class EncodingGuess:
    """The encoding a byte string is read with, how sure we are, and how it was decided."""

    codec: str  # a Python codec name (canonical superset)
    confidence: float  # 0..1
    method: str  # bom | nul-pattern | utf-8 | cascade | charset-normalizer | override | fallback
    bom: int = 0  # BOM length in bytes to skip


@dataclass(frozen=True)
class DecodeFailure:
    """Bytes that do not decode: where (byte offset inside the input given) and why."""

    codec: str
    start: int
    end: int
    reason: str


@build_once
def _common_chars() -> frozenset[str]:
    """Characters typical of real CJK text: GB2312 level 1, Big5 frequent, JIS level 1, KS X 1001 Hangul, kana, punctuation."""
    chars: set[str] = set()

    def cells(codec: str, leads: range, trails: range) -> None:
        for lead in leads:
            for trail in trails:
                try:
                    chars.add(bytes((lead, trail)).decode(codec))
                except UnicodeDecodeError:
                    pass

    cells("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF))  # 3,755 most frequent Hanzi
    cells("gb2312", range(0xA1, 0xA4), range(0xA1, 0xFF))  # CJK punctuation and full-width forms
    cells("big5", range(0xA4, 0xC7), range(0x40, 0x7F))  # 5,401 frequent Traditional characters
    cells("big5", range(0xA4, 0xC7), range(0xA1, 0xFF))
    cells("big5", range(0xA1, 0xA3), range(0x40, 0x7F))  # Big5 punctuation
    cells("big5", range(0xA1, 0xA3), range(0xA1, 0xFF))
    cells("euc_jp", range(0xB0, 0xD0), range(0xA1, 0xFF))  # JIS X 0208 level 1 kanji
    cells("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF))  # 2,350 KS X 1001 Hangul syllables
    # Written Cantonese (Big5-HKSCS): the frequent characters outside Big5 proper.
    chars.update("嘅咗啲嘢喺冇佢哋嚟咁噉囉喎啫嗰乜嘞嘥嘰噃嚿攞揾搵嬲瞓冚啱嗮㗎𠵱𡃁𠻹𠹺𨋢𠝹")
    chars.update(chr(c) for c in range(0x3040, 0x3100))  # hiragana and katakana
    chars.update(chr(c) for c in range(0x3000, 0x3040))  # CJK symbols and punctuation
    chars.update(chr(c) for c in range(0xFF01, 0xFF5F))  # full-width forms
    return frozenset(chars)


_HANGUL = re.compile("[\uac00-\ud7a3]")
PLAUSIBILITY_CHARS = 4096  # judging the first few thousand characters is as good as judging all


def n_wide(text: str) -> int:
    """Return how many characters of a string are outside ASCII (at C speed)."""
    return len(text) - len(text.encode("ascii", "ignore"))


def plausibility(text: str, codec: str = "") -> float:
    """Return the share of non-ASCII characters that are common CJK characters (1.0 when all are).

    Chinese GB bytes decoded as Korean give Hangul mixed with Hanja, and Korean bytes decoded as GB
    give common Hanzi: so Hanja next to Hangul count a quarter (modern Korean rarely writes them),
    and Hanzi separated by spaces every few characters (Korean word spacing) count half.
    """
    text = text[:PLAUSIBILITY_CHARS]
    counts = Counter(text)  # distinct characters are few: score them once each
    wide = {c: n for c, n in counts.items() if c > "\x7f"}
    total = sum(wide.values())
    if not total:
        return 1.0
    known = _common_chars()
    common = [c for c in wide if c in known]
    score = float(sum(wide[c] for c in common))
    if _HANGUL.search(text):
        hanja = sum(wide[c] for c in common if "\u4e00" <= c <= "\u9fff")
        score -= 0.75 * hanja
    elif codec in ("gb18030", "big5hkscs") and total >= 4 and counts.get(" ", 0) * 6 >= total:
        score *= 0.5
    return score / total


def strict_decode(data: bytes, codec: str, final: bool = True) -> str | DecodeFailure:
    """Decode `data` strictly; with final=False an incomplete character at the very end is not an error."""
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    try:
        return decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        return DecodeFailure(codec, exc.start, exc.end, exc.reason)


def _nul_pattern(sample: bytes) -> str | None:
    """Return utf-16-le/be (or utf-32) when NULs sit in the positions ASCII-heavy BOM-less UTF-16 gives."""
    n = len(sample) - len(sample) % 4
    if n < 8 or sample.count(0) < n // 8:
        return None
    even = sample[0:n:2].count(0)
    odd = sample[1:n:2].count(0)
    # Each pattern also needs the character positions to hold data: a run of NUL bytes (a zero-filled
    # or preallocated file) is no text in any encoding, and must not be read as UTF-32 blanks.
    if (sample[2:n:4].count(0) > n // 8 and sample[3:n:4].count(0) > n // 8 and sample[1:n:4].count(0) > n // 8
            and sample[0:n:4].count(0) < n // 8):
        return "utf-32-le"
    if odd > 3 * even and odd > n // 8:
        return "utf-16-le"
    if even > 3 * odd and even > n // 8:
        return "utf-16-be"
    return None


MAX_BAD_SHARE = 0.02  # a file may hold a few broken sequences and still be judged by the rest


def _lossy_text(sample: bytes, codec: str, final: bool) -> str | None:
    """Decode with U+FFFD for bad bytes; None when more than MAX_BAD_SHARE of the characters are bad."""
    if not final:
        sample = sample[: max(0, len(sample) - 4)]  # the head may end inside a character
    text = sample.decode(codec, errors="replace")
    bad = text.count("\ufffd")
    wide = n_wide(text)
    return text if wide >= 20 and bad <= max(2, MAX_BAD_SHARE * wide) else None


def _cascade(sample: bytes, final: bool) -> list[tuple[float, int, str]]:
    """Return (plausibility, -order, codec) for the CJK codecs that decode the sample (all but a few bytes).

    Strict decodings are scored first; codecs that need U+FFFD (scored as implausible) are only
    tried when no strict decoding is clearly right, which keeps the common case to one pass.
    """
    scored, failed = [], []
    for order, codec in enumerate(CJK_CASCADE):
        text = strict_decode(sample, codec, final=final)
        if isinstance(text, str):
            scored.append((plausibility(text, codec), -order, codec))
        else:
            failed.append((order, codec))
    scored.sort(reverse=True)
    if scored and scored[0][0] >= 0.8 and scored[0][0] - _runner_up(scored) >= 0.1:
        return scored
    for order, codec in failed:
        text = _lossy_text(sample, codec, final)
        if text is not None:
            scored.append((plausibility(text, codec), -order, codec))
    return sorted(scored, reverse=True)


def _runner_up(scored: list[tuple[float, int, str]]) -> float:
    """Best score of a codec outside the best one's family."""
    family = FAMILY.get(scored[0][2], scored[0][2])
    return max((sc for sc, _, c in scored[1:] if FAMILY.get(c, c) != family), default=0.0)


def _mostly_utf8(sample: bytes, final: bool) -> bool:
    """True when all but a few multi-byte sequences are valid UTF-8 (and there are enough to tell)."""
    text = _lossy_text(sample, "utf-8", final)
    return text is not None and n_wide(text) >= 20


def detect_encoding(sample: bytes, final: bool = True) -> EncodingGuess:
    """Guess the encoding of `sample` (a whole input, or its head when final=False), with a confidence."""
    for bom, codec in BOMS:
        if sample.startswith(bom):
            return EncodingGuess(codec, 1.0, "bom", len(bom))
    nul = _nul_pattern(sample[:65536])
    if nul is not None and isinstance(strict_decode(sample, nul, final=final), str):
        return EncodingGuess(nul, 0.95, "nul-pattern")
    if isinstance(strict_decode(sample, "utf-8", final=final), str):
        # Random legacy bytes are almost never valid UTF-8 once a few multi-byte sequences occur.
        non_ascii = len(sample) - len(sample.translate(None, _LEAD_BYTES))
        return EncodingGuess("utf-8", 1.0 if non_ascii == 0 or non_ascii >= 4 else 0.9, "utf-8")
    if _mostly_utf8(sample, final):
        # Legacy CJK bytes almost never form 20+ valid UTF-8 sequences: the invalid ones are damage.
        return EncodingGuess("utf-8", 0.9, "utf-8")
    scored = _cascade(sample, final)
    if scored:
        best = scored[0]
        runner_up = _runner_up(scored)
        # Sure when most characters are common ones and the next codec is clearly worse.
        if best[0] >= 0.8 and best[0] - runner_up >= 0.1:
            return EncodingGuess(best[2], round(min(1.0, best[0]), 3), "cascade")
    match = charset_normalizer.from_bytes(sample).best()
    if match is not None:
        codec = canonical_codec(match.encoding)
        confidence = round(max(0.0, 1.0 - match.chaos) * (0.9 if not scored else 0.8), 3)
        strict = [sc for sc in scored if isinstance(strict_decode(sample, sc[2], final=final), str)]
        if strict and codec not in {sc[2] for sc in strict}:
            codec, confidence = strict[0][2], round(strict[0][0] * 0.7, 3)
        if isinstance(strict_decode(sample, codec, final=final), str):
            return EncodingGuess(codec, confidence, "charset-normalizer")
    if scored:
        return EncodingGuess(scored[0][2], round(scored[0][0] * 0.5, 3), "cascade")
    return EncodingGuess("utf-8", 0.0, "fallback")


def utf8_line_share(sample: bytes, final: bool) -> tuple[int, int, int, bytes]:
    """Return, for the lines of a sample: how many hold non-ASCII bytes, how many of those are strict
    UTF-8, the UTF-8 lead bytes in those, and the other non-ASCII lines joined (for a legacy-codec judgement)."""
    lines = sample.split(b"\n")
    if not final and len(lines) > 1:
        lines.pop()  # the head may end inside a line
    wide = valid = leads = 0
    rest: list[bytes] = []
    for line in lines:
        if len(line) == len(line.translate(None, _HIGH_BYTES)):
            continue
        wide += 1
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            rest.append(line)
            continue
        valid += 1
        leads += len(line) - len(line.translate(None, _LEAD_BYTES))
    return wide, valid, leads, b"\n".join(rest)


def detect_line_encoding(sample: bytes, final: bool = True) -> EncodingGuess:
    """Guess the main encoding of a line-based source (JSON Lines, CSV, text lines) from its head.

    Lines can come from different dumps, so they vote: a file whose lines with multi-byte characters
    are mostly strict UTF-8 is UTF-8, whatever a few lines in another codec do to a whole-sample
    judgement; otherwise the legacy codec is judged on the lines UTF-8 does not read. The readers
    then decide the minority lines one by one (`utf8_rather_than`, per-record detection).
    """
    guess = detect_encoding(sample, final)
    if guess.method in ("bom", "nul-pattern") or (guess.method == "utf-8" and guess.confidence >= 0.9):
        return guess
    wide, valid, leads, rest = utf8_line_share(sample, final)
    if wide and 2 * valid > wide and leads >= 4:
        return EncodingGuess("utf-8", round(valid / wide, 3), "utf-8")
    if valid and rest:
        return detect_encoding(rest, final=True)
    return guess


_HIGH_BYTES = bytes(range(0x80, 0x100))
_WIDE_LEADS = bytes(range(0xE0, 0x100))  # UTF-8 lead bytes of 3- and 4-byte sequences (CJK, emoji)


def utf8_rather_than(raw: bytes, text: str, codec: str) -> str | None:
    """Return the UTF-8 reading of a record a legacy codec also decodes, when UTF-8 is clearly the right one.

    Valid UTF-8 with two or more 3/4-byte sequences almost never arises from GB/Big5/Shift-JIS
    text, and GB18030 decodes nearly any byte string: a UTF-8 line in a GB file is mojibake unless
    it is read as UTF-8. UTF-8 must also read as more common characters than the legacy decoding.
    """
    if codec in ("utf-8", "utf-8-sig") or len(raw) - len(raw.translate(None, _WIDE_LEADS)) < 2:
        return None
    try:
        utf8 = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return utf8 if plausibility(utf8) > plausibility(text, codec) else None


def split_bom(data: bytes, codec: str) -> tuple[int, str]:
    """Return (BOM length, codec to decode the rest with) for an explicit codec, honouring a BOM present."""
    if codec in ("utf-8", "utf-8-sig") and data.startswith(codecs.BOM_UTF8):
        return 3, "utf-8"
    if codec == "utf-16":
        for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
            if data.startswith(bom):
                return 2, name
        return 0, "utf-16-le"
    if codec == "utf-32":
        for bom, name in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")):
            if data.startswith(bom):
                return 4, name
        return 0, "utf-32-le"
    if codec == "utf-8-sig":
        return 0, "utf-8"
    return 0, codec


def newline_of(codec: str) -> tuple[bytes, int]:
    """Return the encoded newline and the code-unit width lines are split on for a codec."""
    nl = "\n".encode(codec)
    return nl, len(nl)

"""PII detection and redaction for Chinese and English text, validated by checksums, not guessed.

Each PII type is a candidate regex plus a validator: GB 11643 resident IDs and GB 32100 unified
social credit codes via python-stdnum, phone numbers via phonenumbers, bank cards via Luhn (stdnum)
and an issuer prefix, Hong Kong ID check digits, IPs via ``ipaddress``. Types without a checksum
(passports and travel permits, Macau ID, bare 8-digit Hong Kong/Macau phone numbers) need a
context word nearby ("护照", "澳門身份證", "電話"...). Look-alikes that fail validation (order numbers,
timestamps, dates, prices) are not PII. Full-width digits (１３８…) are matched on a folded shadow
with the same offsets. ``find_pii`` is the pure ``str -> spans`` core; the
``redact_pii`` operator maps it over a batch and adds ``pii_counts``, ``sensitivity`` and
(optionally) ``pii_spans`` columns.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from stdnum import luhn, numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from transforms.clean import map_where
from transforms.ops import Mapper, OpStats, add_trace, set_column
from transforms.registry import register_op

PII_TYPES: tuple[str, ...] = ("EMAIL", "PHONE", "ID_CARD", "USCC", "BANK_CARD", "PASSPORT", "HK_ID", "MO_ID", "IP", "PLATE")
PiiType = Literal["EMAIL", "PHONE", "ID_CARD", "USCC", "BANK_CARD", "PASSPORT", "HK_ID", "MO_ID", "IP", "PLATE"]
SensitivityLevel = Literal["none", "low", "medium", "high"]
SENSITIVITY_ORDER: tuple[str, ...] = ("none", "low", "medium", "high")
# Identity documents and payment cards identify a person directly (PIPL "sensitive personal
# information"); contact data and plates are personal; IPs and company codes are low.
DEFAULT_SENSITIVITY: dict[str, str] = {
    "ID_CARD": "high", "BANK_CARD": "high", "PASSPORT": "high", "HK_ID": "high", "MO_ID": "high",
    "PHONE": "medium", "EMAIL": "medium", "PLATE": "medium", "IP": "low", "USCC": "low",
}


class Span(NamedTuple):
    """One detected PII value: type and [start, end) code-point offsets in the text."""

    type: str
    start: int
    end: int


# Python `\w` includes CJK, so boundaries name ASCII alphanumerics explicitly: "电话13812345678"
# must match, "ab13812345678" must not.
_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
_CONTEXT_WINDOW = 24

PHONE_CONTEXT = re.compile(
    r"电话|電話|手机|手機|致电|致電|热线|熱線|联系|聯繫|聯絡|联络|号码|號碼|传真|傳真|来电|來電|(?i:tel|phone|call|whatsapp|mobile|fax|contact)"
)
PASSPORT_CONTEXT = re.compile(r"护照|護照|通行证|通行證|旅行证|旅行證|(?i:passport|travel document)")
HK_ID_CONTEXT = re.compile(r"身份证|身份證|身分證|(?i:hkid|hong kong id|identity card|id card|id no)")
MO_ID_CONTEXT = re.compile(r"澳门|澳門|身份证|身份證|(?i:macau|macao|bir)")
# Dotted numbers after these words are versions or section numbers, not addresses.
IP_NEG_CONTEXT = re.compile(r"(?:版本|第|条|條|章|节|節|§|(?i:version|ver\.?|release|section|sec\.|chapter|clause|v))\s*$")


def has_context(text: str, start: int, context: re.Pattern) -> bool:
    """Return True when `context` occurs in the window of text just before `start`."""
    return context.search(text, max(0, start - _CONTEXT_WINDOW), start) is not None


# --- validators: (matched value, whole text, match start) -> is PII -----------------------------


def valid_email(value: str, text: str, start: int) -> bool:
    """An address whose local part and domain labels are well formed."""
    local, _, domain = value.rpartition("@")
    return ".." not in local and not local.startswith(".") and all(domain.split("."))


_CN_MOBILE = re.compile(r"1[3-9]\d{9}")


def _valid_number(digits: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        num = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_valid_number(num) else None


def valid_phone_window(value: str, text: str, start: int) -> bool:
    """A number phonenumbers calls valid: international, mainland, Taiwan; HK/Macau 8-digit only with context."""
    if value.endswith("-"):
        return False
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return False
    if value.startswith("+"):
        return _valid_number("+" + digits, None) is not None
    if digits.startswith("00") and len(digits) > 9:
        return _valid_number("+" + digits[2:], None) is not None
    if len(digits) == 11 and _CN_MOBILE.fullmatch(digits):
        return _valid_number(digits, "CN") is not None
    if len(digits) == 13 and digits.startswith("86") and _CN_MOBILE.fullmatch(digits[2:]):
        return _valid_number("+" + digits, None) is not None
    if digits.startswith("0"):
        return _valid_number(digits, "CN") is not None or _valid_number(digits, "TW") is not None
    if digits[:3] in ("400", "800") and len(digits) == 10:
        return _valid_number(digits, "CN") is not None
    if len(digits) == 8 and has_context(text, start, PHONE_CONTEXT):
        return _valid_number(digits, "HK") is not None or _valid_number(digits, "MO") is not None
    return False


def valid_id_card(value: str, text: str, start: int) -> bool:
    """GB 11643: 18 digits with check digit, birth date and place (stdnum); 15-digit legacy: date and place."""
    if len(value) == 18:
        return ric.is_valid(value)
    as18 = value[:6] + "19" + value[6:] + "0"  # 15-digit numbers carry no check digit; century is 19xx
    try:
        ric.get_birth_date(as18)
        ric.get_birth_place(as18)
    except (ValidationError, ValueError):
        return False
    return True


def known_region(code: str) -> bool:
    """Return True when a six-digit code is in GB/T 2260 (stdnum's administrative division table)."""
    return any(props for _, props in numdb.get("cn/loc").info(code))


def looks_like_id_number(digits: str) -> bool:
    """An 18-character number with an ID's region code and a 18xx-20xx birth year: a (mistyped) ID, not a card or USCC."""
    return len(digits) == 18 and digits[6:8] in ("18", "19", "20") and known_region(digits[:6])


def valid_uscc(value: str, text: str, start: int) -> bool:
    """GB 32100: registration authority and type codes, GB/T 2260 region, check character (stdnum)."""
    if value[0] not in "123456789ANY" or value[1] not in "1239" or not known_region(value[2:8]):
        return False
    return uscc.is_valid(value) and not looks_like_id_number(value)


# Issuer prefixes of 16-19 digit cards: Visa 4, Mastercard 51-55/2221-2720, UnionPay 62/81,
# Discover 60/64/65, JCB 35, Diners 30/36/38/39, domestic 9xx debit.
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)|62|81|6(?:0|4|5)|35|3[0689]|9")


def valid_bank_card(value: str, text: str, start: int) -> bool:
    """16-19 digits with a card issuer prefix and a valid Luhn check digit."""
    digits = re.sub(r"[ -]", "", value)
    if not (16 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) is not None and luhn.is_valid(digits)):
        return False
    return not looks_like_id_number(digits)


def valid_passport(value: str, text: str, start: int) -> bool:
    """Passport/travel-permit shaped, with a passport word nearby (no public checksum exists)."""
    return has_context(text, start, PASSPORT_CONTEXT)


_HK_LETTERS = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ", start=10)}


def hk_id_check_digit(prefix: str, digits: str) -> str:
    """Return the Hong Kong identity card check digit for a 1-2 letter prefix and 6 digits."""
    values = ([36] if len(prefix) == 1 else []) + [_HK_LETTERS[c] for c in prefix] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1)))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


_HK_ID_PARTS = re.compile(r"([A-Z]{1,2})(\d{6})[(（]?([0-9A])[)）]?")


def valid_hk_id(value: str, text: str, start: int) -> bool:
    """HKID check digit; the bracketless form also needs an identity-card word nearby."""
    m = _HK_ID_PARTS.fullmatch(value)
    if m is None or hk_id_check_digit(m.group(1), m.group(2)) != m.group(3):
        return False
    return "(" in value or "（" in value or has_context(text, start, HK_ID_CONTEXT)


def valid_mo_id(value: str, text: str, start: int) -> bool:
    """Macau resident ID 1/5/7 + 6 digits + check digit; its algorithm is not public, so the bracket form needs context."""
    return "/" in value or has_context(text, start, MO_ID_CONTEXT)


def valid_ipv4(value: str, text: str, start: int) -> bool:
    """A dotted quad ipaddress accepts (no octet > 255, no leading zeros), not a version number."""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return IP_NEG_CONTEXT.search(text, max(0, start - 12), start) is None


def valid_ipv6(value: str, text: str, start: int) -> bool:
    """An address ipaddress accepts, with at least three groups (so 12:30:45 and a::b are not)."""
    if sum(1 for g in value.split(":") if g) < 3:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


_PLATE_PARTS = re.compile(r"(.)[·•・. -]?([A-HJ-NP-Z])[·•・. -]?([A-HJ-NP-Z0-9]+)([挂学警港澳领试超]?)")
_NEW_ENERGY = re.compile(r"[DABCEFGHJK][A-HJ-NP-Z0-9]\d{4}|\d{5}[DABCEFGHJK]")


def valid_plate(value: str, text: str, start: int) -> bool:
    """GA 36 mainland plate: province + issuing letter + 5 characters (<= 3 letters), 6 for new energy, 4 + 挂/学/警/港/澳."""
    m = _PLATE_PARTS.fullmatch(value)
    if m is None:
        return False
    serial, suffix = m.group(3), m.group(4)
    letters = sum(c.isalpha() for c in serial)
    if len(serial) == 5:
        return letters <= 3
    if len(serial) == 6:
        return _NEW_ENERGY.fullmatch(serial) is not None and not suffix
    return len(serial) == 4 and bool(suffix) and letters <= 1


@dataclass(frozen=True)
class Detector:
    """A PII type's candidate regex, validator and tie-break priority (lower wins on the same span)."""

    type: str
    pattern: re.Pattern
    validate: Callable[[str, str, int], bool]
    priority: int


_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"
DETECTORS: tuple[Detector, ...] = (
    Detector("ID_CARD", re.compile(
        _B + r"[1-9]\d{5}(?:(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
        r"|\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})" + _E, re.ASCII), valid_id_card, 0),
    Detector("USCC", re.compile(_B + r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}" + _E, re.ASCII), valid_uscc, 1),
    Detector("BANK_CARD", re.compile(_B + r"(?:\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?|\d{4}[ -]?\d{6}[ -]?\d{6,9})" + _E, re.ASCII), valid_bank_card, 2),
    Detector("HK_ID", re.compile(_B + r"[A-Z]{1,2}\d{6}(?:\([0-9A]\)|（[0-9A]）|[0-9A])" + r"(?![0-9A-Za-z])", re.ASCII), valid_hk_id, 3),
    Detector("MO_ID", re.compile(_B + r"[1578](?:\d{6}(?:\(\d\)|（\d）)|/\d{6}/\d)" + _E, re.ASCII), valid_mo_id, 4),
    Detector("PASSPORT", re.compile(_B + r"(?:[A-Z]{1,2}\d{6,9})" + _E, re.ASCII), valid_passport, 5),
    # Parentheses only as a closed group around an area/trunk code: "(020) 8388 6666", "+385(0)51", "（０２０）";
    # "(13812345678)" then matches without its brackets.
    Detector("PHONE", re.compile(
        r"(?<![0-9A-Za-z+])\+?(?:[(（][0-9]{1,5}[)）]|[0-9])(?:[0-9\-]|[(（][0-9]{1,5}[)）]| (?=[0-9(（]))*(?<=[0-9])" + _E, re.ASCII),
        valid_phone_window, 6),
    Detector("EMAIL", re.compile(
        r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])", re.ASCII), valid_email, 7),
    # "来源IP192.168.1.1": Chinese text glues the address to the word IP, so letters may precede.
    Detector("IP", re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)", re.ASCII), valid_ipv4, 8),
    Detector("IP", re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:|:){2,7}(?:[0-9A-Fa-f]{1,4}|:)(?![0-9A-Za-z:])", re.ASCII), valid_ipv6, 8),
    Detector("PLATE", re.compile(
        rf"[{_PROVINCES}][·•・. -]?[A-HJ-NP-Z][·•・. -]?[A-HJ-NP-Z0-9]{{4,6}}[挂学警港澳领试超]?(?![0-9A-Za-z])", re.ASCII), valid_plate, 9),
)


def _phone_spans(text: str, m: re.Match, validate: bool) -> list[tuple[int, int]]:
    """Split a digit run at single spaces and return the leftmost-longest windows that validate."""
    words = [(w.start() + m.start(), w.end() + m.start()) for w in re.finditer(r"\S+", m.group())]
    if not validate:
        return [(m.start(), m.end())] if len(re.sub(r"\D", "", m.group())) >= 7 else []
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for j in range(len(words) - 1, i - 1, -1):
            s, e = words[i][0], words[j][1]
            if valid_phone_window(text[s:e], text, s):
                out.append((s, e))
                i = j
                break
        i += 1
    return out


def find_candidates(text: str, types: frozenset[str] | None = None, validate: bool = True) -> list[tuple[Span, int]]:
    """Return (span, priority) for every candidate of the enabled types; validated unless `validate` is False."""
    found: list[tuple[Span, int]] = []
    for det in DETECTORS:
        if types is not None and det.type not in types:
            continue
        for m in det.pattern.finditer(text):
            if det.type == "PHONE":
                found += [(Span("PHONE", s, e), det.priority) for s, e in _phone_spans(text, m, validate)]
            elif not validate or det.validate(m.group(), text, m.start()):
                found.append((Span(det.type, m.start(), m.end()), det.priority))
    return found


def resolve_overlaps(cands: list[tuple[Span, int]]) -> list[Span]:
    """Keep non-overlapping spans: longer first, then the higher-priority (checksummed) type; sorted by start."""
    kept: list[Span] = []
    taken: list[tuple[int, int]] = []
    for span, _ in sorted(cands, key=lambda c: (-(c[0].end - c[0].start), c[1], c[0].start)):
        if all(span.end <= s or span.start >= e for s, e in taken):
            kept.append(span)
            taken.append((span.start, span.end))
    return sorted(kept, key=lambda s: s.start)


# Full-width letters, digits and the symbols PII values contain (＠．－＋／＿％) are folded one
# character to one character: matching runs on the folded shadow, and its offsets are valid in
# the original text, which is what gets redacted. CJK punctuation (：，（）) is not folded: it is
# context around a value ("IP地址：fe80::1"), and folding it would change the boundaries.
_FOLD_CHARS = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ＠．－＋／＿％"
FULLWIDTH_FOLD = {ord(c): ord(c) - 0xFEE0 for c in _FOLD_CHARS}
FULLWIDTH_RE2 = r"[\x{ff10}-\x{ff19}\x{ff21}-\x{ff3a}\x{ff41}-\x{ff5a}\x{ff20}\x{ff0e}\x{ff0d}\x{ff0b}\x{ff0f}\x{ff3f}\x{ff05}]"


def fold_fullwidth(text: str) -> str:
    """Return `text` with full-width ASCII folded to ASCII (same length, same offsets)."""
    return text.translate(FULLWIDTH_FOLD)


def find_pii(text: str, types: frozenset[str] | None = None) -> list[Span]:
    """Return the validated, non-overlapping PII spans of `text` (full-width digits included), sorted by start."""
    return resolve_overlaps(find_candidates(fold_fullwidth(text), types, validate=True))


def find_pii_naive(text: str, types: frozenset[str] | None = None) -> list[Span]:
    """Baseline for benchmarks and tests: the same candidate regexes with no validation at all."""
    return resolve_overlaps(find_candidates(text, types, validate=False))


def count_span_matches(records: list[dict], find: Callable[[str], list[Span]]) -> dict[str, tuple[int, int, int]]:
    """Return PII type -> (tp, fp, fn) of `find` on labelled records ({"text", "spans": [{type, start, end}]}), exact spans."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for rec in records:
        gold = {(s["type"], s["start"], s["end"]) for s in rec["spans"]}
        pred = {(s.type, s.start, s.end) for s in find(rec["text"])}
        for g in gold:
            (tp if g in pred else fn)[g[0]] += 1
        for p in pred - gold:
            fp[p[0]] += 1
    return {t: (tp[t], fp[t], fn[t]) for t in PII_TYPES}


def redact(text: str, spans: list[Span], placeholder: str) -> tuple[str, list[Span]]:
    """Return `text` with each span replaced by its placeholder, and the placeholders' spans in the new text."""
    parts: list[str] = []
    out_spans: list[Span] = []
    pos = 0
    length = 0
    for sp in spans:
        parts.append(text[pos:sp.start])
        length += sp.start - pos
        ph = placeholder.format(type=sp.type)
        parts.append(ph)
        out_spans.append(Span(sp.type, length, length + len(ph)))
        length += len(ph)
        pos = sp.end
    parts.append(text[pos:])
    return "".join(parts), out_spans


def to_utf16_offsets(text: str, spans: list[Span]) -> list[Span]:
    """Return spans with offsets in UTF-16 code units (what browsers and Label Studio count)."""
    if text.isascii() or all(ord(c) < 0x10000 for c in text):
        return spans
    prefix = [0]
    for c in text:
        prefix.append(prefix[-1] + (2 if ord(c) >= 0x10000 else 1))
    return [Span(s.type, prefix[s.start], prefix[s.end]) for s in spans]


def sensitivity_of(counts: dict[str, int], levels: dict[str, str]) -> str:
    """Return the highest sensitivity level among the PII types present (``none`` without PII)."""
    best = 0
    for t, n in counts.items():
        if n:
            best = max(best, SENSITIVITY_ORDER.index(levels.get(t, "high")))
    return SENSITIVITY_ORDER[best]


# Per-type RE2 gates, run vectorised over the whole batch: every candidate the type's Python
# pattern can match contains a match of its gate, so a row is scanned only for the types whose
# gate it matches (most rows: none). Phone digits may be split by separators ("+886 925 418 381").
TYPE_GATES_RE2: dict[str, str] = {
    "ID_CARD": r"[1-9][0-9]{14}",
    "USCC": r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}",
    "BANK_CARD": r"[0-9]{4}[ -]?[0-9]{4}",
    "HK_ID": r"[A-Z][0-9]{6}",
    "MO_ID": r"[1578]/?[0-9]{6}",
    "PASSPORT": r"[A-Z][0-9]{6}",
    "PHONE": r"[0-9](?:[ ()（）\-]*[0-9]){6}",
    "EMAIL": r"@",
    "IP": r"[0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]|:[0-9A-Fa-f]{0,4}:",
    "PLATE": rf"[{_PROVINCES}][·•・. -]?[A-HJ-NP-Z]",
}
PII_COUNTS_TYPE = pa.struct([pa.field(t, pa.int32()) for t in PII_TYPES])
PII_SPANS_TYPE = pa.list_(pa.struct([pa.field("type", pa.string()), pa.field("start", pa.int32()), pa.field("end", pa.int32())]))


@register_op
class RedactPii(Mapper):
    """Detect checksum-validated PII; replace it with typed placeholders (or only detect), adding counts, sensitivity and spans."""

    name: ClassVar[str] = "redact_pii"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "email/phone/ID/USCC/bank card/passport/HKID/Macau ID/IP/plate -> <TYPE>; pii_counts, sensitivity, pii_spans"

    mode: Literal["redact", "detect"] = Field("redact", description="redact replaces values; detect leaves text as is and only reports")
    types: tuple[PiiType, ...] = Field(PII_TYPES, description="PII types to look for")
    placeholder: str = Field("<{type}>", description="replacement; {type} is the PII type name")
    keep_spans: bool = Field(True, description="add pii_spans: detected values (detect) or placeholders (redact) in the output text")
    span_unit: Literal["codepoint", "utf16"] = Field("codepoint", description="offset unit of pii_spans (utf16 = JavaScript / Label Studio)")
    sensitivity_levels: dict[PiiType, SensitivityLevel] = Field(
        default_factory=lambda: dict(DEFAULT_SENSITIVITY), description="PII type -> level; sensitivity = highest level present"
    )

    @field_validator("placeholder")
    @classmethod
    def _placeholder_names_type(cls, v: str) -> str:
        if "{type}" not in v:
            raise ValueError("placeholder must contain {type}, e.g. '<{type}>'")
        return v

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        text_arr = live.column("text").combine_chunks()
        # Gates see what find_pii sees: the full-width-folded text (only rows with full-width chars change).
        gate_arr = map_where(text_arr, pc.match_substring_regex(text_arr, pattern=FULLWIDTH_RE2), fold_fullwidth)
        gates = {t: pc.fill_null(pc.match_substring_regex(gate_arr, pattern=TYPE_GATES_RE2[t]), False) for t in dict.fromkeys(self.types)}
        row_types: dict[int, frozenset[str]] = {}
        for t, mask in gates.items():
            for i in pc.indices_nonzero(mask).to_pylist():
                row_types[i] = row_types.get(i, frozenset()) | {t}
        candidate_rows = row_types.keys()
        levels = {**DEFAULT_SENSITIVITY, **self.sensitivity_levels}
        texts = text_arr.to_pylist() if candidate_rows else []
        new_texts: list[str] | None = list(texts) if candidate_rows and self.mode == "redact" else None
        counts: list[dict[str, int]] = []
        spans_out: list[list[dict]] = []
        notes: list[str | None] = []
        for i in range(live.num_rows):
            spans = find_pii(texts[i], row_types[i]) if i in candidate_rows else []
            c = Counter(s.type for s in spans)
            counts.append({t: c.get(t, 0) for t in PII_TYPES})
            if spans and new_texts is not None:
                new_texts[i], spans = redact(texts[i], spans, self.placeholder)
            if spans and self.span_unit == "utf16":
                spans = to_utf16_offsets(new_texts[i] if new_texts is not None else texts[i], spans)
            spans_out.append([s._asdict() for s in spans])
            for t, n in c.items():
                stats.add(f"{'redacted' if self.mode == 'redact' else 'detected'}:{t}", n)
            stats.add("rows_with_pii", 1 if spans else 0)
            verb = "redacted" if self.mode == "redact" else "detected"
            notes.append(f"{self.op_id}: {verb} " + ",".join(f"{t}x{n}" for t, n in sorted(c.items())) if spans else None)
        if new_texts is not None:
            live = set_column(live, "text", pa.array(new_texts, pa.string()))
        live = set_column(live, "pii_counts", pa.array(counts, PII_COUNTS_TYPE))
        live = set_column(live, "sensitivity", pa.array([sensitivity_of(c, levels) for c in counts], pa.string()))
        if self.keep_spans:
            live = set_column(live, "pii_spans", pa.array(spans_out, PII_SPANS_TYPE))
        return add_trace(live, notes)

"""Quality signals: Scorer ops that only add ``signal_*`` columns (Gopher/C4/FineWeb-style, CJK-aware).

Every signal is computed over many documents at once (pyarrow.compute kernels for per-row
counts, numpy over flattened lines / n-gram units for the per-document aggregates), a few MB of
text at a time for the text, line and repetition scorers (`text_chunks`, SIGNAL_CHUNK_BYTES), so
their temporaries stay bounded however large the batch; only
mojibake detection (ftfy) and the PII-count decoding fall back to Python per row. The hot
character-class counts, line widths, duplicate lines and n-gram repetition run as numba kernels
(quality._signal_kernels), the one production path (the fastest measured, bench/results/signals_speed.md);
the pyarrow/numpy versions they replaced live in tests/quality/signals_numpy_reference.py, which
the tests and bench/bench_signals_speed.py compare them against, bit for bit. Shares are
float32 in [0, 1] and null where the denominator is zero (an empty document has no line share).
Deciding is left to ``quality.filters``.
"""

from __future__ import annotations

from transforms.lazy import build_once
import json
from importlib import resources
from typing import Callable, ClassVar, Literal, NamedTuple

import ftfy.badness
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from transforms.ops import OpStats, Scorer, set_column
from transforms.registry import register_op

# ---------------------------------------------------------------------------------------------
# Character classes (RE2 syntax, used by pyarrow.compute regex kernels)

CJK_RE = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"
HAN_KANA_RE = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
SYMBOL_RE = r"[\p{S}#]"  # math, currency, modifier and other symbols (emoji, box drawing...), plus '#'
DIGIT_RE = r"\p{Nd}"
# East Asian wide characters (a rough but vectorisable East_Asian_Width=W/F set): they take two
# columns, so "short line" means the same visual length in Chinese and in English.
WIDE_RE = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\x{3000}-\x{303f}\x{ff01}-\x{ff60}\x{ffe0}-\x{ffe6}]"
# A line "ends in terminal punctuation" (C4) when its last non-space character is one of these,
# optionally followed by closing quotes/brackets. Chinese/Japanese 。！？… and full-width forms included.
# Measured on SOHU news: ~15% of clean passages end their lines with an editorial credit in
# brackets after the full stop ("。（总台记者周伟琪）", "”(编辑：李昌隆)"), so one trailing bracketed
# credit of up to 40 characters is allowed after the terminal punctuation.
TERMINAL_PUNCT_RE = r"[.!?。！？…．｡;；:：]['\"”’」』）)\]】》〉]*(?:\s*[（(][^（()）\n]{1,40}[)）])?\s*$"
BULLET_RE = r"^\s*(?:[•●○◦▪▫■□◆◇►▶➢✓✔\-\*·・‧–—]|\d{1,2}[.)、]\s|[一二三四五六七八九十]+、)"
ELLIPSIS_RE = r"(?:\.\.\.|…|⋯|。。。)\s*$"
REPLACEMENT_RE = r"\x{fffd}"
# Private-use code points and the classic Chinese mojibake strings: 锟斤拷 (U+FFFD's UTF-8 bytes
# read as GBK) and 烫烫烫 / 屯屯屯 (MSVC uninitialised stack / heap memory read as GBK).
GARBLED_RE = r"[\p{Co}]|锟斤拷|烫烫烫|屯屯屯"
SPACE_RE = r"[\s\p{Z}]"  # RE2's \s is ASCII-only: \p{Z} adds U+3000 (ideographic space), NBSP, thin spaces
NGRAM_STRIP_RE = r"[\s\p{Z}\p{P}]+"  # n-gram units ignore whitespace and punctuation (Gopher normalises words the same way)

# C4 (Raffel et al. 2020) page/line rules, as flags; Chinese policy boilerplate added.
C4_JAVASCRIPT_RE = r"(?i)javascript"
C4_LOREM_RE = r"(?i)lorem ipsum"
C4_CURLY_RE = r"[{}]"
C4_POLICY_RE = (
    r"(?i)terms of use|privacy policy|cookie policy|uses cookies|use of cookies|use cookies"
    r"|隐私政策|隱私政策|隐私条款|隱私條款|用户协议|用戶協議|服务条款|服務條款|使用条款|使用條款|免责声明|免責聲明|版权所有|版權所有"
)

# Scripts written without spaces between words (besides Han/kana): whitespace splits them into
# phrases or sentences, not words. A document whose non-space characters are mostly these has its
# words estimated as characters / UNSPACED_CHARS_PER_WORD[script]: non-space characters per ICU
# dictionary word (Tibetan: per tsheg-separated syllable, ICU has no Tibetan dictionary), measured
# by bench/tune_unspaced_word_length.py on Debian message catalogs (libreoffice-l10n-th/km/dz,
# firefox-esr-l10n-my, the installed th/lo/km/my/dz locales). Lao: 76 short catalog strings only.
UNSPACED_SCRIPT_RES: dict[str, str] = {
    "th": r"\p{Thai}",
    "lo": r"\p{Lao}",
    "km": r"\p{Khmer}",
    "my": r"\p{Myanmar}",
    "bo": r"\p{Tibetan}",  # Tibetan and Dzongkha
}
UNSPACED_CHARS_PER_WORD: dict[str, float] = {"th": 4.1, "lo": 4.3, "km": 5.5, "my": 4.0, "bo": 4.0}

TOP_NGRAM_NS: tuple[int, ...] = (2, 3, 4)  # Gopher: share of text in the most frequent n-gram
DUP_NGRAM_NS: tuple[int, ...] = (5, 6, 7, 8, 9, 10)  # Gopher: share of text in repeated n-grams

# Languages whose stop words are matched as substrings (not spaced) vs as whole words.
SUBSTRING_STOPWORD_LANGS: frozenset[str] = frozenset({"zh", "yue", "ja"})
LANG_ALIASES: dict[str, str] = {"cmn": "zh", "wuu": "zh", "zho": "zh", "chi": "zh", "jpn": "ja", "eng": "en"}


def _mojibake_trigger_class() -> str:
    """Return an RE2 class of every non-ASCII character ftfy's badness regex can start from.

    Each alternative of ftfy.badness.BADNESS_RE needs at least one character from its category
    classes or its non-ASCII literals, so a text with none of them has badness 0 and ftfy need not
    run on it (about 9 in 10 real documents). Derived from ftfy itself, so it follows ftfy updates.
    """
    import re

    combined = re.compile("[" + "".join(ftfy.badness.MOJIBAKE_CATEGORIES.values()) + "]")
    # ftfy's categories are Basic Multilingual Plane characters (tests check the astral planes add none)
    every_char = "".join(map(chr, range(0x80, 0xD800))) + "".join(map(chr, range(0xE000, 0x10000)))
    chars = set(combined.findall(every_char)) | {ch for ch in ftfy.badness.BADNESS_RE.pattern if ord(ch) >= 0x80}
    trigger = [f"\\x{{{ord(ch):x}}}" for ch in sorted(chars)]
    return "[" + "".join(trigger) + "]"


MOJIBAKE_TRIGGER_RE = _mojibake_trigger_class()


def _single_char_set(op: object, arg: object) -> set[str] | None:
    """Return the characters a parsed single-character item (literal or plain class) matches, else None."""
    from re import _constants as sre  # only reached once mojibake_window_re imported it

    if op == sre.LITERAL:
        return {chr(arg)}
    if op != sre.IN:
        return None
    chars: set[str] = set()
    for sub_op, sub_arg in arg:
        if sub_op == sre.LITERAL:
            chars.add(chr(sub_arg))
        elif sub_op == sre.RANGE:
            chars.update(map(chr, range(sub_arg[0], sub_arg[1] + 1)))
        else:  # \s, \w, negation...: Python's and RE2's Unicode tables differ, so not used
            return None
    return chars


def _re2_class(chars: set[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(ch):x}}}" for ch in sorted(chars)) + "]"


@build_once
def mojibake_window_re() -> str | None:
    """Return an RE2 pattern that every match of ftfy's badness regex contains, or None if it cannot be derived.

    For each top-level alternative of ftfy.badness.BADNESS_RE, the longest run of consecutive
    literal/class items (all mandatory) is a substring every match of that alternative has; the
    alternation of those runs is a necessary condition for badness > 0, so ftfy only runs on the
    MOJIBAKE_TRIGGER_RE rows that also match it (e2e corpus: 125 of 6,045; the “”…— common in
    Chinese text alone no longer make a row a suspect).
    """
    try:  # private modules of the re package (3.11+): without them ftfy runs on every trigger row
        from re import _constants as sre, _parser
    except ImportError:
        return None
    if ftfy.badness.BADNESS_RE.flags & sre.SRE_FLAG_IGNORECASE:  # would widen every class
        return None
    parsed = list(_parser.parse(ftfy.badness.BADNESS_RE.pattern, ftfy.badness.BADNESS_RE.flags))
    branches = parsed[0][1][1] if len(parsed) == 1 and parsed[0][0] == sre.BRANCH else [parsed]
    windows: list[str] = []
    for branch in branches:
        runs: list[list[set[str]]] = [[]]
        for op, arg in branch:
            chars = _single_char_set(op, arg)
            if chars is None:
                runs.append([])
            else:
                runs[-1].append(chars)
        best = max(runs, key=len)
        if not best:
            return None
        windows.append("".join(_re2_class(c) for c in best))
    return "|".join(windows)


def _load_stopwords() -> dict[str, tuple[str, ...]]:
    """Read the stop-word lists shipped in quality/stopwords (package data, read once at import)."""
    out: dict[str, tuple[str, ...]] = {}
    for entry in resources.files("quality.stopwords").iterdir():
        if entry.name.endswith(".txt"):
            words = [w.strip() for w in entry.read_text(encoding="utf-8").splitlines()]
            out[entry.name[:-4]] = tuple(dict.fromkeys(w for w in words if w and not w.startswith("#")))
    return out


STOPWORDS: dict[str, tuple[str, ...]] = _load_stopwords()

# Bits of char_class_table(): one per RE2 class above, plus Arrow's own whitespace (the set
# utf8_split_whitespace and utf8_trim_whitespace split and trim at), which differs from RE2's \s.
CLASS_BIT_PATTERNS: dict[str, str] = {
    "space": SPACE_RE,
    "han_kana": HAN_KANA_RE,
    "cjk": CJK_RE,
    "symbol": SYMBOL_RE,
    "digit": DIGIT_RE,
    "wide": WIDE_RE,
    "mojibake_trigger": MOJIBAKE_TRIGGER_RE,
    "ngram_strip": NGRAM_STRIP_RE,
    "private_use": r"[\p{Co}]",
    **{f"unspaced_{code}": pattern for code, pattern in UNSPACED_SCRIPT_RES.items()},
}
CLASS_BITS: dict[str, int] = {name: bit for bit, name in enumerate([*CLASS_BIT_PATTERNS, "arrow_space"])}
GARBLED_WORDS: tuple[str, ...] = ("锟斤拷", "烫烫烫", "屯屯屯")  # the literal alternatives of GARBLED_RE


@build_once
def char_class_table() -> np.ndarray:
    """Return a uint16 per code point (0..U+10FFFF) with the CLASS_BITS it belongs to.

    Derived by running each RE2 class (and Arrow's whitespace trim) on every code point, so the
    compiled kernels classify exactly as the pyarrow.compute regex kernels do. ~0.3 s, once a process.
    """
    cps = np.concatenate([np.arange(0, 0xD800), np.arange(0xE000, 0x110000)]).astype(np.uint32)
    data = cps.tobytes().decode("utf-32-le").encode("utf-8")
    byte_len = np.select([cps < 0x80, cps < 0x800, cps < 0x10000], [1, 2, 3], 4)
    offsets = np.concatenate([[0], np.cumsum(byte_len)]).astype(np.int32)
    chars = pa.StringArray.from_buffers(len(cps), pa.py_buffer(offsets), pa.py_buffer(data))
    table = np.zeros(0x110000, dtype=np.uint16)
    for name, pattern in CLASS_BIT_PATTERNS.items():
        hit = _np(pc.match_substring_regex(chars, pattern=pattern)).astype(bool)
        table[cps[hit]] |= np.uint16(1 << CLASS_BITS[name])
    arrow_space = _np(pc.utf8_length(pc.utf8_trim_whitespace(chars))) == 0
    table[cps[arrow_space]] |= np.uint16(1 << CLASS_BITS["arrow_space"])
    table.flags.writeable = False  # shared by every caller through the cache
    return table


def _utf8_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (int64 offsets, uint8 data) of a string array's UTF-8 buffers (nulls read as empty)."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if text.null_count:
        text = text.fill_null("")
    if len(text) == 0:
        return np.zeros(1, dtype=np.int64), _EMPTY_DATA
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
        text = text.cast(pa.large_string())
    if pa.types.is_large_string(text.type):
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    else:
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + len(text) + 1].astype(np.int64)
    data_buf = text.buffers()[2]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and data_buf.size else _EMPTY_DATA
    return offsets, data


# read-only like np.frombuffer's views of Arrow buffers, so the kernels are compiled for one array type
_EMPTY_DATA = np.zeros(1, dtype=np.uint8)
_EMPTY_DATA.flags.writeable = False


# ---------------------------------------------------------------------------------------------
# Chunks: the scorers' temporaries (lines, words, n-gram units...) grow with the text they are
# computed over, so ScoreTextStats, ScoreLineStats and ScoreRepetition work through a batch a few
# MB of UTF-8 at a time. Every signal is a function of its own document only, and a document is
# never split across chunks, so the columns are the same as over the whole batch at once. (Word
# n-gram keys hash ids from a per-chunk dictionary and the kernel salts keys by row within the
# call: equal n-grams of a document still get equal keys, so only which unequal n-grams could
# collide in 64 bits changes, as between the kernel and its numpy reference.)

SIGNAL_CHUNK_BYTES: int = 2 << 20  # UTF-8 bytes of text per chunk (a document longer than this is a chunk of its own)
SIGNAL_CHUNK_DOCS: int = 1 << 16  # and at most this many documents (bounds the per-document arrays of tiny texts)


def text_chunks(text: pa.Array | pa.ChunkedArray, chunk_bytes: int | None = None, chunk_docs: int | None = None) -> list[tuple[int, pa.Array]]:
    """Return (first row, zero-copy slice) pieces of `text`, in order, each of at most `chunk_bytes` UTF-8 bytes and `chunk_docs` rows.

    A piece holds at least one document, so a document longer than `chunk_bytes` is a piece of
    its own. A column that fits in one piece is returned whole (combined, as the unchunked code
    took it); a larger ChunkedArray is cut within its Arrow chunks, never combined.
    Defaults: SIGNAL_CHUNK_BYTES, SIGNAL_CHUNK_DOCS (read at call time).
    """
    limit, max_docs = _chunk_limits(chunk_bytes, chunk_docs)
    parts = _arrow_chunks(text)
    n = sum(len(part) for part in parts)
    sizes = [_byte_sizes(part) for part in parts]
    if n <= max_docs and sum(int(size.sum()) for size in sizes) <= limit:
        return [(0, text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)]
    out: list[tuple[int, pa.Array]] = []
    first = 0
    for part, size in zip(parts, sizes):
        out += [(first + start, part.slice(start, stop - start)) for start, stop in _chunk_bounds(size, limit, max_docs)]
        first += len(part)
    return out


def _chunk_limits(chunk_bytes: int | None, chunk_docs: int | None) -> tuple[int, int]:
    limit = SIGNAL_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    max_docs = SIGNAL_CHUNK_DOCS if chunk_docs is None else chunk_docs
    if limit < 1 or max_docs < 1:
        raise ValueError("chunk_bytes and chunk_docs must be at least 1")
    return limit, max_docs


def _arrow_chunks(text: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(text.chunks) if isinstance(text, pa.ChunkedArray) else [text]


def _byte_sizes(part: pa.Array) -> np.ndarray:
    """Return the UTF-8 bytes of every string (null: 0)."""
    return _np(pc.binary_length(part)).astype(np.int64) if len(part) else np.zeros(0, np.int64)


def _chunk_bounds(sizes: np.ndarray, limit: int, max_docs: int) -> list[tuple[int, int]]:
    """Return consecutive (start, stop) ranges over `sizes`, each summing to at most `limit` (or one item) and of at most `max_docs` items."""
    ends = np.cumsum(sizes)
    out: list[tuple[int, int]] = []
    start = 0
    while start < sizes.size:
        before = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, before + limit, side="right"))
        stop = min(max(stop, start + 1), start + max_docs)
        out.append((start, stop))
        start = stop
    return out


# ---------------------------------------------------------------------------------------------
# Small vector helpers


def _np(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Return a numeric Arrow array as numpy (nulls -> 0)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    fill = False if pa.types.is_boolean(arr.type) else 0
    return arr.fill_null(fill).to_numpy(zero_copy_only=False)


def _text(batch: pa.Table) -> pa.Array:
    col = batch.column("text")
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _count(text: pa.Array, pattern: str) -> np.ndarray:
    """Return the number of non-overlapping regex matches per text."""
    return _np(pc.count_substring_regex(text, pattern=pattern)).astype(np.int64)


def share(num: np.ndarray, den: np.ndarray) -> pa.Array:
    """Return num/den as float32, null where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return pa.array(val.astype(np.float32), pa.float32(), mask=den <= 0)


def _per_doc_sum(parents: np.ndarray, values: np.ndarray, n_docs: int) -> np.ndarray:
    return np.bincount(parents, weights=values.astype(np.float64), minlength=n_docs)


def split_words(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Return the whitespace-separated pieces of every text, flattened, and each piece's row index.

    Pieces are trimmed: pyarrow 26's utf8_split_whitespace decodes one byte past a text that ends
    in whitespace, and when the buffer's padding there is not valid UTF-8 it leaves that
    whitespace on the last piece (reproduced in tests), which made word n-grams depend on memory.
    """
    lists = pc.utf8_split_whitespace(text)
    parents = _np(pc.list_parent_indices(lists)).astype(np.int64)
    return pc.utf8_trim_whitespace(pc.list_flatten(lists)), parents


def count_text_chars(text: pa.Array) -> pa.Array:
    """Return the number of non-whitespace characters per text, Unicode spaces (U+3000...) included.

    transforms.basic.count_text_chars uses RE2's ASCII-only \\s and so counts the ideographic
    space that indents Chinese paragraphs as text; signals need the Unicode-aware count.
    """
    return pc.subtract(pc.utf8_length(text), pc.count_substring_regex(text, pattern=SPACE_RE))


def _dominant_share(num: np.ndarray, nonspace: np.ndarray, min_share: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nonspace > 0, num / np.maximum(nonspace, 1), 0.0) >= min_share


def cjk_dominant(text: pa.Array, min_share: float) -> np.ndarray:
    """Return True where Han+kana characters are at least `min_share` of the non-space characters."""
    counts = char_class_counts(text)
    return _dominant_share(counts["han_kana"], counts["nonspace"], min_share)


# ---------------------------------------------------------------------------------------------
# Text statistics


def char_class_counts(text: pa.Array) -> dict[str, np.ndarray]:
    """Return per-document character-class counts (non-space, words, Han/kana, CJK, symbol, digit, replacement,
    garbled, mojibake suspect; `unspaced`: [doc, script] in UNSPACED_SCRIPT_RES order) from one compiled UTF-8
    pass (classes as the RE2 patterns above define them)."""
    from quality import _signal_kernels as K

    offsets, data = _utf8_buffers(text)
    garbled_words = np.array([[ord(ch) for ch in w] for w in GARBLED_WORDS], dtype=np.int64)
    bit = CLASS_BITS
    c = K.char_class_counts(
        offsets, data, char_class_table(), bit["space"], bit["han_kana"], bit["cjk"], bit["symbol"], bit["digit"],
        bit["private_use"], bit["mojibake_trigger"], bit["arrow_space"], garbled_words,
        np.array([bit[f"unspaced_{code}"] for code in UNSPACED_SCRIPT_RES], dtype=np.int64),
    )
    return {
        "nonspace": c[:, K.N_CHARS] - c[:, K.N_SPACE],
        "words": c[:, K.N_WORDS].copy(),
        "han_kana": c[:, K.N_HAN_KANA].copy(),
        "cjk": c[:, K.N_CJK].copy(),
        "symbol": c[:, K.N_SYMBOL].copy(),
        "digit": c[:, K.N_DIGIT].copy(),
        "replacement": c[:, K.N_REPLACEMENT].copy(),
        "garbled": c[:, K.N_GARBLED].copy(),
        "mojibake_suspect": c[:, K.N_TRIGGER].astype(bool),
        "unspaced": c[:, K.N_COUNTS:].copy(),
    }


def text_stat_columns(
    text: pa.Array, cjk_unit_share: float, unspaced_share: float = 0.3, chunk_bytes: int | None = None
) -> dict[str, pa.Array]:
    """Return per-document length, script and character-class signals for a string array (`text_chunks` at a time)."""
    pieces = text_chunks(text, chunk_bytes)
    if len(pieces) == 1:
        whole, counts_whole = pieces[0][1], char_class_counts(pieces[0][1])
        mojibake = mojibake_counts(whole, counts_whole["mojibake_suspect"], chunk_bytes)
        return text_stats_from_counts(whole, counts_whole, cjk_unit_share, unspaced_share, mojibake=mojibake)
    counts = [char_class_counts(piece) for _, piece in pieces]
    merged = {name: np.concatenate([c[name] for c in counts]) for name in counts[0]}
    mojibake = mojibake_counts(text, merged["mojibake_suspect"], chunk_bytes)
    return text_stats_from_counts(text, merged, cjk_unit_share, unspaced_share, mojibake=mojibake)


def mojibake_counts(
    text: pa.Array | pa.ChunkedArray, suspect: np.ndarray, chunk_bytes: int | None = None, chunk_docs: int | None = None
) -> np.ndarray:
    """Return ftfy's badness per text: run on the `suspect` rows that match `mojibake_window_re`, 0 elsewhere.

    A text larger than one chunk (`text_chunks`' limits) is not copied whole: where suspects are
    at least half its bytes the window regex runs on every row in place (one call: each call
    compiles the ~20,000-character pattern and warms RE2's DFA again, ~2 ms), else on copies of
    the suspects, a chunk at a time; ftfy reads its rows a chunk at a time.
    """
    # ftfy's mojibake detector is a large Python regex (not RE2-compatible): one pass per document.
    limit, max_docs = _chunk_limits(chunk_bytes, chunk_docs)
    mojibake = np.zeros(len(text), dtype=np.int64)
    suspects = np.nonzero(suspect)[0]
    window = mojibake_window_re()
    if len(text_chunks(text, limit, max_docs)) == 1:  # the whole batch at once
        text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
        if suspects.size and window is not None:
            suspects = suspects[_np(pc.match_substring_regex(text.take(pa.array(suspects)), pattern=window)).astype(bool)]
        if suspects.size:
            sub = text.take(pa.array(suspects)).to_pylist()
            mojibake[suspects] = [ftfy.badness.badness(t) for t in sub]
        return mojibake
    first = 0
    for part in _arrow_chunks(text):
        part_suspect = suspect[first : first + len(part)]
        rows = np.nonzero(part_suspect)[0]
        sizes = _byte_sizes(part)
        if rows.size and window is not None:
            if 2 * int(sizes[rows].sum()) >= int(sizes.sum()):
                rows = np.nonzero(part_suspect & _np(pc.match_substring_regex(part, pattern=window)).astype(bool))[0]
            else:
                rows = np.concatenate([
                    rows[a:b][_np(pc.match_substring_regex(part.take(pa.array(rows[a:b])), pattern=window)).astype(bool)]
                    for a, b in _chunk_bounds(sizes[rows], limit, max_docs)
                ])
        for a, b in _chunk_bounds(sizes[rows], limit, max_docs):
            group = rows[a:b]
            mojibake[first + group] = [ftfy.badness.badness(t) for t in part.take(pa.array(group)).to_pylist()]
        first += len(part)
    return mojibake


def estimated_words(nonspace: np.ndarray, unspaced: np.ndarray) -> np.ndarray:
    """Return non-space characters / UNSPACED_CHARS_PER_WORD, the ratio weighted by each script's share of `unspaced` [doc, script]."""
    per_word = np.array(list(UNSPACED_CHARS_PER_WORD.values()))
    total = unspaced.sum(axis=1)
    words_per_char = (unspaced / per_word).sum(axis=1) / np.maximum(total, 1)
    return np.rint(nonspace * words_per_char).astype(np.int64)


def text_stats_from_counts(
    text: pa.Array, counts: dict[str, np.ndarray], cjk_unit_share: float, unspaced_share: float = 0.3,
    mojibake: np.ndarray | None = None,
) -> dict[str, pa.Array]:
    """Return the text-stat signal columns from `char_class_counts` of `text` (and `mojibake_counts`, run here when None).

    Words: whitespace-separated pieces; none (null) for Han/kana-dominant documents; an estimate
    (`estimated_words`) for documents at least `unspaced_share` Thai, Lao, Khmer, Myanmar or
    Tibetan, whose mean word length is then null (the estimate fixes it).
    """
    nonspace = counts["nonspace"]
    word_chars = nonspace  # whitespace-split words cover exactly the non-space characters
    han_kana = _dominant_share(counts["han_kana"], nonspace, cjk_unit_share)
    estimated = ~han_kana & _dominant_share(counts["unspaced"].sum(axis=1), nonspace, unspaced_share)
    spaced = ~han_kana & ~estimated
    n_words = counts["words"]
    if estimated.any():
        n_words = np.where(estimated, estimated_words(nonspace, counts["unspaced"]), n_words)
    replacement = counts["replacement"]
    garbled = counts["garbled"]
    if mojibake is None:
        mojibake = mojibake_counts(text, counts["mojibake_suspect"])
    return {
        "signal_chars": pa.array(nonspace, pa.int64()),
        "signal_words": pa.array(n_words, pa.int64(), mask=han_kana),
        "signal_mean_word_len": share(word_chars, np.where(spaced, n_words, 0)),
        "signal_cjk_share": share(counts["cjk"], nonspace),
        "signal_symbol_share": share(counts["symbol"], nonspace),
        "signal_digit_share": share(counts["digit"], nonspace),
        "signal_replacement_chars": pa.array(replacement, pa.int64()),
        "signal_mojibake": pa.array(mojibake, pa.int64()),
        "signal_garbled_share": share(replacement + garbled + mojibake, nonspace),
    }


@register_op
class ScoreTextStats(Scorer):
    """Add length, word, CJK/symbol/digit share and replacement/garbled-character signals."""

    name: ClassVar[str] = "score_text_stats"
    version: ClassVar[int] = 2
    summary: ClassVar[str] = (
        "signal_chars, signal_words (estimated from characters for Thai/Lao/Khmer/Myanmar/Tibetan, null for "
        "Han/kana), signal_mean_word_len (spaced scripts), cjk/symbol/digit share, replacement chars, "
        "ftfy mojibake count, garbled share"
    )

    cjk_unit_share: float = Field(0.3, ge=0, le=1, description="Han+kana share above which a document counts as unspaced (no words)")
    unspaced_share: float = Field(
        0.3, ge=0, le=1,
        description="Thai+Lao+Khmer+Myanmar+Tibetan share from which words are estimated from characters (no mean word length)",
    )

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        for name, col in text_stat_columns(live.column("text"), self.cjk_unit_share, self.unspaced_share).items():
            live = set_column(live, name, col)
        return live


# ---------------------------------------------------------------------------------------------
# Line and paragraph statistics


def _split_flat(text: pa.Array, pattern: str) -> tuple[pa.Array, np.ndarray]:
    """Split every text by a regex; return the stripped pieces and their parent row indices."""
    lists = pc.split_pattern_regex(text, pattern=pattern)
    parents = _np(pc.list_parent_indices(lists)).astype(np.int64)
    pieces = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    return pieces, parents


def split_lines(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Return the trimmed lines of every text and their parent row indices (a literal split: ~4x a regex one)."""
    lists = pc.split_pattern(text, pattern="\n")
    parents = _np(pc.list_parent_indices(lists)).astype(np.int64)
    return pc.utf8_trim_whitespace(pc.list_flatten(lists)), parents


PARAGRAPH_SPLIT_RE = r"\n[ \t\x{3000}]*\n\s*"


def repeated_piece_mask(pieces: pa.Array, parents: np.ndarray) -> np.ndarray:
    """Return True for each piece equal, byte for byte, to an earlier piece of the same document (False when empty)."""
    from quality._signal_kernels import repeated_pieces

    return repeated_pieces(*_utf8_buffers(pieces), parents)


def duplicate_piece_counts(
    pieces: pa.Array, parents: np.ndarray, repeated: np.ndarray, n_docs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return per-doc (pieces, duplicate pieces, chars, duplicate chars) over non-empty pieces."""
    lengths = _np(pc.utf8_length(pieces)).astype(np.int64)
    keep = lengths > 0
    parents, lengths, rep = parents[keep], lengths[keep], repeated[keep]
    total = np.bincount(parents, minlength=n_docs)
    dup = np.bincount(parents[rep], minlength=n_docs)
    chars = _per_doc_sum(parents, lengths, n_docs)
    dup_chars = _per_doc_sum(parents[rep], lengths[rep], n_docs)
    return total, dup, chars, dup_chars


def line_widths(lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (characters, display columns: WIDE_RE characters count 2) of every line."""
    from quality._signal_kernels import char_and_class_lengths

    chars, wide = char_and_class_lengths(*_utf8_buffers(lines), char_class_table(), CLASS_BITS["wide"])
    return chars, chars + wide


class LinePieces(NamedTuple):
    """What the line signals are computed from: lines and paragraphs, their parents, widths and repeats."""

    lines: pa.Array
    parents: np.ndarray
    chars: np.ndarray
    width: np.ndarray
    line_repeated: np.ndarray
    paras: pa.Array
    para_parents: np.ndarray
    para_repeated: np.ndarray


def line_pieces(text: pa.Array) -> LinePieces:
    """Return the lines and paragraphs of every text with their widths and repeat flags (compiled kernels)."""
    lines, parents = split_lines(text)
    chars, width = line_widths(lines)
    paras, p_parents = _split_flat(text, PARAGRAPH_SPLIT_RE)
    return LinePieces(lines, parents, chars, width, repeated_piece_mask(lines, parents), paras, p_parents,
                      repeated_piece_mask(paras, p_parents))


def line_stat_columns(text: pa.Array, short_line_width: int, chunk_bytes: int | None = None) -> dict[str, pa.Array]:
    """Return per-document line/paragraph signals: terminal punctuation, short, bullet, ellipsis, duplicates (`text_chunks` at a time)."""
    counts = [line_stat_counts(line_pieces(piece), len(piece), short_line_width) for _, piece in text_chunks(text, chunk_bytes)]
    if len(counts) == 1:
        return line_stats_from_counts(counts[0])
    return line_stats_from_counts({name: np.concatenate([c[name] for c in counts]) for name in counts[0]})


def line_stats_from_pieces(p: LinePieces, n: int, short_line_width: int) -> dict[str, pa.Array]:
    """Return the line signal columns of `n` documents from their `line_pieces`."""
    return line_stats_from_counts(line_stat_counts(p, n, short_line_width))


def line_stat_counts(p: LinePieces, n: int, short_line_width: int) -> dict[str, np.ndarray]:
    """Return the per-document counts the line signals are shares of, for `n` documents from their `line_pieces`."""
    nonempty = p.chars > 0

    def per_doc(mask: np.ndarray) -> np.ndarray:
        return np.bincount(p.parents[mask & nonempty], minlength=n)

    n_lines = per_doc(np.ones(len(p.lines), dtype=bool))
    punct = per_doc(_np(pc.match_substring_regex(p.lines, pattern=TERMINAL_PUNCT_RE)).astype(bool))
    short = per_doc(p.width < short_line_width)
    bullet = per_doc(_np(pc.match_substring_regex(p.lines, pattern=BULLET_RE)).astype(bool))
    ellipsis = per_doc(_np(pc.match_substring_regex(p.lines, pattern=ELLIPSIS_RE)).astype(bool))
    l_total, l_dup, l_chars, l_dup_chars = duplicate_piece_counts(p.lines, p.parents, p.line_repeated, n)
    p_total, p_dup, p_chars, p_dup_chars = duplicate_piece_counts(p.paras, p.para_parents, p.para_repeated, n)
    return {
        "lines": n_lines, "punct": punct, "short": short, "bullet": bullet, "ellipsis": ellipsis,
        "line_total": l_total, "line_dup": l_dup, "line_chars": l_chars, "line_dup_chars": l_dup_chars,
        "para_total": p_total, "para_dup": p_dup, "para_chars": p_chars, "para_dup_chars": p_dup_chars,
    }


def line_stats_from_counts(c: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """Return the line signal columns from `line_stat_counts`."""
    return {
        "signal_lines": pa.array(c["lines"], pa.int64()),
        "signal_punct_end_line_share": share(c["punct"], c["lines"]),
        "signal_short_line_share": share(c["short"], c["lines"]),
        "signal_bullet_line_share": share(c["bullet"], c["lines"]),
        "signal_ellipsis_line_share": share(c["ellipsis"], c["lines"]),
        "signal_dup_line_share": share(c["line_dup"], c["line_total"]),
        "signal_dup_line_char_share": share(c["line_dup_chars"], c["line_chars"]),
        "signal_dup_para_share": share(c["para_dup"], c["para_total"]),
        "signal_dup_para_char_share": share(c["para_dup_chars"], c["para_chars"]),
    }


@register_op
class ScoreLineStats(Scorer):
    """Add line and paragraph signals: terminal punctuation, short, bullet, ellipsis, duplicate share."""

    name: ClassVar[str] = "score_line_stats"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = (
        "shares of non-empty lines ending in terminal punctuation (incl. 。！？…), short, bullet, ellipsis; "
        "duplicate line/paragraph shares by count and by characters (Gopher)"
    )

    short_line_width: int = Field(
        30, ge=1, description="a line narrower than this many display columns is short (CJK characters count 2)"
    )

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        for name, col in line_stat_columns(live.column("text"), self.short_line_width).items():
            live = set_column(live, name, col)
        return live


# ---------------------------------------------------------------------------------------------
# N-gram repetition (Gopher), over characters for CJK and words for spaced scripts


def word_units(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (word ids, word lengths, doc index) of lower-cased, punctuation-stripped words."""
    pieces, docs = split_words(text)
    words = pc.replace_substring_regex(pc.utf8_lower(pieces), pattern=r"\p{P}+", replacement="")
    lengths = _np(pc.utf8_length(words)).astype(np.int64)
    keep = lengths > 0
    words = words.filter(pa.array(keep))
    ids = _np(pc.dictionary_encode(words).indices).astype(np.uint64)
    return ids, lengths[keep], docs[keep]


def char_units(text: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (code points, per-row offsets into them) of every non-space, non-punctuation character of text[rows]."""
    from quality._signal_kernels import kept_codepoints

    offsets, data = _utf8_buffers(text)
    return kept_codepoints(offsets, data, rows.astype(np.int64), char_class_table(), CLASS_BITS["ngram_strip"])


def doc_offsets(docs: np.ndarray, n_docs: int) -> np.ndarray:
    """Return offsets[d]..offsets[d+1] = the positions of document d in a doc-index array sorted by document."""
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(np.bincount(docs, minlength=n_docs), out=offsets[1:])
    return offsets


def ngram_repetition(units: np.ndarray, weights: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Return Gopher repetition numerators per doc (and ``_total``) from units, document d owning units[offsets[d]:offsets[d+1]].

    top_{n}gram: characters in the most frequent n-gram (only if it occurs at least twice; ties:
    first seen); dup_{n}gram: characters covered by repeated occurrences of n-grams (every
    occurrence after the first). N-grams are keyed by a salted splitmix64 chain (transforms.hashing).
    """
    from quality._signal_kernels import ngram_repetition_kernel

    top, dup, total = ngram_repetition_kernel(
        np.ascontiguousarray(units, dtype=np.uint64), np.ascontiguousarray(weights, dtype=np.int64), offsets,
        np.array(TOP_NGRAM_NS, dtype=np.int64), np.array(DUP_NGRAM_NS, dtype=np.int64),
    )
    out = {f"top_{k}gram": top[:, j] for j, k in enumerate(TOP_NGRAM_NS)}
    out |= {f"dup_{k}gram": dup[:, j] for j, k in enumerate(DUP_NGRAM_NS)}
    return out | {"_total": total}


def repetition_of_rows(text: pa.Array, rows: np.ndarray, by_char: bool) -> dict[str, np.ndarray]:
    """Return `ngram_repetition` of text[rows] over characters (`by_char`) or words."""
    if by_char:
        units, offsets = char_units(text, rows)
        return ngram_repetition(units, np.ones(units.size, dtype=np.int64), offsets)
    units, weights, docs = word_units(text.take(pa.array(rows)))
    return ngram_repetition(units, weights, doc_offsets(docs, rows.size))


RepetitionMeasure = Callable[[pa.Array, np.ndarray, bool], dict[str, np.ndarray]]


def repetition_columns(
    text: pa.Array, unit: Literal["auto", "char", "word"], cjk_unit_share: float, measure: RepetitionMeasure = repetition_of_rows,
    chunk_bytes: int | None = None,
) -> dict[str, pa.Array]:
    """Return the Gopher n-gram repetition signals and the unit (char/word) each document used (`text_chunks` at a time).

    `measure` computes the numerators of the chosen rows of one chunk (tests pass the numpy reference).
    """
    n = len(text)
    use_char = np.full(n, unit == "char")
    names = [f"top_{k}gram" for k in TOP_NGRAM_NS] + [f"dup_{k}gram" for k in DUP_NGRAM_NS]
    num = {k: np.zeros(n) for k in names}
    den = np.zeros(n)
    for first, piece in text_chunks(text, chunk_bytes):
        piece_char = use_char[first : first + len(piece)]
        if unit == "auto":
            piece_char[:] = cjk_dominant(piece, cjk_unit_share)
        for is_char in (True, False):
            rows = np.nonzero(piece_char == is_char)[0]
            if rows.size == 0:
                continue
            res = measure(piece, rows, is_char)
            den[first + rows] = res["_total"]
            for k in names:
                num[k][first + rows] = res[k]
    cols = {f"signal_{k}_share": share(num[k], den) for k in names}
    cols["signal_ngram_unit"] = pa.array(np.where(use_char, "char", "word"), pa.string())
    return cols


@register_op
class ScoreRepetition(Scorer):
    """Add Gopher n-gram repetition signals (characters for CJK text, words for spaced scripts)."""

    name: ClassVar[str] = "score_repetition"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = (
        "signal_top_{2,3,4}gram_share and signal_dup_{5..10}gram_share; n-grams of characters for "
        "Han/kana-dominant text, of words otherwise (whitespace and punctuation ignored)"
    )

    unit: Literal["auto", "char", "word"] = Field("auto", description="n-gram unit; auto = char for Han/kana-dominant docs")
    cjk_unit_share: float = Field(0.3, ge=0, le=1, description="Han+kana share from which auto picks characters")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        cols = repetition_columns(live.column("text"), self.unit, self.cjk_unit_share)
        for name, col in cols.items():
            live = set_column(live, name, col)
        stats.add("unit:char", int(pc.sum(pc.equal(cols["signal_ngram_unit"], "char")).as_py() or 0))
        return live


# ---------------------------------------------------------------------------------------------
# Stop words


def normalize_lang(lang: str | None) -> str | None:
    """Map a BCP-47-ish tag (zh-Hant, yue, en-GB, cmn...) to a shipped stop-word list name."""
    if not lang:
        return None
    primary = lang.replace("_", "-").split("-")[0].lower()
    primary = LANG_ALIASES.get(primary, primary)
    return primary if primary in STOPWORDS else None


def _alternation(words: tuple[str, ...]) -> str:
    """Return an RE2 alternation matching the longest stop word first."""
    import re

    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


def stopword_columns(text: pa.Array, langs: list[str | None]) -> dict[str, pa.Array]:
    """Return stop-word count and share per document, using each row's language (null if no list)."""
    n = len(text)
    count = np.zeros(n, dtype=np.int64)
    share_num = np.zeros(n)
    share_den = np.zeros(n)
    known = np.zeros(n, dtype=bool)
    codes = np.array([normalize_lang(x) or "" for x in langs], dtype=object)
    for lang in sorted(set(codes) - {""}):
        rows = np.nonzero(codes == lang)[0]
        sub = text.take(pa.array(rows))
        words = STOPWORDS[lang]
        known[rows] = True
        if lang in SUBSTRING_STOPWORD_LANGS:
            # Count matches and the characters they cover, over non-space characters.
            pattern = _alternation(words)
            c = _count(sub, pattern)
            stripped = pc.replace_substring_regex(sub, pattern=pattern, replacement="")
            covered = _np(pc.utf8_length(sub)) - _np(pc.utf8_length(stripped))
            count[rows] = c
            share_num[rows] = covered
            share_den[rows] = _np(count_text_chars(sub))
        else:
            pieces, parents = split_words(sub)
            flat = pc.replace_substring_regex(pc.utf8_lower(pieces), pattern=r"^\p{P}+|\p{P}+$", replacement="")
            hit = _np(pc.is_in(flat, value_set=pa.array(words))).astype(bool)
            count[rows] = np.bincount(parents[hit], minlength=rows.size)
            share_num[rows] = count[rows]
            share_den[rows] = np.bincount(parents, minlength=rows.size)
    return {
        "signal_stopwords": pa.array(count, pa.int64(), mask=~known),
        "signal_stopword_share": share(share_num, np.where(known, share_den, 0)),
    }


@register_op
class ScoreStopwords(Scorer):
    """Add stop-word count and share per document from the row's `lang` and the shipped lists."""

    name: ClassVar[str] = "score_stopwords"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = (
        "signal_stopwords (occurrences) and signal_stopword_share (words, or characters for zh/yue/ja); "
        "null when the language has no shipped list"
    )

    fallback_lang: str | None = Field(None, description="language used where the `lang` column is null or absent")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        if "lang" in live.column_names:
            langs = [x if x else self.fallback_lang for x in live.column("lang").to_pylist()]
        else:
            langs = [self.fallback_lang] * live.num_rows
        for name, col in stopword_columns(_text(live), langs).items():
            live = set_column(live, name, col)
        return live


# ---------------------------------------------------------------------------------------------
# PII density


def _pii_total(value: object) -> int | None:
    """Return the total of a pii_counts cell: an int, a {type: n} dict/struct/map, or its JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dict):
        return int(sum(v for v in value.values() if isinstance(v, (int, float))))
    if isinstance(value, list):  # map<string, int> arrives as [(key, value), ...]
        return int(sum(v for _, v in value if isinstance(v, (int, float))))
    raise ValueError(f"pii_counts cell of unsupported type {type(value).__name__}")


def pii_density_column(text: pa.Array, pii_counts: pa.Array | pa.ChunkedArray | None) -> pa.Array:
    """Return PII matches per 1,000 non-space characters (null where counts are absent)."""
    n = len(text)
    if pii_counts is None:
        return pa.nulls(n, pa.float32())
    if pa.types.is_integer(pii_counts.type):
        totals = [v for v in pii_counts.to_pylist()]
    else:
        totals = [_pii_total(v) for v in pii_counts.to_pylist()]
    missing = np.array([t is None for t in totals])
    nums = np.array([t or 0 for t in totals], dtype=np.float64) * 1000.0
    den = _np(count_text_chars(text)).astype(np.float64)
    dens = share(nums, np.where(missing, 0, den))
    return pc.if_else(pa.array(~missing & (den == 0)), pa.scalar(0.0, pa.float32()), dens) if n else dens


@register_op
class ScorePiiDensity(Scorer):
    """Add PII matches per 1,000 characters from the `pii_counts` column the PII redactor writes."""

    name: ClassVar[str] = "score_pii_density"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "signal_pii_density = total of pii_counts per 1,000 non-space chars; null where pii_counts is absent"

    pii_column: str = Field("pii_counts", description="column holding per-document PII counts (int, {type: n} or JSON)")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        counts = live.column(self.pii_column) if self.pii_column in live.column_names else None
        if counts is None:
            stats.add("pii_column_absent", live.num_rows)
        return set_column(live, "signal_pii_density", pii_density_column(_text(live), counts))


# ---------------------------------------------------------------------------------------------
# C4 flags


def c4_flag_columns(text: pa.Array) -> dict[str, pa.Array]:
    """Return C4-style flags: javascript, lorem ipsum, curly braces, and policy-boilerplate line count."""
    lines, parents = _split_flat(text, r"\n")
    policy = _np(pc.match_substring_regex(lines, pattern=C4_POLICY_RE)).astype(bool)
    return {
        "signal_c4_javascript": pc.match_substring_regex(text, pattern=C4_JAVASCRIPT_RE),
        "signal_c4_lorem_ipsum": pc.match_substring_regex(text, pattern=C4_LOREM_RE),
        "signal_c4_curly_brace": pc.match_substring_regex(text, pattern=C4_CURLY_RE),
        "signal_c4_policy_lines": pa.array(np.bincount(parents[policy], minlength=len(text)), pa.int64()),
    }


@register_op
class ScoreC4Flags(Scorer):
    """Add C4 page flags (javascript, lorem ipsum, curly braces) and the policy-boilerplate line count."""

    name: ClassVar[str] = "score_c4_flags"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "signal_c4_{javascript,lorem_ipsum,curly_brace} flags and signal_c4_policy_lines (EN + ZH policy phrases)"

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        for name, col in c4_flag_columns(_text(live)).items():
            live = set_column(live, name, col)
        return live


ALL_SIGNAL_OPS: tuple[type[Scorer], ...] = (
    ScoreTextStats,
    ScoreLineStats,
    ScoreRepetition,
    ScoreStopwords,
    ScorePiiDensity,
    ScoreC4Flags,
)


def score_all_signals(batch: pa.Table, fallback_lang: str | None = None) -> pa.Table:
    """Return `batch` with every signal column added using default parameters (tools and tests)."""
    stats = OpStats()
    for cls in ALL_SIGNAL_OPS:
        op = cls(fallback_lang=fallback_lang) if cls is ScoreStopwords else cls()
        batch = op.apply(batch, stats)
    return batch

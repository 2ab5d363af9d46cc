"""Naive per-document pure-Python versions of the quality signals: the oracle tests compare the
vectorised ``quality.signals`` against, and the baseline ``bench/bench_quality.py`` measures.

Written the way datatrove/Gopher filters are usually written (loops, Counter over n-gram tuples,
``str`` methods and ``re``), one document at a time. Definitions match ``quality.signals``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import ftfy.badness

from quality.signals import (
    BULLET_RE,
    ELLIPSIS_RE,
    C4_POLICY_RE,
    DUP_NGRAM_NS,
    STOPWORDS,
    SUBSTRING_STOPWORD_LANGS,
    TERMINAL_PUNCT_RE,
    TOP_NGRAM_NS,
    UNSPACED_CHARS_PER_WORD,
    normalize_lang,
)

_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# the scripts written without spaces between words, by Unicode block (quality.signals: by RE2 script)
_UNSPACED = {
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "lo": re.compile(r"[\u0e80-\u0eff]"),
    "km": re.compile(r"[\u1780-\u17ff\u19e0-\u19ff]"),
    "my": re.compile(r"[\u1000-\u109f\ua9e0-\ua9ff\uaa60-\uaa7f]"),
    "bo": re.compile(r"[\u0f00-\u0fff]"),
}
_TERMINAL = re.compile(TERMINAL_PUNCT_RE)
_BULLET = re.compile(BULLET_RE)
_ELLIPSIS = re.compile(ELLIPSIS_RE)
_GARBLED = re.compile(r"锟斤拷|烫烫烫|屯屯屯")
_POLICY = re.compile(C4_POLICY_RE.replace("(?i)", ""), re.IGNORECASE)


def _share(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def reference_signals(
    text: str, lang: str | None = None, cjk_unit_share: float = 0.3, short_line_width: int = 30, unspaced_share: float = 0.3
) -> dict:
    """Return the main signals for one document, computed naively."""
    nonspace = sum(1 for ch in text if not ch.isspace())
    hk = len(_HAN_KANA.findall(text))
    is_char = nonspace > 0 and hk / nonspace >= cjk_unit_share
    unspaced = {code: len(rx.findall(text)) for code, rx in _UNSPACED.items()}
    n_unspaced = sum(unspaced.values())
    words: int | None = None if is_char else len(text.split())
    if not is_char and nonspace > 0 and n_unspaced / nonspace >= unspaced_share:
        # words estimated from characters: the script's characters per word, weighted by its share
        words = round(nonspace * sum(c / UNSPACED_CHARS_PER_WORD[code] for code, c in unspaced.items()) / n_unspaced)
    lines = [ln for ln in (ln.strip() for ln in text.split("\n")) if ln]
    dup_lines = _repeats(lines)
    paras = [p for p in (p.strip() for p in re.split(r"\n[ \t\u3000]*\n\s*", text)) if p]
    dup_paras = _repeats(paras)
    cats = [unicodedata.category(ch) for ch in text]
    symbols = sum(1 for ch, c in zip(text, cats) if c[0] == "S" or ch == "#")
    digits = sum(1 for c in cats if c == "Nd")
    replacement = text.count("\ufffd")
    garbled = sum(1 for c in cats if c == "Co") + len(_GARBLED.findall(text))
    mojibake = ftfy.badness.badness(text)
    out = {
        "signal_chars": nonspace,
        "signal_symbol_share": _share(symbols, nonspace),
        "signal_digit_share": _share(digits, nonspace),
        "signal_replacement_chars": replacement,
        "signal_garbled_share": _share(replacement + garbled + mojibake, nonspace),
        "signal_short_line_share": _share(sum(_width(ln) < short_line_width for ln in lines), len(lines)),
        "signal_bullet_line_share": _share(sum(bool(_BULLET.search(ln)) for ln in lines), len(lines)),
        "signal_ellipsis_line_share": _share(sum(bool(_ELLIPSIS.search(ln)) for ln in lines), len(lines)),
        "signal_dup_para_share": _share(dup_paras, len(paras)),
        "signal_c4_javascript": "javascript" in text.lower(),
        "signal_words": words,
        "signal_lines": len(lines),
        "signal_punct_end_line_share": _share(sum(bool(_TERMINAL.search(ln)) for ln in lines), len(lines)),
        "signal_dup_line_share": _share(dup_lines, len(lines)),
        "signal_mojibake": mojibake,
        "signal_c4_policy_lines": sum(bool(_POLICY.search(ln)) for ln in lines),
        "signal_c4_lorem_ipsum": "lorem ipsum" in text.lower(),
        "signal_c4_curly_brace": "{" in text or "}" in text,
    }
    units, weights = _units(text, is_char)
    total = sum(weights)
    for n in TOP_NGRAM_NS:
        grams = Counter(tuple(units[i : i + n]) for i in range(len(units) - n + 1))
        best = 0
        if grams:
            gram, count = grams.most_common(1)[0]
            if count >= 2:
                best = count * sum(len(u) for u in gram)
        out[f"signal_top_{n}gram_share"] = _share(best, total)
    for n in DUP_NGRAM_NS:
        seen_g: set[tuple[str, ...]] = set()
        covered = [False] * len(units)
        for i in range(len(units) - n + 1):
            gram = tuple(units[i : i + n])
            if gram in seen_g:
                for j in range(i, i + n):
                    covered[j] = True
            seen_g.add(gram)
        out[f"signal_dup_{n}gram_share"] = _share(sum(w for w, c in zip(weights, covered) if c), total)
    code = normalize_lang(lang)
    if code is None:
        out["signal_stopwords"] = None
    elif code in SUBSTRING_STOPWORD_LANGS:
        pattern = re.compile("|".join(re.escape(w) for w in sorted(STOPWORDS[code], key=len, reverse=True)))
        out["signal_stopwords"] = len(pattern.findall(text))
    else:
        words = {w for w in STOPWORDS[code]}
        out["signal_stopwords"] = sum(w.lower().strip(".,;:!?\"'()[]") in words for w in text.split())
    return out


def _repeats(pieces: list[str]) -> int:
    """Return how many pieces equal an earlier piece."""
    seen: set[str] = set()
    count = 0
    for piece in pieces:
        count += piece in seen
        seen.add(piece)
    return count


def _units(text: str, is_char: bool) -> tuple[list[str], list[int]]:
    """Return n-gram units (characters for CJK, normalised words otherwise) and their lengths."""
    if is_char:
        chars = [ch for ch in text if not _is_space_or_punct(ch)]
        return chars, [1] * len(chars)
    words = [w for w in ("".join(ch for ch in w.lower() if not _is_space_or_punct(ch)) for w in text.split()) if w]
    return words, [len(w) for w in words]


def _is_space_or_punct(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PZ"


def _width(line: str) -> int:
    """Display columns: East Asian wide/full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)

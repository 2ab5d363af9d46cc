"""The pyarrow/numpy versions of the compiled signal kernels: what tests and bench/bench_signals_speed.py
compare ``quality.signals`` against, bit for bit.

These were the production path before the numba kernels (quality._signal_kernels) replaced them;
they are kept here, next to the tests, as an independent second implementation: regex passes for
the character classes, a regex line split, pandas hash tables over the whole batch for repeated
lines and n-grams. The column assembly (shares, nulls) is the production code's own
(`text_stats_from_counts`, `line_stats_from_pieces`, `repetition_columns(measure=...)`), so a
difference can only come from the primitives compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quality.signals import (
    CJK_RE,
    DIGIT_RE,
    DUP_NGRAM_NS,
    GARBLED_RE,
    HAN_KANA_RE,
    MOJIBAKE_TRIGGER_RE,
    NGRAM_STRIP_RE,
    PARAGRAPH_SPLIT_RE,
    REPLACEMENT_RE,
    SYMBOL_RE,
    TOP_NGRAM_NS,
    UNSPACED_SCRIPT_RES,
    WIDE_RE,
    LinePieces,
    _np,
    _per_doc_sum,
    _split_flat,
    count_text_chars,
    line_stats_from_pieces,
    repetition_columns,
    split_words,
    text_stats_from_counts,
    word_units,
)
from transforms.hashing import splitmix64


def _count(text: pa.Array, pattern: str) -> np.ndarray:
    """Return the number of non-overlapping regex matches per text."""
    return _np(pc.count_substring_regex(text, pattern=pattern)).astype(np.int64)


def char_class_counts_reference(text: pa.Array) -> dict[str, np.ndarray]:
    """Return per-document character-class counts, one pyarrow regex pass per class."""
    n = len(text)
    pieces, parents = split_words(text)
    nonempty = _np(pc.utf8_length(pieces)) > 0
    return {
        "nonspace": _np(count_text_chars(text)).astype(np.int64),
        "words": np.bincount(parents[nonempty], minlength=n).astype(np.int64),
        "han_kana": _count(text, HAN_KANA_RE),
        "cjk": _count(text, CJK_RE),
        "symbol": _count(text, SYMBOL_RE),
        "digit": _count(text, DIGIT_RE),
        "replacement": _count(text, REPLACEMENT_RE),
        "garbled": _count(text, GARBLED_RE),
        "mojibake_suspect": _np(pc.match_substring_regex(text, pattern=MOJIBAKE_TRIGGER_RE)).astype(bool),
        "unspaced": np.stack([_count(text, p) for p in UNSPACED_SCRIPT_RES.values()], axis=1).reshape(n, len(UNSPACED_SCRIPT_RES)),
    }


def text_stat_columns_reference(text: pa.Array, cjk_unit_share: float, unspaced_share: float = 0.3) -> dict[str, pa.Array]:
    """Return `text_stat_columns` computed from the regex character-class counts."""
    return text_stats_from_counts(text, char_class_counts_reference(text), cjk_unit_share, unspaced_share)


def repeat_mask(keys: np.ndarray) -> np.ndarray:
    """Return True for each element whose key already occurred earlier in the array."""
    if keys.size == 0:
        return np.zeros(0, dtype=bool)
    return pd.Series(keys, copy=False).duplicated(keep="first").to_numpy()


def repeated_piece_mask_reference(pieces: pa.Array, parents: np.ndarray) -> np.ndarray:
    """Return True for each non-empty piece equal to an earlier piece of its document (dictionary codes)."""
    codes = _np(pc.dictionary_encode(pieces).indices).astype(np.uint64)
    rep = repeat_mask((parents.astype(np.uint64) << np.uint64(32)) | codes)
    return rep & (_np(pc.utf8_length(pieces)) > 0)


def line_pieces_reference(text: pa.Array) -> LinePieces:
    """Return `line_pieces` from a regex line split, regex wide-character counts and dictionary-coded repeats."""
    lines, parents = _split_flat(text, r"\n")
    chars = _np(pc.utf8_length(lines))
    width = chars + _np(pc.count_substring_regex(lines, pattern=WIDE_RE))
    paras, p_parents = _split_flat(text, PARAGRAPH_SPLIT_RE)
    return LinePieces(lines, parents, chars, width, repeated_piece_mask_reference(lines, parents), paras, p_parents,
                      repeated_piece_mask_reference(paras, p_parents))


def line_stat_columns_reference(text: pa.Array, short_line_width: int) -> dict[str, pa.Array]:
    """Return `line_stat_columns` computed from the reference line pieces."""
    return line_stats_from_pieces(line_pieces_reference(text), len(text), short_line_width)


def char_units_reference(text: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (code points, weights=1, doc index) of every non-space, non-punctuation character."""
    stripped = pc.replace_substring_regex(text, pattern=NGRAM_STRIP_RE, replacement="")
    lengths = _np(pc.utf8_length(stripped)).astype(np.int64)
    joined = "".join(stripped.to_pylist())
    units = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    docs = np.repeat(np.arange(len(text), dtype=np.int64), lengths)
    return units, np.ones(units.size, dtype=np.int64), docs


def _occurrences(keys: np.ndarray) -> np.ndarray:
    """Return, for each element, how many times its key occurs in the array."""
    codes, _ = pd.factorize(keys)
    return np.bincount(codes)[codes]


def _top_ngram_chars(keys: np.ndarray, pos: np.ndarray, docs: np.ndarray, cum_w: np.ndarray, n: int, n_docs: int) -> np.ndarray:
    """Per doc: count x characters of the most frequent n-gram (ties: first seen), 0 unless it repeats."""
    top = np.zeros(n_docs)
    if pos.size == 0:
        return top
    occ = _occurrences(keys)
    best = np.zeros(n_docs, dtype=np.int64)
    np.maximum.at(best, docs[pos], occ)
    cand = np.nonzero((occ == best[docs[pos]]) & (occ >= 2))[0]  # ascending, so first seen comes first
    cand_docs, first = np.unique(docs[pos[cand]], return_index=True)
    chosen = pos[cand[first]]
    top[cand_docs] = occ[cand[first]] * (cum_w[chosen + n] - cum_w[chosen])
    return top


def ngram_repetition_reference(units: np.ndarray, weights: np.ndarray, docs: np.ndarray, n_docs: int) -> dict[str, np.ndarray]:
    """Return what `quality.signals.ngram_repetition` returns, from flattened units (docs contiguous, in order),
    with pandas hash tables over the whole batch instead of a per-document table."""
    total = _per_doc_sum(docs, weights, n_docs)
    out: dict[str, np.ndarray] = {}
    cum_w = np.concatenate([[0], np.cumsum(weights)])
    doc_salt = splitmix64(docs.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    base = splitmix64(units)
    h = base.copy()
    for n in range(1, max(DUP_NGRAM_NS) + 1):
        if n > 1:
            h = h[:0] if h.size < 2 else splitmix64(h[:-1] * np.uint64(0x100000001B3) + base[n - 1 :])
        m = h.size
        if n not in TOP_NGRAM_NS and n not in DUP_NGRAM_NS:
            continue
        valid = docs[:m] == docs[n - 1 : n - 1 + m] if m else np.zeros(0, dtype=bool)
        pos = np.nonzero(valid)[0]
        keys = h[pos] ^ doc_salt[pos]
        if n in TOP_NGRAM_NS:
            out[f"top_{n}gram"] = _top_ngram_chars(keys, pos, docs, cum_w, n, n_docs)
        if n in DUP_NGRAM_NS:
            covered_w = np.zeros(n_docs)
            if pos.size:
                starts = pos[repeat_mask(keys)]
                diff = np.bincount(starts, minlength=units.size + 1) - np.bincount(starts + n, minlength=units.size + 1)
                covered = np.cumsum(diff)[: units.size] > 0
                covered_w = _per_doc_sum(docs[covered], weights[covered], n_docs)
            out[f"dup_{n}gram"] = covered_w
    return out | {"_total": total}


def repetition_of_rows_reference(text: pa.Array, rows: np.ndarray, by_char: bool) -> dict[str, np.ndarray]:
    """Return `repetition_of_rows` from the regex character units and the numpy n-gram counts."""
    sub = text.take(pa.array(rows))
    units, weights, docs = char_units_reference(sub) if by_char else word_units(sub)
    return ngram_repetition_reference(units, weights, docs, rows.size)


def repetition_columns_reference(text: pa.Array, unit: str, cjk_unit_share: float) -> dict[str, pa.Array]:
    """Return `repetition_columns` with the numpy reference measuring every row."""
    return repetition_columns(text, unit, cjk_unit_share, measure=repetition_of_rows_reference)

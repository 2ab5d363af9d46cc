"""The numpy versions of near dedup's compiled kernels: what tests and bench/bench_dedup_speed.py
compare `transforms.dedup` against, bit for bit.

They were the production path before the numba kernels (transforms._dedup_kernels) replaced them
and stay here, next to the tests, as an independent second implementation: normalisation by
numpy gathers, phrase folding by one regex, shingles by prefix-sum polynomial hashes over the
whole batch, OPH bins by ``np.minimum.at`` and densification by vectorised attempts.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from transforms import dedup as d
from transforms.hashing import CP_BASE, TOK_BASE, fmix64

_U64 = np.uint64


def _range_hash(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray, base: int) -> np.ndarray:
    """Return a polynomial hash of values[s:s+l] for every (s, l), via prefix sums mod 2^64."""
    pw, inv = d._powers(base, len(values))
    prefix = np.zeros(len(values) + 1, _U64)
    np.cumsum(values * pw[:-1], dtype=_U64, out=prefix[1:])
    return (prefix[starts + lengths] - prefix[starts]) * inv[starts]


def fold_regional_vocabulary(simplified: str) -> str:
    """Return Simplified text with each regional variant word of REGIONAL_FOLDS replaced by its one key (one regex)."""
    pattern = re.compile("|".join(map(re.escape, sorted(d.REGIONAL_FOLDS, key=len, reverse=True))))
    return pattern.sub(lambda m: d.REGIONAL_FOLDS[m.group(0)], simplified)


def fold_codepoints_reference(cps: np.ndarray, n_docs: int) -> np.ndarray:
    """Return `d.fold_codepoints` with the phrase table applied by the regex."""
    folded = fold_regional_vocabulary(d.simplify_traditional_codepoints(cps, n_docs).tobytes().decode("utf-32-le", "surrogatepass"))
    return np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), np.uint32)


def convert_script_reference(cps: np.ndarray, script: d.ScriptConversion) -> np.ndarray:
    """Return `d.convert_script_codepoints` with "fold" by the regex reference."""
    if script == "fold":
        return fold_codepoints_reference(cps, int(np.count_nonzero(cps == ord(d._DOC_SEP))) + 1)
    return d.convert_script_codepoints(cps, script)


def normalized_codepoints_reference(texts: list[str], script: d.ScriptConversion) -> np.ndarray:
    """Return `d.normalized_codepoints` by numpy table gathers and a string path for the documents that need it."""
    fold, slow = d._fold_tables()
    texts = [t.replace(d._DOC_SEP, " ") for t in texts]
    cps = np.frombuffer(d._DOC_SEP.join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    if slow[cps].any():  # redo only the documents that need full string normalisation
        doc_of_cp = np.cumsum(cps == ord(d._DOC_SEP))
        for i in np.unique(doc_of_cp[slow[cps]]).tolist():
            texts[i] = unicodedata.normalize("NFKC", texts[i]).casefold()
        cps = np.frombuffer(d._DOC_SEP.join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    return convert_script_reference(fold[cps], script)


def shingle_hashes_reference(
    texts: list[str], char_ngram: int, word_ngram: int, script: d.ScriptConversion = "none", cjk_share: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return `d.shingle_hashes` of all texts at once (no chunks), by prefix-sum polynomial hashes."""
    n_docs = len(texts)
    if n_docs == 0:
        return np.zeros(0, _U64), np.zeros(1, np.int64), np.zeros(0, bool)
    cps = normalized_codepoints_reference(texts, script)
    cls = d.codepoint_classes()[cps]
    doc_of_cp = np.cumsum(cls == d._DOCB, dtype=np.int64)
    is_tok = (cls == d._WORD) | (cls == d._CJK)
    prev = np.concatenate(([d._SEP], cls[:-1]))
    starts_mask = is_tok & ((cls == d._CJK) | (prev != d._WORD))
    tok_start = np.flatnonzero(starts_mask)
    # A token ends where the next token starts or at the first non-token codepoint after it.
    tok_id = np.cumsum(starts_mask) - 1
    tok_len = np.bincount(tok_id[is_tok], minlength=len(tok_start)).astype(np.int64)
    cp_vals = (cps.astype(_U64) + _U64(1)) * _U64(0x100000001B3)
    tok_hash = fmix64(_range_hash(cp_vals, tok_start, tok_len, CP_BASE))
    tok_doc = doc_of_cp[tok_start]
    tok_cjk = cls[tok_start] == d._CJK
    n_tok = np.bincount(tok_doc, minlength=n_docs).astype(np.int64)
    n_cjk = np.bincount(tok_doc, weights=tok_cjk, minlength=n_docs)
    is_cjk_doc = (n_cjk >= cjk_share * np.maximum(n_tok, 1)) & (n_tok > 0)
    n = np.where(is_cjk_doc, char_ngram, word_ngram).astype(np.int64)
    per_doc = np.where(n_tok >= n, n_tok - n + 1, (n_tok > 0).astype(np.int64))
    width = np.minimum(n, n_tok)
    tok_off = np.concatenate(([0], np.cumsum(n_tok)))
    sh_off = np.concatenate(([0], np.cumsum(per_doc)))
    sh_doc = np.repeat(np.arange(n_docs), per_doc)
    sh_start = tok_off[sh_doc] + (np.arange(sh_off[-1]) - sh_off[sh_doc])
    sh_len = width[sh_doc]
    hashes = fmix64(_range_hash(tok_hash, sh_start, sh_len, TOK_BASE) ^ sh_len.astype(_U64))
    return hashes, sh_off, is_cjk_doc


def densify_reference(sig: np.ndarray, seed: int) -> np.ndarray:
    """Fill empty OPH bins from filled ones of the same document (rows with no shingle stay empty)."""
    empty = sig == d._EMPTY
    rows = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if len(rows) == 0:
        return sig
    num_perm = sig.shape[1]
    attempts = 8 * num_perm
    cand = d._densify_candidates(num_perm, seed, attempts)
    orig = sig[rows]
    orig_empty = empty[rows]
    out = orig.copy()
    r, c = np.nonzero(orig_empty)
    for a in range(attempts):
        if len(r) == 0:
            break
        src = cand[a, c]
        ok = ~orig_empty[r, src]
        out[r[ok], c[ok]] = orig[r[ok], src[ok]]
        r, c = r[~ok], c[~ok]
    if len(r):  # astronomically rare: fall back to the row minimum, still deterministic
        out[r, c] = np.where(orig_empty, d._EMPTY, orig).min(axis=1)[r]
    sig = sig.copy()
    sig[rows] = out
    return sig


def oph_signatures_reference(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """Return `d.oph_signatures` by ``np.minimum.at`` over every shingle and vectorised densification."""
    n_docs = len(offsets) - 1
    h = fmix64(hashes ^ d._oph_seed_mix(seed))
    bins = ((h >> _U64(32)) % _U64(num_perm)).astype(np.int64)
    vals = np.minimum((h & d._MASK32).astype(np.uint32), d._EMPTY - np.uint32(1))
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(offsets))
    sig = np.full(n_docs * num_perm, d._EMPTY, np.uint32)
    np.minimum.at(sig, doc * num_perm + bins, vals)
    return densify_reference(sig.reshape(n_docs, num_perm), seed)


def shingle_samples_reference(hashes: np.ndarray, offsets: np.ndarray, sample: int | None) -> list[set[int]]:
    """Return per document the set of its `sample` smallest distinct 32-bit shingle hashes (top halves; None: all), by Python sets."""
    out = []
    for i in range(len(offsets) - 1):
        values = sorted({int(h) >> 32 for h in hashes[offsets[i] : offsets[i + 1]].tolist()})
        out.append(set(values if sample is None else values[:sample]))
    return out


def set_jaccard(a: set, b: set) -> float:
    """Return |a & b| / |a | b| of two Python sets (1.0 when both are empty)."""
    return len(a & b) / len(a | b) if a or b else 1.0


def bottom_k_jaccard(a: set, b: set, k: int) -> float:
    """Return the bottom-k Jaccard estimate of two sets from their k smallest values (Broder): plain Python, no arrays."""
    union = sorted(set(sorted(a)[:k]) | set(sorted(b)[:k]))[:k]
    return sum(1 for x in union if x in a and x in b) / len(union) if union else 1.0

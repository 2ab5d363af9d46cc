"""Compiled (numba) kernels for near-dup shingling and OPH signatures: the production path of `transforms.dedup`.

Every kernel returns exactly what its numpy reference (tests/transforms/dedup_reference.py) returns
(tests compare them bit for bit): the
hashes are the same ring arithmetic modulo 2^64, only evaluated in one pass instead of through
prefix sums, gathers and ``np.minimum.at``. Imported lazily by `transforms.dedup`, so a process
that never signs documents does not pay numba's import.
"""

from __future__ import annotations

import numba
import numpy as np

from transforms.hashing import FMIX64_M1, FMIX64_M2, FNV_PRIME64

# Constants are module globals so numba freezes them into the machine code (uint64-typed: mixing
# uint64 with int64 literals would make numba compute in float64).
_ONE = np.uint64(1)
_S32 = np.uint64(32)
_S33 = np.uint64(33)
_M1 = np.uint64(FMIX64_M1)
_M2 = np.uint64(FMIX64_M2)
_MASK32 = np.uint64(0xFFFFFFFF)
_CAP = np.uint64(0xFFFFFFFE)  # real OPH values are capped one below the empty marker
_EMPTY = np.uint32(0xFFFFFFFF)
_CP_MUL = np.uint64(FNV_PRIME64)
_SEP, _WORD, _CJK, _DOCB = 0, 1, 2, 3  # codepoint classes, as in transforms.dedup
_DOC_SEP = 0xE000  # joins documents, as in transforms.dedup


@numba.njit(cache=True, nogil=True, inline="always")
def _fmix64(h: np.uint64) -> np.uint64:
    """MurmurHash3 64-bit finaliser of one value (= transforms.hashing.fmix64)."""
    h ^= h >> _S33
    h *= _M1
    h ^= h >> _S33
    h *= _M2
    return h ^ (h >> _S33)


@numba.njit(cache=True, nogil=True)
def shingle_codepoints(
    cps: np.ndarray, classes: np.ndarray, n_docs: int, char_ngram: int, word_ngram: int, cjk_share: float,
    cp_base: np.uint64, tok_base: np.uint64, tok_base_inv: np.uint64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (shingle hashes, offsets, is-CJK flags) of U+E000-joined normalised codepoints (= tests/transforms/dedup_reference.shingle_hashes_reference)."""
    n = cps.shape[0]
    tok_hash = np.empty(n, np.uint64)
    n_tok = np.zeros(n_docs, np.int64)
    n_cjk = np.zeros(n_docs, np.int64)
    doc, k, pos = 0, 0, 0
    # Pass 1: token hashes. A CJK codepoint is a token of its own; a word token is a maximal run
    # of word codepoints; anything else separates.
    while pos < n:
        c = classes[cps[pos]]
        if c == _DOCB:
            doc += 1
            pos += 1
            if doc >= n_docs:  # unchecked indexing below would write out of bounds
                raise ValueError("more document separators than documents")
            continue
        if c == _SEP:
            pos += 1
            continue
        h = (np.uint64(cps[pos]) + _ONE) * _CP_MUL
        pos += 1
        n_tok[doc] += 1
        if c == _CJK:
            n_cjk[doc] += 1
        else:
            p = cp_base
            while pos < n and classes[cps[pos]] == _WORD:
                h += (np.uint64(cps[pos]) + _ONE) * _CP_MUL * p
                p *= cp_base
                pos += 1
        tok_hash[k] = _fmix64(h)
        k += 1
    # Pass 2: per-document n, then shingles of `width` consecutive token hashes by a rolling
    # polynomial hash (the same value as summing tok_hash[s + j] * tok_base^j afresh).
    offsets = np.zeros(n_docs + 1, np.int64)
    is_cjk = np.zeros(n_docs, np.bool_)
    width = np.zeros(n_docs, np.int64)
    for d in range(n_docs):
        t = n_tok[d]
        cjk_doc = t > 0 and float(n_cjk[d]) >= cjk_share * float(max(t, 1))
        is_cjk[d] = cjk_doc
        g = char_ngram if cjk_doc else word_ngram
        width[d] = min(g, t)
        per_doc = t - g + 1 if t >= g else (1 if t > 0 else 0)
        offsets[d + 1] = offsets[d] + per_doc
    hashes = np.empty(offsets[n_docs], np.uint64)
    t0 = 0
    for d in range(n_docs):
        w = width[d]
        o = offsets[d]
        m = offsets[d + 1] - o
        if m > 0:
            top = _ONE  # tok_base^(w-1)
            acc = np.uint64(0)
            p = _ONE
            for j in range(w):
                acc += tok_hash[t0 + j] * p
                top = p
                p *= tok_base
            wu = np.uint64(w)
            hashes[o] = _fmix64(acc ^ wu)
            for s in range(1, m):
                acc = (acc - tok_hash[t0 + s - 1]) * tok_base_inv + tok_hash[t0 + s + w - 1] * top
                hashes[o + s] = _fmix64(acc ^ wu)
        t0 += n_tok[d]
    return hashes, offsets, is_cjk


_OPH_BLOCK = 2048  # shingles hashed per step; the buffers stay in L1


@numba.njit(cache=True, nogil=True)
def oph_bins(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed_mix: np.uint64) -> np.ndarray:
    """Return undensified OPH signatures (docs x num_perm uint32, empty bins = 0xFFFFFFFF) (= the numpy min-per-bin)."""
    n_docs = offsets.shape[0] - 1
    sig = np.full((n_docs, num_perm), _EMPTY, np.uint32)
    mask = np.uint64(num_perm) - _ONE
    perm32 = np.uint32(num_perm)
    pow2 = (num_perm & (num_perm - 1)) == 0  # the usual 128: a mask instead of a division
    bins = np.empty(_OPH_BLOCK, np.uint32)
    vals = np.empty(_OPH_BLOCK, np.uint32)
    for d in range(n_docs):
        row = sig[d]
        s = offsets[d]
        e = offsets[d + 1]
        while s < e:
            m = min(_OPH_BLOCK, e - s)
            src = hashes[s : s + m]
            # Hashing apart from the scatter lets LLVM vectorise it (~0.1 ns per shingle with AVX);
            # fused, the loop ran at ~1.5 ns per shingle.
            if pow2:
                for j in range(m):
                    h = _fmix64(src[j] ^ seed_mix)
                    bins[j] = np.uint32((h >> _S32) & mask)
                    vals[j] = np.uint32(min(h & _MASK32, _CAP))
            else:
                for j in range(m):
                    h = _fmix64(src[j] ^ seed_mix)
                    bins[j] = np.uint32(h >> _S32) % perm32
                    vals[j] = np.uint32(min(h & _MASK32, _CAP))
            for j in range(m):  # branch-free min: a taken/not-taken branch here mispredicts half the time
                b = bins[j]
                row[b] = min(row[b], vals[j])
            s += m
    return sig


@numba.njit(cache=True, nogil=True)
def densify_rows(sig: np.ndarray, candidates: np.ndarray) -> None:
    """Fill empty bins in place from filled bins of the same row (= tests/transforms/dedup_reference.densify_reference)."""
    num_perm = sig.shape[1]
    attempts = candidates.shape[0]
    empty = np.empty(num_perm, np.bool_)
    for r in range(sig.shape[0]):
        row = sig[r]
        n_empty = 0
        for j in range(num_perm):
            empty[j] = row[j] == _EMPTY
            n_empty += empty[j]
        if n_empty == 0 or n_empty == num_perm:
            continue
        # Values are read only from bins filled before densification, so fill order is irrelevant.
        row_min = _EMPTY
        for j in range(num_perm):
            if not empty[j] and row[j] < row_min:
                row_min = row[j]
        for j in range(num_perm):
            if not empty[j]:
                continue
            value = row_min  # astronomically rare fallback, the reference's too
            for a in range(attempts):
                src = candidates[a, j]
                if not empty[src]:
                    value = row[src]
                    break
            row[j] = value


@numba.njit(cache=True, nogil=True)
def fold_codepoints(cps: np.ndarray, fold: np.ndarray, slow: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (fold[cps], per document: has a codepoint needing the string path) for U+E000-joined documents, in one pass."""
    out = np.empty(cps.shape[0], np.uint32)
    needs_string_path = np.zeros(n_docs, np.bool_)
    doc = 0
    for i in range(cps.shape[0]):
        c = cps[i]
        out[i] = fold[c]
        if c == _DOC_SEP:
            doc += 1
            if doc >= n_docs:  # unchecked indexing below would write out of bounds
                raise ValueError("more document separators than documents")
        elif slow[c]:
            needs_string_path[doc] = True
    return out, needs_string_path


@numba.njit(cache=True, nogil=True)
def han_counts(cps: np.ndarray, flags: np.ndarray, n_docs: int) -> np.ndarray:
    """Return per document (Simplified-only, Traditional-only, Han) character counts of U+E000-joined documents.

    `flags` holds per codepoint bit 1 = Simplified-only, 2 = Traditional-only, 4 = Han (as
    transforms.dedup._han_flags builds it).
    """
    out = np.zeros((n_docs, 3), np.int64)
    doc = 0
    for i in range(cps.shape[0]):
        c = cps[i]
        if c == _DOC_SEP:
            doc += 1
            if doc >= n_docs:  # unchecked indexing below would write out of bounds
                raise ValueError("more document separators than documents")
            continue
        f = flags[c]
        if f & 1:
            out[doc, 0] += 1
        if f & 2:
            out[doc, 1] += 1
        if f & 4:
            out[doc, 2] += 1
    return out


@numba.njit(cache=True, nogil=True)
def replace_phrases(
    cps: np.ndarray, starts_phrase: np.ndarray, max_len: int, key_hash: np.ndarray, key_cps: np.ndarray, key_len: np.ndarray,
    out_off: np.ndarray, out_cps: np.ndarray, base: np.uint64,
) -> np.ndarray:
    """Return cps with every phrase of a table replaced, leftmost first, longest first (= re.sub over an alternation sorted by length).

    Keys are found by a polynomial hash of their codepoints (`key_hash`, sorted, with `key_cps`
    rows padded to `max_len` to rule out collisions); phrase i is replaced by out_cps[out_off[i]:out_off[i+1]].
    """
    n = cps.shape[0]
    expand = 1
    for i in range(key_len.shape[0]):
        r = out_off[i + 1] - out_off[i]
        if r > expand * key_len[i]:
            expand = (r + key_len[i] - 1) // key_len[i]
    out = np.empty(n * expand, np.uint32)
    k = 0
    pos = 0
    while pos < n:
        c = cps[pos]
        if not starts_phrase[c]:
            out[k] = c
            k += 1
            pos += 1
            continue
        found = -1
        length = min(max_len, n - pos)
        while length >= 1 and found < 0:
            h = np.uint64(0)
            for j in range(length):
                h = h * base + np.uint64(cps[pos + j]) + _ONE
            lo = np.searchsorted(key_hash, h)
            while lo < key_hash.shape[0] and key_hash[lo] == h:
                if key_len[lo] == length:
                    same = True
                    for j in range(length):
                        if key_cps[lo, j] != cps[pos + j]:
                            same = False
                            break
                    if same:
                        found = lo
                        break
                lo += 1
            length -= 1
        if found < 0:
            out[k] = c
            k += 1
            pos += 1
            continue
        for j in range(out_off[found], out_off[found + 1]):
            out[k] = out_cps[j]
            k += 1
        pos += key_len[found]
    return out[:k]


@numba.njit(cache=True, nogil=True)
def star_centres(order: np.ndarray, rank: np.ndarray, indptr: np.ndarray, nbrs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Return per row the kept row it duplicates (-1: kept), deciding rows in `order` (best rank first).

    A row is removed only when it has an edge to a row already kept (a better-ranked one); it names
    the most similar such row (ties: the better rank). Edges of row u are nbrs[indptr[u]:indptr[u+1]].
    """
    dup = np.full(rank.shape[0], -1, np.int64)
    for i in range(order.shape[0]):
        u = order[i]
        best, best_score = -1, -1.0
        for e in range(indptr[u], indptr[u + 1]):
            v = nbrs[e]
            if rank[v] >= rank[u] or dup[v] != -1:
                continue
            s = scores[e]
            if s > best_score or (s == best_score and rank[v] < rank[best]):
                best, best_score = v, s
        dup[u] = best
    return dup


_NO_CAP = np.iinfo(np.int64).max  # "keep every shingle": the cap a caller passes for None


@numba.njit(cache=True, nogil=True)
def shingle_samples(hashes: np.ndarray, offsets: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (values, offsets): per document its `cap` smallest distinct 32-bit shingle hashes (the top halves), ascending.

    The verification sample of near-dup dedup: all of a document's shingles when it has at most
    `cap` distinct ones (= tests/transforms/dedup_reference.shingle_samples_reference). Hashes are
    uniform, so a document with well over `cap` shingles first keeps only the values below the
    quantile where about cap + 4 sqrt(cap) of them fall and sorts those (the whole document when
    fewer than `cap` distinct values survive).
    """
    n_docs = offsets.shape[0] - 1
    out_off = np.zeros(n_docs + 1, np.int64)
    out = np.empty(hashes.shape[0], np.uint32)
    for d in range(n_docs):
        s = offsets[d]
        n = offsets[d + 1] - s
        dest = out[out_off[d]:]
        m = -1
        want = cap + 4 * int(np.sqrt(cap)) + 8  # survivors to expect: cap plus 4 standard deviations
        if cap < n // 2 and want < n - n // 4:
            below = np.uint64((1 << 32) * want // n)
            seg = np.empty(n, np.uint32)
            k = 0
            for j in range(n):
                v = hashes[s + j] >> _S32
                if v < below:
                    seg[k] = np.uint32(v)
                    k += 1
            low = np.sort(seg[:k])
            m = _distinct_prefix(low, cap, dest)
            if m < cap:  # fewer than cap distinct values below the cut: take the whole document
                m = -1
        if m < 0:
            seg = np.empty(n, np.uint32)
            for j in range(n):
                seg[j] = np.uint32(hashes[s + j] >> _S32)
            seg.sort()
            m = _distinct_prefix(seg, cap, dest)
        out_off[d + 1] = out_off[d] + m
    return out[: out_off[n_docs]].copy(), out_off


@numba.njit(cache=True, nogil=True)
def _distinct_prefix(ordered: np.ndarray, cap: int, dest: np.ndarray) -> int:
    """Write the first `cap` distinct values of an ascending array to dest; return how many."""
    m = 0
    for j in range(ordered.shape[0]):
        if m >= cap:
            break
        if j > 0 and ordered[j] == ordered[j - 1]:
            continue
        dest[m] = ordered[j]
        m += 1
    return m


@numba.njit(cache=True, nogil=True)
def sample_jaccard(values: np.ndarray, offsets: np.ndarray, pairs: np.ndarray, cap: int) -> np.ndarray:
    """Return per (i, j) pair the Jaccard of two ascending distinct-value samples, over the `cap` smallest values of their union.

    One merge walk per pair. When both documents' samples are whole (at most `cap` values) this is
    their exact Jaccard; otherwise the bottom-`cap` estimate (Broder): a value among the `cap`
    smallest of the union is in both sets exactly when it is in both samples.
    """
    out = np.empty(pairs.shape[0], np.float64)
    for t in range(pairs.shape[0]):
        i = pairs[t, 0]
        j = pairs[t, 1]
        a = offsets[i]
        ae = a + min(offsets[i + 1] - a, cap)  # min first: a + cap overflows for the no-cap value
        b = offsets[j]
        be = b + min(offsets[j + 1] - b, cap)
        union = 0
        both = 0
        while union < cap and (a < ae or b < be):
            if b >= be or (a < ae and values[a] < values[b]):
                a += 1
            elif a >= ae or values[b] < values[a]:
                b += 1
            else:
                both += 1
                a += 1
                b += 1
            union += 1
        out[t] = both / union if union > 0 else 1.0
    return out

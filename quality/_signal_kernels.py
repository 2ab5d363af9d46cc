"""Compiled (numba) kernels for the hot quality signals: the production path of `quality.signals`.

Every kernel returns exactly what its numpy reference (tests/quality/signals_numpy_reference.py) returns (tests compare them on real text and on
edge cases): the n-gram keys are the reference's own splitmix64 chain salted per document, only
counted one document at a time in a small open-addressing table instead of through pandas hash
tables over the whole batch (so the two could differ only if two keys of different documents
in one batch collided in 64 bits, which the reference would merge: odds ~ n^2 / 2^64). Duplicate
lines are compared byte for byte, and character classes come from a table built from the RE2
classes themselves, so those are exact. Imported lazily by `quality.signals`, so a process that
never scores documents does not pay numba's import.
"""

from __future__ import annotations

import numba
import numpy as np

from transforms.hashing import FNV_PRIME64, GOLDEN64, SPLITMIX64_M1, SPLITMIX64_M2

# uint64-typed module globals: numba freezes them into the machine code, and mixing uint64 with
# int64 literals would make numba compute in float64.
_S27 = np.uint64(27)
_S30 = np.uint64(30)
_S31 = np.uint64(31)
_M1 = np.uint64(SPLITMIX64_M1)
_M2 = np.uint64(SPLITMIX64_M2)
_GOLDEN = np.uint64(GOLDEN64)
_FNV = np.uint64(FNV_PRIME64)


@numba.njit(cache=True, nogil=True, inline="always")
def _mix64(x: np.uint64) -> np.uint64:
    """splitmix64 finaliser of one value (= transforms.hashing.splitmix64)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    return x ^ (x >> _S31)


@numba.njit(cache=True, nogil=True, inline="always")
def _table_slots(keys: np.ndarray, m: int, table_keys: np.ndarray, table_count: np.ndarray, mask: int, slot_of: np.ndarray) -> None:
    """Insert keys[:m] into a cleared open-addressing table, counting occurrences; slot_of[i] = key i's slot."""
    for i in range(m):
        k = keys[i]
        s = np.int64(k & np.uint64(mask))
        while table_count[s] != 0 and table_keys[s] != k:
            s = (s + 1) & mask
        if table_count[s] == 0:
            table_keys[s] = k
        table_count[s] += 1
        slot_of[i] = s


@numba.njit(cache=True, nogil=True)
def ngram_repetition_kernel(
    units: np.ndarray, weights: np.ndarray, offsets: np.ndarray, top_ns: np.ndarray, dup_ns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (top-n chars [doc, len(top_ns)], dup-n chars [doc, len(dup_ns)], total chars [doc]) (= tests/quality/signals_numpy_reference.ngram_repetition_reference).

    Document d owns units[offsets[d]:offsets[d + 1]]. top: occurrences x characters of the most
    frequent n-gram (ties: first seen), 0 unless it occurs twice; dup: characters covered by every
    occurrence of an n-gram after its first.
    """
    n_docs = offsets.shape[0] - 1
    max_n = 1
    for n in top_ns:
        max_n = max(max_n, n)
    for n in dup_ns:
        max_n = max(max_n, n)
    is_top = np.zeros(max_n + 1, np.int64) - 1
    is_dup = np.zeros(max_n + 1, np.int64) - 1
    for j in range(top_ns.shape[0]):
        is_top[top_ns[j]] = j
    for j in range(dup_ns.shape[0]):
        is_dup[dup_ns[j]] = j
    top = np.zeros((n_docs, top_ns.shape[0]), np.float64)
    dup = np.zeros((n_docs, dup_ns.shape[0]), np.float64)
    total = np.zeros(n_docs, np.float64)
    longest = 0
    for d in range(n_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    cap = 1
    while cap < 2 * longest:
        cap *= 2
    base = np.empty(longest, np.uint64)
    h = np.empty(longest, np.uint64)
    keys = np.empty(longest, np.uint64)
    cand = np.empty(longest, np.int64)
    slot_of = np.empty(longest, np.int64)
    alive = np.empty(longest, np.bool_)
    cum_w = np.empty(longest + 1, np.int64)
    table_keys = np.empty(cap, np.uint64)
    table_count = np.zeros(cap, np.int64)
    for d in range(n_docs):
        start = offsets[d]
        length = offsets[d + 1] - start
        salt = _mix64(np.uint64(d) + _GOLDEN)
        cum_w[0] = 0
        for i in range(length):
            cum_w[i + 1] = cum_w[i] + weights[start + i]
            base[i] = _mix64(units[start + i])
            h[i] = base[i]
            alive[i] = True
        # weights are integer character counts, so float sums are exact (as np.bincount's are)
        total[d] = float(cum_w[length])
        for n in range(1, max_n + 1):
            m = length - n + 1
            if m <= 0:
                break
            if n > 1:
                for i in range(m):
                    h[i] = _mix64(h[i] * _FNV + base[i + n - 1])
            if is_top[n] < 0 and is_dup[n] < 0:
                continue
            # Only an n-gram whose (n-1)-gram prefix occurs twice can occur twice: count those
            # positions alone (every other n-gram occurs once, so it is neither top nor a repeat).
            k = 0
            for i in range(m):
                if alive[i]:
                    cand[k] = i
                    keys[k] = h[i] ^ salt
                    k += 1
                alive[i] = False
            if k == 0:
                break
            size = 1
            while size < 2 * k:
                size *= 2
            table_count[:size] = 0
            _table_slots(keys, k, table_keys, table_count, size - 1, slot_of)
            if is_top[n] >= 0:
                best, best_i = 0, -1
                for j in range(k):
                    occ = table_count[slot_of[j]]
                    if occ > best:
                        best, best_i = occ, cand[j]
                if best >= 2:
                    top[d, is_top[n]] = float(best * (cum_w[best_i + n] - cum_w[best_i]))
            # an occurrence is a repeat when its slot was visited before (count negated on the first visit)
            covered = 0
            reach = 0
            for j in range(k):
                i = cand[j]
                s = slot_of[j]
                c = table_count[s]
                alive[i] = c >= 2 or c < 0
                if c < 0:
                    lo = max(i, reach)
                    covered += cum_w[i + n] - cum_w[lo]
                    reach = i + n
                else:
                    table_count[s] = -c
            if is_dup[n] >= 0:
                dup[d, is_dup[n]] = float(covered)
    return top, dup, total


@numba.njit(cache=True, nogil=True, inline="always")
def _decode_utf8(data: np.ndarray, p: int) -> tuple[int, int]:
    """Return (code point, byte length) of the valid UTF-8 sequence starting at data[p] (Arrow validates it)."""
    b0 = np.int64(data[p])
    if b0 < 0x80:
        return b0, 1
    if b0 < 0xE0:
        return ((b0 & 0x1F) << 6) | (np.int64(data[p + 1]) & 0x3F), 2
    if b0 < 0xF0:
        return ((b0 & 0x0F) << 12) | ((np.int64(data[p + 1]) & 0x3F) << 6) | (np.int64(data[p + 2]) & 0x3F), 3
    return (
        ((b0 & 0x07) << 18) | ((np.int64(data[p + 1]) & 0x3F) << 12) | ((np.int64(data[p + 2]) & 0x3F) << 6)
        | (np.int64(data[p + 3]) & 0x3F)
    ), 4


# Column order of char_class_counts' result (quality.signals reads them by these indices).
N_CHARS, N_SPACE, N_HAN_KANA, N_CJK, N_SYMBOL, N_DIGIT, N_REPLACEMENT, N_GARBLED, N_TRIGGER, N_WORDS = range(10)
N_COUNTS = 10


@numba.njit(cache=True, nogil=True)
def char_class_counts(
    offsets: np.ndarray, data: np.ndarray, table: np.ndarray,
    space_bit: int, han_kana_bit: int, cjk_bit: int, symbol_bit: int, digit_bit: int, co_bit: int,
    trigger_bit: int, split_ws_bit: int, garbled_words: np.ndarray, script_bits: np.ndarray,
) -> np.ndarray:
    """Return per-document character-class counts [doc, N_COUNTS + len(script_bits)] of Arrow string buffers in one UTF-8 pass.

    A class count is the number of characters whose `table` entry has the class bit (table built
    from the RE2 classes themselves); N_GARBLED counts private-use characters plus non-overlapping
    occurrences of the 3-character `garbled_words` rows (leftmost first, as RE2 counts them);
    N_WORDS counts maximal runs of characters outside Arrow's whitespace; column N_COUNTS + s
    counts the characters with bit script_bits[s] (the scripts written without spaces, disjoint).
    """
    n_docs = offsets.shape[0] - 1
    n_scripts = script_bits.shape[0]
    out = np.zeros((n_docs, N_COUNTS + n_scripts), np.int64)
    script_mask = 0  # one test skips the per-script loop for every other character
    for s in range(n_scripts):
        script_mask |= 1 << script_bits[s]
    n_words = garbled_words.shape[0]
    min_last = 0x110000  # cheap pre-check: no garbled word ends below this code point
    for w in range(n_words):
        min_last = min(min_last, garbled_words[w, 2])
    for d in range(n_docs):
        p = offsets[d]
        end = offsets[d + 1]
        # per-document tallies in locals (registers), stored once at the end
        chars = space = han_kana = cjk = symbol = digit = replacement = garbled = trigger = words = 0
        j = 0
        prev1 = -1
        prev2 = -1
        match_end = 0  # character index after the last counted garbled word
        in_word = False
        while p < end:
            cp, size = _decode_utf8(data, p)
            p += size
            bits = np.int64(table[cp])
            chars += 1
            space += (bits >> space_bit) & 1
            han_kana += (bits >> han_kana_bit) & 1
            cjk += (bits >> cjk_bit) & 1
            symbol += (bits >> symbol_bit) & 1
            digit += (bits >> digit_bit) & 1
            trigger |= (bits >> trigger_bit) & 1
            if cp == 0xFFFD:
                replacement += 1
            if (bits >> co_bit) & 1:
                garbled += 1
            elif cp >= min_last and j >= 2 and j - 2 >= match_end:
                for w in range(n_words):
                    if garbled_words[w, 2] == cp and garbled_words[w, 1] == prev1 and garbled_words[w, 0] == prev2:
                        garbled += 1
                        match_end = j + 1
                        break
            if bits & script_mask:
                for s in range(n_scripts):
                    if (bits >> script_bits[s]) & 1:
                        out[d, N_COUNTS + s] += 1
                        break
            if (bits >> split_ws_bit) & 1:
                in_word = False
            elif not in_word:
                in_word = True
                words += 1
            prev2 = prev1
            prev1 = cp
            j += 1
        out[d, N_CHARS] = chars
        out[d, N_SPACE] = space
        out[d, N_HAN_KANA] = han_kana
        out[d, N_CJK] = cjk
        out[d, N_SYMBOL] = symbol
        out[d, N_DIGIT] = digit
        out[d, N_REPLACEMENT] = replacement
        out[d, N_GARBLED] = garbled
        out[d, N_TRIGGER] = trigger
        out[d, N_WORDS] = words
    return out


@numba.njit(cache=True, nogil=True)
def kept_codepoints(offsets: np.ndarray, data: np.ndarray, rows: np.ndarray, table: np.ndarray, drop_bit: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (code points without the `drop_bit` class, per-row offsets into them) of the given rows, in order."""
    total = 0  # a counting pass first, so the result is allocated at its size (not 8 bytes per UTF-8 byte)
    for r in rows:
        p = offsets[r]
        end = offsets[r + 1]
        while p < end:
            cp, size = _decode_utf8(data, p)
            p += size
            if not (table[cp] >> drop_bit) & 1:
                total += 1
    units = np.empty(total, np.uint64)
    unit_offsets = np.zeros(rows.shape[0] + 1, np.int64)
    k = 0
    for i in range(rows.shape[0]):
        p = offsets[rows[i]]
        end = offsets[rows[i] + 1]
        while p < end:
            cp, size = _decode_utf8(data, p)
            p += size
            if not (table[cp] >> drop_bit) & 1:
                units[k] = np.uint64(cp)
                k += 1
        unit_offsets[i + 1] = k
    return units[:k], unit_offsets


@numba.njit(cache=True, nogil=True)
def char_and_class_lengths(offsets: np.ndarray, data: np.ndarray, table: np.ndarray, bit: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (characters, characters of the `bit` class) of every string in Arrow UTF-8 buffers."""
    n = offsets.shape[0] - 1
    chars = np.zeros(n, np.int64)
    in_class = np.zeros(n, np.int64)
    for i in range(n):
        p = offsets[i]
        end = offsets[i + 1]
        while p < end:
            cp, size = _decode_utf8(data, p)
            p += size
            chars[i] += 1
            in_class[i] += (np.int64(table[cp]) >> bit) & 1
    return chars, in_class


@numba.njit(cache=True, nogil=True, inline="always")
def _same_bytes(data: np.ndarray, a: int, b: int, length: int) -> bool:
    for k in range(length):
        if data[a + k] != data[b + k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def repeated_pieces(offsets: np.ndarray, data: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Return True for each non-empty string equal (byte for byte) to an earlier one of the same parent.

    Strings are grouped by `parents` (non-decreasing, as list_flatten leaves them); a 64-bit FNV-1a
    hash only picks the probe slot, equality is always checked on the bytes, so it is exact.
    """
    n = offsets.shape[0] - 1
    rep = np.zeros(n, np.bool_)
    longest_group = 0
    g = 0
    while g < n:
        h = g
        while h < n and parents[h] == parents[g]:
            h += 1
        longest_group = max(longest_group, h - g)
        g = h
    cap = 1
    while cap < 2 * longest_group:
        cap *= 2
    slots = np.full(cap, -1, np.int64)
    g = 0
    while g < n:
        end_g = g
        while end_g < n and parents[end_g] == parents[g]:
            end_g += 1
        size = 1
        while size < 2 * (end_g - g):
            size *= 2
        mask = size - 1
        slots[:size] = -1
        for i in range(g, end_g):
            a = offsets[i]
            length = offsets[i + 1] - a
            if length == 0:
                continue
            hv = np.uint64(0xCBF29CE484222325)
            for k in range(length):
                hv = (hv ^ np.uint64(data[a + k])) * np.uint64(0x100000001B3)
            s = np.int64(_mix64(hv) & np.uint64(mask))
            while True:
                j = slots[s]
                if j < 0:
                    slots[s] = i
                    break
                if offsets[j + 1] - offsets[j] == length and _same_bytes(data, offsets[j], a, length):
                    rep[i] = True
                    break
                s = (s + 1) & mask
        g = end_g
    return rep

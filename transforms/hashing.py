"""Every hash the pipeline keys documents, lines, shingles and n-grams by, in one place.

Four schemes, each kept for what it is good at (changing any of them changes stored keys or
decisions, so they are versioned with the operators that use them):

* `text_hash64`: xxh3-64 of a UTF-8 text, signed: exact dedup (dedup_exact) and repeated-line
  dedup (dedup_lines) key normalised texts / lines by it.
* `fmix64` (MurmurHash3's 64-bit finaliser) over polynomial rolling hashes with the odd bases
  below: near dedup's token and shingle hashes, OPH bins, densification and LSH band hashes.
  `transforms._dedup_kernels` holds the scalar numba twin (`_fmix64`), tested equal.
* `splitmix64`: the n-gram keys of the Gopher repetition signals (quality.signals); the scalar numba
  twin is `quality._signal_kernels._mix64`, tested equal.
* `doc_id_digest`: blake2b-96 of (source, locator, raw sha256): the stable document id.

Pure functions of their inputs (no process salt), so hashes are stable across processes and runs.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xxhash

_U64 = np.uint64

# Odd multipliers of the polynomial (rolling) hashes of near dedup; odd => invertible modulo 2^64.
CP_BASE = 0x9E3779B97F4A7C15  # code points -> token hash
TOK_BASE = 0xC2B2AE3D27D4EB4F  # token hashes -> shingle hash
BAND_BASE = 0x165667B19E3779F9  # signature values -> band hash
GOLDEN64 = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: seed and band salts
FNV_PRIME64 = 0x100000001B3  # n-gram chain multiplier of the repetition signals; code-point pre-mix of near dedup

FMIX64_M1, FMIX64_M2 = 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53
SPLITMIX64_M1, SPLITMIX64_M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def text_hash64(text: str) -> int:
    """Return a stable signed 64-bit hash of a text (xxh3)."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8")) - (1 << 63)


def fmix64(h: np.ndarray) -> np.ndarray:
    """Return the MurmurHash3 64-bit finaliser of a uint64 array (an avalanching bijection)."""
    h = h ^ (h >> _U64(33))
    h = h * _U64(FMIX64_M1)
    h = h ^ (h >> _U64(33))
    h = h * _U64(FMIX64_M2)
    return h ^ (h >> _U64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """Return the MurmurHash3 32-bit finaliser of a uint32 array (the datasketch-compatible permutations' pre-mix)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Return the splitmix64 finaliser of ids/hashes (wrapping uint64 arithmetic; a copy, input untouched)."""
    x = x.astype(np.uint64, copy=True)
    x ^= x >> np.uint64(30)
    x *= np.uint64(SPLITMIX64_M1)
    x ^= x >> np.uint64(27)
    x *= np.uint64(SPLITMIX64_M2)
    x ^= x >> np.uint64(31)
    return x


def power_table(base: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return base^i and base^-i modulo 2^64 for i in [0, size] (`base` odd)."""
    inv = pow(base, -1, 1 << 64)
    p = np.full(size + 1, base, _U64)
    q = np.full(size + 1, inv, _U64)
    p[0] = q[0] = 1
    return np.cumprod(p, dtype=_U64), np.cumprod(q, dtype=_U64)


def doc_id_digest(source: str, locator: str, raw_sha256: str) -> str:
    """Return the 24-hex-digit blake2b digest of (source, locator, raw sha256) that names a document."""
    h = hashlib.blake2b(digest_size=12)
    h.update(source.encode("utf-8"))
    h.update(b"\x00")
    h.update(locator.encode("utf-8"))
    h.update(b"\x00")
    h.update(raw_sha256.encode("ascii"))
    return h.hexdigest()

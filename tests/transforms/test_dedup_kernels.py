"""The numba fast path of near-dup dedup gives exactly what the numpy reference gives, on real and tiny inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from transforms import _dedup_kernels as k
from transforms import dedup as d
from transforms.hashing import fmix64
from transforms.schema import docs_from_pylist
from tests.transforms import dedup_reference as ref_impl

EDGE_TEXTS = [
    "",
    "   \n\t ",
    "，。！",
    "短",
    "春眠",
    "a",
    "hello world",
    "床前明月光，疑是地上霜。Hello World 123",
    "ＡＢＣ１２３，全角 Straße ǅ ﬁ",  # NFKC/casefold table entries, incl. one-to-many folds
    "Cafe\u0301 de\u0301ja\u0300 vu",  # combining marks: the string normalisation path
    "한국어 문장 입니다 가나다",  # Hangul words
    "emoji 😀 and 𠀀𠀁𠀂 extension B",  # non-BMP codepoints
    "lone \ud800 surrogate",
    "private \ue000 separator inside a text",
    "々時々 日本語のテキスト、カタカナ",
    "mixed 中文 and English words 交错 in one line",
    "春天 spring time",  # exactly half CJK tokens: the cjk_share boundary
]


def tang_texts(corpora: Path, files: int = 3) -> list[str]:
    texts = []
    for f in range(files):
        poems = json.loads((corpora / "chinese-poetry/全唐诗" / f"poet.tang.{f * 1000}.json").read_text("utf-8"))
        texts += ["\n".join(p["paragraphs"]) for p in poems]
    return texts


def english_texts(corpora: Path, n: int = 600) -> list[str]:
    lines = (corpora / "lingua-sentences/en.txt").read_text("utf-8").splitlines()[: n * 3]
    return ["\n".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]


def assert_same_shingles(texts: list[str], char_ngram: int, word_ngram: int, script: str = "none", cjk_share: float = 0.5):
    ref = ref_impl.shingle_hashes_reference(texts, char_ngram, word_ngram, script, cjk_share)
    fast = d.shingle_hashes(texts, char_ngram, word_ngram, script, cjk_share)
    for name, a, b in zip(("hashes", "offsets", "is_cjk"), ref, fast):
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b), name


# --- shingling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ngram", [1, 2, 5, 9])
def test_compiled_shingles_equal_reference_on_tiny_and_odd_texts(ngram):
    assert_same_shingles(EDGE_TEXTS, ngram, ngram)
    assert_same_shingles(EDGE_TEXTS, ngram, 3, cjk_share=0.2)
    for t in EDGE_TEXTS:  # each alone too: a chunk of one document, some with no token at all
        assert_same_shingles([t], ngram, ngram)


def test_compiled_shingles_equal_reference_on_empty_input():
    assert_same_shingles([], 5, 5)
    assert_same_shingles(["", ""], 5, 5)


def test_compiled_shingles_equal_reference_on_real_chinese_and_english(corpora):
    zh, en = tang_texts(corpora), english_texts(corpora)
    assert_same_shingles(zh, 5, 5)
    assert_same_shingles(en, 5, 5)
    mixed = [x for pair in zip(zh, en) for x in pair] + EDGE_TEXTS
    assert_same_shingles(mixed, 3, 4, cjk_share=0.6)


def test_compiled_shingles_equal_reference_with_script_conversion(corpora):
    texts = tang_texts(corpora, 1)[:300] + ["秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。", "軟體 記憶體"]
    assert_same_shingles(texts, 3, 3, script="t2s")
    assert_same_shingles(texts, 3, 3, script="tw2sp")


def test_compiled_shingles_equal_reference_across_chunks(monkeypatch, corpora):
    monkeypatch.setattr(d, "_CHUNK_CODEPOINTS", 5000)
    assert_same_shingles(tang_texts(corpora, 1) + EDGE_TEXTS, 5, 5)


def test_compiled_normalisation_equals_reference_including_the_string_path():
    plain = ["ＡＢＣ full width", "床前明月光"]
    for texts in (plain, plain + ["Cafe\u0301"], EDGE_TEXTS):
        for script in ("none", "t2s"):
            ref = ref_impl.normalized_codepoints_reference(texts, script)
            fast = d.normalized_codepoints(texts, script)
            assert ref.dtype == fast.dtype and np.array_equal(ref, fast)


def test_shingle_kernel_refuses_more_separators_than_documents():
    cps = np.array([ord("a"), 0xE000, ord("b")], np.uint32)
    with pytest.raises(ValueError, match="separators"):
        k.shingle_codepoints(cps, d.codepoint_classes(), 1, 5, 5, 0.5, np.uint64(d.CP_BASE), np.uint64(d.TOK_BASE), np.uint64(d._TOK_BASE_INV))


# --- OPH signatures ----------------------------------------------------------------------------


def assert_same_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int):
    ref = ref_impl.oph_signatures_reference(hashes, offsets, num_perm, seed)
    fast = d.oph_signatures(hashes, offsets, num_perm, seed)
    assert ref.dtype == fast.dtype == np.uint32
    assert ref.shape == fast.shape == (len(offsets) - 1, num_perm)
    assert np.array_equal(ref, fast)


@pytest.mark.parametrize("num_perm", [8, 64, 100, 128, 256])
def test_compiled_oph_equals_reference_on_real_shingles(corpora, num_perm):
    zh, en = tang_texts(corpora, 1), english_texts(corpora, 300)
    hashes, offsets, _ = d.shingle_hashes(zh + en + EDGE_TEXTS, 5, 5)
    assert (np.diff(offsets) == 0).any() and (np.diff(offsets) < num_perm).any()  # empty and sparse rows are covered
    for seed in (1, 7):
        assert_same_signatures(hashes, offsets, num_perm, seed)


def test_compiled_oph_equals_reference_on_tiny_inline_cases():
    h = np.array([1, 2, 3, 2**63 + 5, 2**64 - 1], np.uint64)
    cases = [
        (np.zeros(0, np.uint64), np.zeros(1, np.int64)),  # no documents
        (np.zeros(0, np.uint64), np.zeros(3, np.int64)),  # only empty documents
        (h[:1], np.array([0, 1])),  # one shingle: every other bin is borrowed
        (h, np.array([0, 0, 2, 2, 5])),  # empty documents between sparse ones
        (np.repeat(h[:2], 4), np.array([0, 8])),  # repeated shingles
    ]
    for hashes, offsets in cases:
        for num_perm in (8, 100, 128):
            assert_same_signatures(hashes, offsets, num_perm, 1)


def hashes_landing_in(bins: list[int], values: list[int], seed: int) -> np.ndarray:
    """Return shingle hashes that OPH with `seed` (and num_perm > max(bins)) puts in `bins` with `values`."""
    mask = (1 << 64) - 1
    inv1, inv2 = pow(0xFF51AFD7ED558CCD, -1, 1 << 64), pow(0xC4CEB9FE1A85EC53, -1, 1 << 64)
    out = []
    for b, v in zip(bins, values):
        h = (b << 32) | v  # invert fmix64: x ^= x >> 33 is its own inverse, multipliers are odd
        h ^= h >> 33
        h = (h * inv2) & mask
        h ^= h >> 33
        h = (h * inv1) & mask
        h ^= h >> 33
        out.append(h ^ int(d._oph_seed_mix(seed)))
    return np.array(out, np.uint64)


def test_compiled_oph_equals_reference_on_documents_longer_than_a_block():
    # Values fall along each document, so each bin's minimum is its last shingle: a shingle lost
    # at a block boundary (the last one of a block + 1 document) changes the signature.
    sizes = [0, 1, k._OPH_BLOCK - 1, k._OPH_BLOCK, k._OPH_BLOCK + 1, 2 * k._OPH_BLOCK + 1, 40]
    bins = [i % 64 for n in sizes for i in range(n)]
    values = [10_000 - i for n in sizes for i in range(n)]
    hashes = hashes_landing_in(bins, values, 3)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    probe = k.oph_bins(hashes_landing_in([0, 1, 2], [7, 8, 9], 3), np.array([0, 3]), 64, d._oph_seed_mix(3))
    assert probe[0, :4].tolist() == [7, 8, 9, 0xFFFFFFFF]  # the crafted hashes land where they should
    for num_perm in (64, 128):
        assert_same_signatures(hashes, offsets, num_perm, 3)
    rng = np.random.default_rng(5)
    random_hashes = rng.integers(0, 2**64, sum(sizes), dtype=np.uint64)
    assert_same_signatures(random_hashes, offsets, 100, 3)


def test_compiled_densify_takes_the_reference_fallback_when_no_attempt_finds_a_filled_bin(monkeypatch):
    # Every attempt borrows bin 0: rows whose bin 0 is empty must fall back to their minimum.
    monkeypatch.setattr(d, "_densify_candidates", lambda num_perm, seed, attempts: np.zeros((attempts, num_perm), np.int64))
    hashes = np.arange(1, 40, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    offsets = np.array([0, 1, 2, 5, 39])
    ref = ref_impl.oph_signatures_reference(hashes, offsets, 16, 1)
    bins = k.oph_bins(hashes, offsets, 16, d._oph_seed_mix(1))
    fell_back = (bins[:, 0] == 0xFFFFFFFF) & (bins != 0xFFFFFFFF).any(axis=1)
    assert fell_back.any()
    assert np.array_equal(ref, d.oph_signatures(hashes, offsets, 16, 1))


# --- the operator ------------------------------------------------------------------------------


def test_dedup_near_signs_with_the_compiled_path_and_matches_the_reference(corpora):
    texts = tang_texts(corpora, 1)[:500] + [t for t in EDGE_TEXTS if "\ud800" not in t]  # Arrow needs valid UTF-8
    op = d.DedupNear()
    ref_hashes, ref_offsets, _ = ref_impl.shingle_hashes_reference(texts, op.char_ngram, op.word_ngram, op.script)
    ref_sig = ref_impl.oph_signatures_reference(ref_hashes, ref_offsets, op.num_perm, op.seed)
    sig, hashes, offsets = op.minhash(texts)
    assert np.array_equal(sig, ref_sig)
    assert np.array_equal(hashes, ref_hashes) and np.array_equal(offsets, ref_offsets)
    table = docs_from_pylist(
        [{"id": f"d{i}", "text": t, "source": "t", "source_uri": f"t:{i}", "raw_sha256": "0"} for i, t in enumerate(texts)]
    )
    signed = op.signatures(table, 0)
    assert np.array_equal(d.fixed_matrix(signed.column("sig"), len(texts)), ref_sig)


def test_the_kernels_fmix64_is_the_hashing_module_s():
    values = np.random.default_rng(3).integers(0, 2**64, size=200, dtype=np.uint64)
    scalar = np.array([k._fmix64(v) for v in values], dtype=np.uint64)
    assert np.array_equal(scalar, fmix64(values)) and not np.array_equal(scalar, values)


def test_kernel_constants_match_the_reference_module():
    assert (k._SEP, k._WORD, k._CJK, k._DOCB, k._DOC_SEP) == (d._SEP, d._WORD, d._CJK, d._DOCB, ord(d._DOC_SEP))
    assert int(k._EMPTY) == int(d._EMPTY) and int(k._CAP) == int(d._EMPTY) - 1


# --- shingle samples and their Jaccard (verify=borderline / exact) -----------------------------


def _flat(sets: list[set[int]]) -> tuple[np.ndarray, np.ndarray]:
    values = [np.array(sorted(s), np.uint32) for s in sets]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.int64)
    return (np.concatenate(values) if values else np.zeros(0, np.uint32)), offsets


SMALL_SETS = [set(), {5}, {1, 2, 3, 4}, {3, 4, 5, 6}, {1, 2, 3, 4}, {10, 20, 30}, set(range(0, 40, 2)), set(range(0, 40, 3)),
              {0xFFFFFFFF, 0, 7}, {0xFFFFFFFF, 7}]


def test_sample_jaccard_kernel_equals_python_set_jaccard_on_small_inline_sets():
    values, offsets = _flat(SMALL_SETS)
    pairs = np.array([(i, j) for i in range(len(SMALL_SETS)) for j in range(len(SMALL_SETS))], np.int64)
    got = d.sample_jaccard(values, offsets, pairs, None)
    want = [ref_impl.set_jaccard(SMALL_SETS[i], SMALL_SETS[j]) for i, j in pairs.tolist()]
    assert got.tolist() == pytest.approx(want, abs=0, rel=1e-15)
    assert got[2 * len(SMALL_SETS) + 3] == pytest.approx(2 / 6) and got[0] == 1.0  # {1..4} vs {3..6}; two empty sets


@pytest.mark.parametrize("k", [1, 2, 3, 5, 16])
def test_sample_jaccard_kernel_with_a_cap_is_the_bottom_k_estimate(k):
    rng = np.random.default_rng(k)
    sets = [set(rng.choice(60, size=int(rng.integers(0, 30)), replace=False).tolist()) for _ in range(25)]
    values, offsets = _flat(sets)
    pairs = np.array([(i, j) for i in range(25) for j in range(25)], np.int64)
    got = d.sample_jaccard(values, offsets, pairs, k)
    assert got.tolist() == pytest.approx([ref_impl.bottom_k_jaccard(sets[i], sets[j], k) for i, j in pairs.tolist()], abs=1e-12)
    cut = [set(sorted(s)[:k]) for s in sets]  # samples stored already cut to k give the same answer
    assert np.array_equal(d.sample_jaccard(*_flat(cut), pairs, k), got)


@pytest.mark.parametrize("sample", [None, 1, 4, 16, 256, 1024])
def test_shingle_samples_kernel_equals_the_python_reference(corpora, sample):
    texts = tang_texts(corpora, 1)[:300] + english_texts(corpora, 100) + [t for t in EDGE_TEXTS]
    hashes, offsets, _ = d.shingle_hashes(texts, 3, 5)
    # A document repeating other documents' shingles, and one of a single shingle 100 times (too
    # few distinct values below the kernel's cut: it must fall back to sorting the whole document).
    hashes = np.concatenate([hashes, hashes[:50], np.repeat(hashes[3], 100)])
    offsets = np.append(offsets, [offsets[-1] + 50, offsets[-1] + 150])
    values, out_off = d.shingle_samples(hashes, offsets, sample)
    assert values.dtype == np.uint32 and out_off.dtype == np.int64
    got = [values[out_off[i] : out_off[i + 1]].tolist() for i in range(len(offsets) - 1)]
    want = ref_impl.shingle_samples_reference(hashes, offsets, sample)
    assert [set(g) for g in got] == want and all(g == sorted(set(g)) for g in got)


def test_sample_jaccard_of_real_texts_equals_python_sets_of_their_shingles(corpora):
    texts = tang_texts(corpora, 1)[:200]
    texts += [t[: len(t) // 2] + "春风" + t[len(t) // 2 :] for t in texts[:50]]  # near copies
    hashes, offsets, _ = d.shingle_hashes(texts, 3, 5)
    values, out_off = d.shingle_samples(hashes, offsets, None)
    sets = ref_impl.shingle_samples_reference(hashes, offsets, None)
    pairs = np.array([(i, 200 + i) for i in range(50)] + [(i, i + 1) for i in range(199)], np.int64)
    got = d.sample_jaccard(values, out_off, pairs, None)
    assert got.tolist() == pytest.approx([ref_impl.set_jaccard(sets[i], sets[j]) for i, j in pairs.tolist()], abs=1e-12)
    assert (got[:50] > 0.5).all()

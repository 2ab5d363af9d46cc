"""The compiled (numba) signal paths return exactly what the pyarrow/numpy reference (signals_numpy_reference) returns."""

from __future__ import annotations

import json
import random

import ftfy.badness
import numpy as np
import pyarrow as pa
import pyarrow.compute
import pytest

from quality import _signal_kernels as kernels
from quality.signals import (
    CLASS_BITS,
    char_class_counts,
    char_class_table,
    doc_offsets,
    line_stat_columns,
    mojibake_window_re,
    ngram_repetition,
    repetition_columns,
    split_words,
    text_stat_columns,
)
from tests.quality.signals_numpy_reference import (
    char_class_counts_reference,
    line_stat_columns_reference,
    ngram_repetition_reference,
    repetition_columns_reference,
    text_stat_columns_reference,
)
from transforms.hashing import splitmix64
from tests.quality.quality_data import (
    DEGRADATIONS,
    UNSPACED_PARAGRAPHS,
    cantonese_docs,
    degrade,
    joined_sentences,
    sohu_passages,
)

EDGE_CASES: list[str] = [
    "",
    " \n\t\u3000",
    "a",
    "漢字",
    "一二三四",  # shorter than every dup n
    "哈" * 40,
    "ab" * 30,
    "the cat " * 40,
    "the cat sat on the mat. " * 12,
    "中文 English 日本語のテキスト 한국어 mixed 文字 text, 文字 text",
    "😀😀😀👍🏽👍🏽 emoji 𠀋𠀋𠀋𠀋𠀋𠀋 astral 𝒜𝒜𝒜𝒜𝒜𝒜",
    "锟斤拷锟斤拷烫烫烫烫烫烫屯屯屯屯 \ue000\ue001\U000f0000 \ufffd\ufffd",
    "烫烫烫烫",
    "烫" * 7 + "屯" * 9 + "锟斤拷" * 2,
    "Ã©tÃ© â€œquotedâ€ mojibake Ã¨ Â£",
    "…… ——“引号”",
    "line one\n\nline one\n\n  line two  \n\u3000\u3000段落\n\n\u3000\u3000段落",
    "\u0085\u00a0\u2028\u2029\u200b\u200d word\u3000word",
    "- • ● 1) 2. 一、 bullet\n...\n…\nend。”（记者 李明）\n",
    "trailing space ",
    *UNSPACED_PARAGRAPHS.values(),
    "ไทย ລາວ ខ្មែរ မြန်မာ བོད་ 漢字 mixed",  # every unspaced script at once, and Han
    "\u0e3f\u0e5b\u17db\u19e0\u0fd5\u0fd9\ua9e0\uaa60",  # currency, signs and extension blocks of those scripts
]


@pytest.fixture(scope="module")
def real_texts(corpora) -> list[str]:
    poems = json.loads((corpora / "chinese-poetry" / "全唐诗" / "poet.tang.0.json").read_text(encoding="utf-8"))
    lingua = corpora / "lingua-sentences"
    zh = sohu_passages(corpora, 150)
    texts = (
        zh
        + ["\n".join(p["paragraphs"]) for p in poems[:200]]
        + joined_sentences(lingua / "en.txt", 8, 80)
        + joined_sentences(lingua / "ja.txt", 8, 60)
        + cantonese_docs(corpora, 8, 40)
        + joined_sentences(lingua / "th.txt", 8, 40)
    )
    # degraded copies (mojibake, repeats, fragments...) exercise the garbled and repetition paths
    rng = random.Random(11)
    return texts + [degrade(t, kind, rng, zh[i + 1]) for i, t in enumerate(zh[:60]) for kind in DEGRADATIONS]


def _assert_same_columns(ref: dict[str, pa.Array], fast: dict[str, pa.Array]) -> None:
    assert ref.keys() == fast.keys()
    for name in ref:
        assert ref[name].equals(fast[name]), (name, ref[name].diff(fast[name])[:500])


def _batches(texts: list[str], with_null: bool = True) -> list[pa.Array]:
    """The texts as a plain, a sliced (non-zero offset), a large_string and a null-bearing array."""
    plain = pa.array(texts, pa.string())
    padded = pa.array(["prefix"] + texts + ["suffix"], pa.string()).slice(1, len(texts))
    nulls = [pa.array(texts + [None], pa.string())] if with_null else []
    return [plain, padded, plain.cast(pa.large_string()), *nulls]


@pytest.mark.parametrize("which", ["real", "edge"])
def test_compiled_text_stats_equal_reference(real_texts, which):
    texts = real_texts if which == "real" else EDGE_CASES
    for arr in _batches(texts):
        _assert_same_columns(text_stat_columns_reference(arr, 0.3), text_stat_columns(arr, 0.3))
        ref, fast = char_class_counts_reference(arr), char_class_counts(arr)
        for name in ref:
            assert np.array_equal(ref[name], fast[name]), name


@pytest.mark.parametrize("which", ["real", "edge"])
@pytest.mark.parametrize("unit", ["auto", "char", "word"])
def test_compiled_repetition_equals_reference(real_texts, which, unit):
    texts = real_texts if which == "real" else EDGE_CASES
    for arr in _batches(texts, with_null=False):  # the reference char path cannot take null texts
        _assert_same_columns(repetition_columns_reference(arr, unit, 0.3), repetition_columns(arr, unit, 0.3))


@pytest.mark.parametrize("which", ["real", "edge"])
def test_compiled_line_stats_equal_reference(real_texts, which):
    texts = real_texts if which == "real" else EDGE_CASES
    for arr in _batches(texts):
        _assert_same_columns(line_stat_columns_reference(arr, 30), line_stat_columns(arr, 30))


def test_repetition_on_real_text_is_not_trivially_zero(real_texts):
    """The equality tests above compare informative values: many documents repeat n-grams."""
    cols = repetition_columns(pa.array(real_texts), "auto", 0.3)
    assert np.count_nonzero(cols["signal_dup_5gram_share"].to_numpy(zero_copy_only=False)) > 100
    assert np.count_nonzero(cols["signal_top_2gram_share"].to_numpy(zero_copy_only=False)) > 200


def test_ngram_kernel_equals_reference_on_raw_units():
    """Random small alphabets give many repeats, ties and documents shorter than n."""
    rng = np.random.default_rng(11)
    lengths = rng.integers(0, 60, size=300)
    docs = np.repeat(np.arange(lengths.size), lengths)
    units = rng.integers(0, 2, size=docs.size).astype(np.uint64)
    weights = rng.integers(1, 9, size=docs.size).astype(np.int64)
    ref = ngram_repetition_reference(units, weights, docs, lengths.size)
    fast = ngram_repetition(units, weights, doc_offsets(docs, lengths.size))
    assert ref.keys() == fast.keys()
    for name in ref:
        assert np.array_equal(ref[name], fast[name]), name
    assert np.count_nonzero(ref["top_2gram"]) > 200 and np.count_nonzero(ref["dup_10gram"]) > 10


def test_char_class_table_matches_known_characters():
    table = char_class_table()

    def has(ch: str, name: str) -> bool:
        return bool(table[ord(ch)] >> CLASS_BITS[name] & 1)

    assert has("\u3000", "space") and has("\u3000", "arrow_space") and has("\u3000", "wide")
    assert has("漢", "han_kana") and has("か", "han_kana") and has("한", "cjk") and not has("한", "han_kana")
    assert has("😀", "symbol") and has("#", "symbol") and has("٣", "digit") and has("\ue000", "private_use")
    assert has("，", "ngram_strip") and has("“", "mojibake_trigger") and not has("a", "mojibake_trigger")
    assert not has("\x0b", "space") and has("\x0b", "arrow_space")  # RE2's \s has no \v; Arrow's whitespace does
    for ch, code in (("ก", "th"), ("ກ", "lo"), ("ក", "km"), ("၀", "my"), ("ཀ", "bo"), ("་", "bo")):
        assert has(ch, f"unspaced_{code}") and not has(ch, "han_kana")
    assert not any(has(ch, f"unspaced_{c}") for ch in "a漢한" for c in ("th", "lo", "km", "my", "bo"))


def test_split_words_drops_whitespace_pyarrow_reads_past_the_end():
    """pyarrow's split keeps the last space when the byte after the buffer is not valid UTF-8."""
    text = b"the cat " * 3
    arr = pa.StringArray.from_buffers(
        1, pa.py_buffer(np.array([0, len(text)], dtype=np.int32)), pa.py_buffer(text + b"\x80" * 16)
    )
    pieces, parents = split_words(arr)
    assert [p for p in pieces.to_pylist() if p] == ["the", "cat"] * 3
    assert set(parents.tolist()) == {0}


def test_mojibake_prefilter_never_skips_a_document_ftfy_scores(real_texts):
    """signal_mojibake equals ftfy's badness on every document, though ftfy only runs on prefiltered rows."""
    texts = real_texts + EDGE_CASES
    got = text_stat_columns(pa.array(texts), 0.3)["signal_mojibake"].to_pylist()
    want = [ftfy.badness.badness(t) for t in texts]
    assert got == want
    assert sum(w > 0 for w in want) >= 20  # the degraded copies carry real mojibake
    window = mojibake_window_re()
    assert window is not None
    matched = pa.compute.match_substring_regex(pa.array(texts), pattern=window).to_pylist()
    assert sum(matched) < len(texts) / 2  # and the prefilter does skip most documents


@pytest.mark.parametrize("texts", [[], [""], ["", "", None]], ids=["no rows", "one empty", "empties and null"])
def test_compiled_paths_take_empty_batches(texts):
    arr = pa.array(texts, pa.string())
    _assert_same_columns(text_stat_columns_reference(arr, 0.3), text_stat_columns(arr, 0.3))
    _assert_same_columns(line_stat_columns_reference(arr, 30), line_stat_columns(arr, 30))
    if None not in texts:
        _assert_same_columns(repetition_columns_reference(arr, "auto", 0.3), repetition_columns(arr, "auto", 0.3))


def test_compiled_paths_take_chunked_arrays():
    chunked = pa.chunked_array([pa.array(EDGE_CASES[:8]), pa.array(EDGE_CASES[8:])])
    flat = chunked.combine_chunks()
    assert char_class_counts(chunked)["nonspace"].tolist() == char_class_counts(flat)["nonspace"].tolist()


def test_the_kernels_splitmix64_is_the_hashing_module_s():
    """The n-gram keys of the kernel and of the reference come from one hash (transforms.hashing)."""
    values = np.random.default_rng(3).integers(0, 2**64, size=200, dtype=np.uint64)
    scalar = np.array([kernels._mix64(v) for v in values], dtype=np.uint64)
    assert np.array_equal(scalar, splitmix64(values))
    assert not np.array_equal(scalar, values)

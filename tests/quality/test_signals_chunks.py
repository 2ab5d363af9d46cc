"""The text-stat, line and repetition scorers give the same columns a chunk at a time as over the whole batch."""

from __future__ import annotations

import json
import random
import sys

import pyarrow as pa
import pyarrow.compute
import pytest

from quality import signals
from quality.signals import (
    ScoreLineStats,
    ScoreRepetition,
    ScoreTextStats,
    line_stat_columns,
    repetition_columns,
    text_chunks,
    text_stat_columns,
)
from tests.quality.quality_data import DEGRADATIONS, cantonese_docs, degrade, joined_sentences, sohu_passages
from tests.quality.test_signals_compiled import EDGE_CASES
from transforms.ops import OpStats

WHOLE = sys.maxsize  # one chunk: the unchunked computation


@pytest.fixture(scope="module")
def real_texts(corpora) -> list[str]:
    poems = json.loads((corpora / "chinese-poetry" / "全唐诗" / "poet.tang.0.json").read_text(encoding="utf-8"))
    lingua = corpora / "lingua-sentences"
    zh = sohu_passages(corpora, 120)
    texts = (
        zh
        + ["\n".join(p["paragraphs"]) for p in poems[:150]]
        + joined_sentences(lingua / "en.txt", 8, 60)
        + joined_sentences(lingua / "ja.txt", 8, 40)
        + cantonese_docs(corpora, 8, 30)
        + joined_sentences(lingua / "th.txt", 8, 30)
    )
    rng = random.Random(5)
    texts += [degrade(t, kind, rng, zh[i + 1]) for i, t in enumerate(zh[:30]) for kind in DEGRADATIONS]
    rng.shuffle(texts)  # char and word documents, CJK and spaced, interleaved across chunk boundaries
    return texts


def _columns(text: pa.Array | pa.ChunkedArray, chunk_bytes: int) -> dict[str, pa.Array]:
    return (
        text_stat_columns(text, 0.3, chunk_bytes=chunk_bytes)
        | line_stat_columns(text, 30, chunk_bytes=chunk_bytes)
        | repetition_columns(text, "auto", 0.3, chunk_bytes=chunk_bytes)
    )


def _assert_same(whole: dict[str, pa.Array], chunked: dict[str, pa.Array]) -> None:
    assert whole.keys() == chunked.keys()
    for name in whole:
        assert whole[name].type == chunked[name].type, name
        assert whole[name].equals(chunked[name]), (name, whole[name].diff(chunked[name])[:500])


@pytest.mark.parametrize("chunk_bytes", [1, 700, 20_000, 300_000])
def test_chunked_columns_equal_whole_batch_on_real_text(real_texts, chunk_bytes):
    arr = pa.array(real_texts, pa.string())
    assert len(text_chunks(arr, chunk_bytes)) > 1
    whole = _columns(arr, WHOLE)
    assert pa.compute.sum(whole["signal_mojibake"]).as_py() > 0  # ftfy runs on some rows, in several chunks
    assert pa.compute.sum(pa.compute.equal(whole["signal_ngram_unit"], "char")).as_py() > 0
    assert pa.compute.sum(pa.compute.equal(whole["signal_ngram_unit"], "word")).as_py() > 0
    _assert_same(whole, _columns(arr, chunk_bytes))


def test_chunked_columns_equal_on_edge_cases_and_array_layouts():
    texts = EDGE_CASES + [None, "", "漢字" * 3000, "", "the cat sat " * 2000, None]  # two documents larger than a chunk
    plain = pa.array(texts, pa.string())
    whole = _columns(plain, WHOLE)
    for arr in [
        plain,
        pa.array(["prefix", *texts, "suffix"], pa.string()).slice(1, len(texts)),  # non-zero offset
        plain.cast(pa.large_string()),
        pa.chunked_array([plain.slice(0, 5), plain.slice(5, 0), plain.slice(5)]),  # an empty Arrow chunk too
    ]:
        for chunk_bytes in (1, 50, 1000, WHOLE):
            _assert_same(whole, _columns(arr, chunk_bytes))


@pytest.mark.parametrize("texts", [[], [""], ["", "", None], [None]], ids=["no rows", "one empty", "empties and null", "null"])
def test_chunked_columns_take_empty_batches(texts):
    arr = pa.array(texts, pa.string())
    _assert_same(_columns(arr, WHOLE), _columns(arr, 1))


def test_one_document_larger_than_a_chunk_is_a_chunk_of_its_own():
    texts = ["short", "长" * 10_000, "x", "y"]
    pieces = text_chunks(pa.array(texts), chunk_bytes=100)
    assert [(first, len(piece)) for first, piece in pieces] == [(0, 1), (1, 1), (2, 2)]
    _assert_same(_columns(pa.array(texts), WHOLE), _columns(pa.array(texts), 100))


def test_text_chunks_cover_every_row_in_order_within_the_limits(real_texts):
    arr = pa.chunked_array([pa.array(real_texts[:100]), pa.array(real_texts[100:])])
    for chunk_bytes, chunk_docs in [(1, 1000), (5000, 1000), (5000, 7), (WHOLE, 7), (WHOLE, 10**6)]:
        pieces = text_chunks(arr, chunk_bytes, chunk_docs)
        rows = [t for _, piece in pieces for t in piece.to_pylist()]
        assert rows == real_texts
        assert [first for first, _ in pieces] == [sum(len(p) for _, p in pieces[:i]) for i in range(len(pieces))]
        for _, piece in pieces:
            assert 1 <= len(piece) <= chunk_docs
            assert len(piece) == 1 or sum(len(t.encode()) for t in piece.to_pylist()) <= chunk_bytes
    assert len(text_chunks(arr, WHOLE, 10**6)) == 1
    with pytest.raises(ValueError):
        text_chunks(arr, 0)


def test_ops_output_the_same_table_with_any_chunk_size(real_texts, monkeypatch):
    table = pa.table({"id": list(range(len(real_texts))), "text": pa.chunked_array([real_texts[:200], real_texts[200:]])})

    def run() -> tuple[pa.Table, dict]:
        stats = OpStats()
        out = table
        for op in (ScoreTextStats(), ScoreLineStats(), ScoreRepetition()):
            out = op.apply(out, stats)
        return out, stats

    monkeypatch.setattr(signals, "SIGNAL_CHUNK_BYTES", WHOLE)
    whole, whole_stats = run()
    monkeypatch.setattr(signals, "SIGNAL_CHUNK_BYTES", 10_000)
    monkeypatch.setattr(signals, "SIGNAL_CHUNK_DOCS", 50)
    chunked, chunked_stats = run()
    assert whole.schema == chunked.schema
    assert whole.equals(chunked)
    assert whole_stats == chunked_stats


@pytest.mark.parametrize("share_of_suspects", ["most", "few"])
def test_chunked_mojibake_equals_whole_batch(real_texts, share_of_suspects):
    """Suspects at least half the bytes: the window regex runs on every row in place; fewer: on copies of them."""
    bad = ["Ã©tÃ© â€œquotedâ€ mojibake Ã¨ Â£ " * 20, "锟斤拷 烫烫烫 \ufffd plain", "â€™s it’s “fine” — ok"]
    plain = ["the cat sat on the mat " * 40, "第一行文字。第二行文字。" * 30]
    rows = (bad * 30 + plain * 3) if share_of_suspects == "most" else (plain * 60 + bad)
    rows = rows + real_texts[:200]
    random.Random(3).shuffle(rows)
    for arr in (pa.array(rows), pa.chunked_array([rows[:37], rows[37:]])):
        whole = text_stat_columns(arr, 0.3, chunk_bytes=WHOLE)
        assert pa.compute.sum(whole["signal_mojibake"]).as_py() > 0
        suspect = signals.char_class_counts(arr)["mojibake_suspect"]
        assert (suspect.mean() > 0.5) == (share_of_suspects == "most")
        for chunk_bytes in (1, 3000, 40_000):
            _assert_same(whole, text_stat_columns(arr, 0.3, chunk_bytes=chunk_bytes))
            got = signals.mojibake_counts(arr, suspect, chunk_bytes)
            assert got.tolist() == whole["signal_mojibake"].to_pylist()

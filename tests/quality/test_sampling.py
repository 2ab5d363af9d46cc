"""Sampling for annotation: stratified by source x language, least-certain by score, seeded."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest

from quality.sampling import allocate_proportional, exclude_ids, sample_for_annotation, stratified_sample
from transforms.schema import docs_from_pylist


def make_docs(spec: dict[tuple[str, str], int]) -> pa.Table:
    rows = []
    for (source, lang), n in spec.items():
        rows += [{"id": f"{source}-{lang}-{i}", "text": "x", "source": source, "source_uri": f"{source}:{i}",
                  "raw_sha256": "0" * 64, "lang": lang} for i in range(n)]
    return docs_from_pylist(rows)


def test_allocation_is_proportional_exact_and_covers_small_strata():
    assert allocate_proportional([800, 150, 50], 100) == [80, 15, 5]
    assert allocate_proportional([600, 300, 90, 10], 100) == [60, 30, 9, 1]
    alloc = allocate_proportional([1000, 3, 1], 10)
    assert sum(alloc) == 10 and alloc[1] >= 1 and alloc[2] == 1
    assert allocate_proportional([2, 2], 10) == [2, 2]  # never more than a stratum holds
    assert allocate_proportional([5, 5, 5], 2) in ([1, 1, 0], [1, 0, 1], [0, 1, 1])


def test_stratified_sample_keeps_strata_shares_and_is_seeded():
    docs = make_docs({("news", "zh"): 600, ("news", "en"): 300, ("poetry", "zh"): 90, ("forum", "yue"): 10})
    sample = stratified_sample(docs, 100, seed=7)
    counts = Counter(zip(sample.column("source").to_pylist(), sample.column("lang").to_pylist()))
    assert sample.num_rows == 100 and len(set(sample.column("id").to_pylist())) == 100
    assert counts[("news", "zh")] == 60 and counts[("news", "en")] == 30 and counts[("poetry", "zh")] == 9
    assert counts[("forum", "yue")] == 1
    assert stratified_sample(docs, 100, seed=7).column("id").to_pylist() == sample.column("id").to_pylist()
    assert stratified_sample(docs, 100, seed=8).column("id").to_pylist() != sample.column("id").to_pylist()


def test_least_certain_takes_scores_nearest_the_boundary_and_auto_picks_it():
    docs = make_docs({("news", "zh"): 6})
    docs = docs.append_column("score_quality", pa.array([0.95, 0.52, None, 0.1, 0.45, 0.7]))
    out = sample_for_annotation(docs, 3, "auto", seed=0)
    assert out.column("score_quality").to_pylist() == [0.52, 0.45, 0.7]
    everything = sample_for_annotation(docs, 10, "least_certain", seed=0)
    assert everything.column("score_quality").to_pylist()[-1] is None  # unscored rows come last
    with pytest.raises(ValueError, match="score_quality"):
        sample_for_annotation(make_docs({("a", "zh"): 2}), 1, "least_certain", seed=0)


def test_exclude_ids_removes_records_already_sent():
    docs = make_docs({("news", "zh"): 4})
    assert exclude_ids(docs, {"news-zh-1", "news-zh-3"}).column("id").to_pylist() == ["news-zh-0", "news-zh-2"]


def test_a_larger_seeded_sample_contains_the_smaller_one():
    docs = make_docs({("news", "zh"): 300, ("news", "en"): 200, ("poetry", "zh"): 100})
    docs = docs.append_column("score_quality", pa.array([(i * 37 % 101) / 100 for i in range(docs.num_rows)]))
    for strategy in ("stratified", "least_certain"):
        small = set(sample_for_annotation(docs, 50, strategy, seed=3).column("id").to_pylist())
        large = set(sample_for_annotation(docs, 200, strategy, seed=3).column("id").to_pylist())
        assert small < large, strategy

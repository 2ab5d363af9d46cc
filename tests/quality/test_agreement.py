"""Agreement statistics against published worked examples, plus flags, gold accuracy and consensus."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from quality.agreement import (
    agreement_per_label,
    annotator_consensus_agreement,
    annotator_gold_accuracy,
    cohen_kappa_pairs,
    flag_for_adjudication,
    fleiss_kappa_score,
    item_agreement,
    span_agreement,
    krippendorff_alpha,
    summarize_agreement,
)


def long_table(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table({"item": [r[0] for r in rows], "annotator": [r[1] for r in rows], "label": [r[2] for r in rows]})


def test_cohen_kappa_matches_the_textbook_example():
    # Wikipedia "Cohen's kappa": 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> kappa 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    rows = [(f"i{k}", "A", a) for k, (a, _) in enumerate(pairs)] + [(f"i{k}", "B", b) for k, (_, b) in enumerate(pairs)]
    out = cohen_kappa_pairs(long_table(rows)).to_pylist()
    assert len(out) == 1
    assert out[0]["n_items"] == 50
    assert out[0]["observed_agreement"] == pytest.approx(0.7)
    assert out[0]["kappa"] == pytest.approx(0.4)


def test_cohen_pairs_skip_annotators_without_shared_items():
    rows = [("1", "A", "x"), ("2", "A", "y"), ("1", "B", "x"), ("2", "B", "y"), ("3", "C", "x"), ("4", "C", "y")]
    out = cohen_kappa_pairs(long_table(rows)).to_pylist()
    assert [(r["annotator_a"], r["annotator_b"]) for r in out] == [("A", "B")]
    assert out[0]["kappa"] == pytest.approx(1.0)


def test_fleiss_kappa_matches_the_textbook_example():
    # Wikipedia "Fleiss' kappa": 10 subjects, 14 raters, 5 categories -> kappa 0.210.
    counts = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
    rows = []
    for i, row in enumerate(counts):
        raters = iter(range(14))
        for cat, n in enumerate(row):
            rows += [(f"s{i}", f"r{next(raters)}", f"c{cat}") for _ in range(n)]
    kappa, n_items = fleiss_kappa_score(long_table(rows))
    assert n_items == 10
    assert kappa == pytest.approx(0.210, abs=0.001)


KRIPP_EXAMPLE = [  # Krippendorff (2011) "Computing Krippendorff's alpha", 3 coders x 15 units, gaps allowed
    [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
    [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
    [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
]


def kripp_table() -> pa.Table:
    rows = [(f"u{u}", f"c{c}", str(v)) for c, coder in enumerate(KRIPP_EXAMPLE) for u, v in enumerate(coder) if v is not None]
    return long_table(rows)


def test_krippendorff_alpha_nominal_and_ordinal_on_the_published_example():
    assert krippendorff_alpha(kripp_table(), "nominal") == pytest.approx(0.691, abs=0.001)
    ordinal = krippendorff_alpha(kripp_table(), "ordinal")
    # Same figure as the krippendorff package computes directly on the matrix.
    import krippendorff

    matrix = np.array([[np.nan if v is None else v for v in coder] for coder in KRIPP_EXAMPLE], dtype=float)
    assert ordinal == pytest.approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal"))
    assert ordinal > krippendorff_alpha(kripp_table(), "nominal")  # disagreements here are between neighbours


def test_ordinal_alpha_uses_the_declared_order_not_the_alphabet():
    # low/mid/high: neighbour disagreements only; alphabetical order (high<low<mid) would make them far apart.
    rows = []
    for i, (a, b) in enumerate([("low", "mid"), ("mid", "high"), ("low", "low"), ("high", "high"), ("mid", "mid"), ("low", "mid")]):
        rows += [(f"i{i}", "A", a), (f"i{i}", "B", b)]
    right = krippendorff_alpha(long_table(rows), "ordinal", order=["low", "mid", "high"])
    wrong = krippendorff_alpha(long_table(rows), "ordinal", order=["high", "low", "mid"])
    assert right > wrong
    with pytest.raises(ValueError, match="not in the declared order"):
        krippendorff_alpha(long_table(rows), "ordinal", order=["low", "mid"])


def test_perfect_and_chance_agreement_bounds():
    perfect = long_table([(f"i{i}", a, str(i % 3)) for i in range(12) for a in "ABC"])
    assert krippendorff_alpha(perfect, "nominal") == pytest.approx(1.0)
    assert fleiss_kappa_score(perfect)[0] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = long_table([(f"i{i}", a, str(rng.integers(3))) for i in range(400) for a in "ABC"])
    assert abs(krippendorff_alpha(noise, "nominal")) < 0.05


def test_item_agreement_and_adjudication_flags():
    rows = [("t1", "A", "good"), ("t1", "B", "good"), ("t1", "C", "good"),
            ("t2", "A", "good"), ("t2", "B", "bad"), ("t2", "C", "good"),
            ("t3", "A", "good"), ("t3", "B", "bad"),
            ("t4", "A", "bad")]
    items = {r["item"]: r for r in item_agreement(long_table(rows)).to_pylist()}
    assert items["t1"]["majority_share"] == 1.0 and items["t1"]["pairwise_agreement"] == 1.0
    assert items["t2"]["majority_label"] == "good" and items["t2"]["majority_share"] == pytest.approx(2 / 3)
    assert items["t2"]["pairwise_agreement"] == pytest.approx(1 / 3)
    assert items["t3"]["majority_label"] is None
    flagged = flag_for_adjudication(item_agreement(long_table(rows)), threshold=0.7).to_pylist()
    assert {r["item"]: r["reason"] for r in flagged} == {"t2": "low_agreement", "t3": "tie"}  # t4: a single judgement


def test_gold_accuracy_and_leave_one_out_consensus():
    rows = [("g1", "A", "x"), ("g1", "B", "y"), ("g1", "C", "x"),
            ("g2", "A", "y"), ("g2", "B", "y"), ("g2", "C", "x"),
            ("t1", "A", "x"), ("t1", "B", "y"), ("t1", "C", "x")]
    gold = pa.table({"item": ["g1", "g2"], "label": ["x", "y"]})
    acc = {r["annotator"]: r for r in annotator_gold_accuracy(long_table(rows), gold).to_pylist()}
    assert acc["A"]["gold_accuracy"] == 1.0 and acc["A"]["n_gold"] == 2
    assert acc["B"]["gold_accuracy"] == 0.5 and acc["C"]["gold_accuracy"] == 0.5
    cons = {r["annotator"]: r for r in annotator_consensus_agreement(long_table(rows)).to_pylist()}
    # A is compared with the B/C majority: g1 tie (skipped), g2 tie, t1 tie -> nothing to compare.
    assert cons["A"]["n_compared"] == 0 and math.isnan(cons["A"]["consensus_agreement"])
    # B against A+C: g1 x (B says y), g2 tie, t1 x (B says y) -> 0 of 2.
    assert cons["B"]["n_compared"] == 2 and cons["B"]["consensus_agreement"] == 0.0
    # C against A+B: only g2 has a majority (y), C says x.
    assert cons["C"]["n_compared"] == 1 and cons["C"]["consensus_agreement"] == 0.0


def test_per_label_agreement_singles_out_the_confused_category():
    rows = []
    for i in range(30):  # "spam" is always agreed on; "ok" and "meh" are confused with each other
        if i % 3 == 0:
            rows += [(f"i{i}", "A", "spam"), (f"i{i}", "B", "spam")]
        else:
            rows += [(f"i{i}", "A", "ok" if i % 2 else "meh"), (f"i{i}", "B", "meh" if i % 2 else "ok")]
    per = {r["label"]: r for r in agreement_per_label(long_table(rows)).to_pylist()}
    assert per["spam"]["fleiss_kappa"] == pytest.approx(1.0)
    assert per["ok"]["fleiss_kappa"] < 0


def test_summary_and_duplicate_and_null_judgements():
    rows = [("t1", "A", "1"), ("t1", "A", "2"), ("t1", "B", "2"), ("t2", "A", "4"), ("t2", "B", "5"), ("t3", "A", None)]
    summary = summarize_agreement(long_table(rows), ordinal=True).as_dict()
    assert summary["n_judgements"] == 4  # A's first answer on t1 was replaced; the null judgement is ignored
    assert summary["n_items"] == 2 and summary["n_annotators"] == 2 and summary["n_items_multi"] == 2
    assert summary["alpha_ordinal"] > summary["alpha_nominal"]


def test_span_agreement_exact_match_f1_per_pair_and_label():
    phone, email, name = {"start": 3, "end": 10, "label": "PHONE"}, {"start": 12, "end": 19, "label": "EMAIL"}, {"start": 0, "end": 2, "label": "NAME"}
    spans = pa.table({
        "item": ["t1", "t1", "t2", "t2", "t3"],
        "annotator": ["A", "B", "A", "B", "A"],
        "spans": [[phone, email], [phone], [], [], [name]],
    })
    out = span_agreement(spans)
    assert out["n_items_multi"] == 2
    # t1: F1 of {phone, email} vs {phone} = 2*1/3; t2: both found nothing = 1.0; t3 has one judgement.
    assert out["pairs"] == [{"annotator_a": "A", "annotator_b": "B", "n_items": 2, "mean_f1": pytest.approx((2 / 3 + 1.0) / 2)}]
    assert out["per_label_f1"] == {"EMAIL": 0.0, "PHONE": 1.0}
    shifted = pa.table({"item": ["t1", "t1"], "annotator": ["A", "B"], "spans": [[phone], [{**phone, "end": 9}]]})
    assert span_agreement(shifted)["mean_pairwise_f1"] == 0.0  # exact match: an off-by-one boundary is a miss


def test_a_confident_two_to_one_split_is_not_adjudicated_but_majority_vote_flags_it():
    from quality.aggregate import dawid_skene, majority_vote
    from quality.agreement import MIN_CONFIDENCE, flag_low_confidence

    # K = 3: two careful annotators and one who answers at random; on 2-to-1 splits the careful pair wins.
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        truth = str(1 + i % 5)
        rows += [(f"i{i}", "A", truth), (f"i{i}", "B", truth), (f"i{i}", "C", str(rng.integers(1, 6)))]
    rows[-3:] = [("i39", "A", "1"), ("i39", "B", "3"), ("i39", "C", "5")]  # no majority at all
    labels = long_table(rows)
    items = item_agreement(labels)
    splits = {r["item"] for r in items.to_pylist() if r["majority_share"] == pytest.approx(2 / 3)}
    assert len(splits) >= 20
    flagged = flag_low_confidence(dawid_skene(labels), items, MIN_CONFIDENCE).to_pylist()
    assert [r["item"] for r in flagged] == ["i39"] and flagged[0]["reason"] == "tie"
    by_vote = {r["item"] for r in flag_low_confidence(majority_vote(labels), items, MIN_CONFIDENCE).to_pylist()}
    assert splits | {"i39"} == by_vote  # majority vote knows no annotator quality: every split is doubtful


def test_splits_among_equally_unreliable_annotators_are_adjudicated():
    from quality.aggregate import dawid_skene
    from quality.agreement import flag_low_confidence

    rng = np.random.default_rng(1)
    rows = [(f"i{i}", a, str(rng.integers(0, 2))) for i in range(60) for a in ("A", "B", "C")]  # three coin-flippers
    labels = long_table(rows)
    items = item_agreement(labels)
    flagged = {r["item"] for r in flag_low_confidence(dawid_skene(labels), items).to_pylist()}
    splits = {r["item"] for r in items.to_pylist() if r["majority_share"] < 1}
    assert len(flagged & splits) >= len(splits) // 2


def test_fleiss_kappa_equals_statsmodels_on_random_tables():
    from statsmodels.stats.inter_rater import fleiss_kappa  # the reference; not a runtime dependency

    from quality.agreement import fleiss_kappa_table

    rng = np.random.default_rng(7)
    for n_raters, n_cats in [(2, 2), (3, 2), (3, 5), (5, 3), (7, 4)]:
        for _ in range(20):
            picks = rng.integers(0, n_cats, size=(int(rng.integers(2, 40)), n_raters))
            table = np.stack([np.bincount(row, minlength=n_cats) for row in picks])
            assert fleiss_kappa_table(table) == pytest.approx(fleiss_kappa(table, method="fleiss"), nan_ok=True)


def test_cohen_kappa_equals_scikit_learn_on_random_raters():
    from sklearn.metrics import cohen_kappa_score  # the reference; not imported by collect

    from quality.agreement import cohen_kappa_codes

    rng = np.random.default_rng(11)
    for n_cats in (2, 3, 5, 11):
        for weights in (None, "linear", "quadratic"):
            for _ in range(15):
                n = int(rng.integers(2, 60))
                a = rng.integers(0, n_cats, size=n)
                # b agrees with a on about half the items: kappa spreads over (-1, 1)
                b = np.where(rng.random(n) < 0.5, a, rng.integers(0, n_cats, size=n))
                expected = cohen_kappa_score(a, b, labels=list(range(n_cats)), weights=weights)
                assert cohen_kappa_codes(a, b, n_cats, weights) == pytest.approx(expected, nan_ok=True)


def test_weighted_kappa_measures_distance_on_the_declared_scale():
    # Ratings 1, 2 and 5 only: by the pair's own labels "5" is one step from "2"; on the 1-5 scale it is three.
    rows = [(f"i{i}", "A", a) for i, a in enumerate("1225512")] + [(f"i{i}", "B", b) for i, b in enumerate("1255212")]
    labels = long_table(rows)
    own = cohen_kappa_pairs(labels, weights="quadratic").column("kappa")[0].as_py()
    scale = cohen_kappa_pairs(labels, weights="quadratic", order=["1", "2", "3", "4", "5"]).column("kappa")[0].as_py()
    from sklearn.metrics import cohen_kappa_score

    a, b = [int(x) for x in "1225512"], [int(x) for x in "1255212"]
    assert scale == pytest.approx(cohen_kappa_score(a, b, labels=[1, 2, 3, 4, 5], weights="quadratic"))
    assert own == pytest.approx(cohen_kappa_score([str(x) for x in a], [str(x) for x in b], weights="quadratic"))
    assert own != pytest.approx(scale)

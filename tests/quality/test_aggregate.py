"""Aggregation: MV / Dawid-Skene against crowd-kit's and the published crowd data, label columns, LS results."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from quality.aggregate import (
    aggregate_labels,
    attach_labels,
    dawid_skene,
    label_columns,
    label_from_result,
    majority_vote,
    spans_from_result,
)
from transforms.schema import docs_from_pylist


def read_crowd(folder: Path) -> tuple[pa.Table, dict[str, str]]:
    with open(folder / "answer.csv", newline="") as f:
        answers = list(csv.DictReader(f))
    with open(folder / "truth.csv", newline="") as f:
        truth = {r["question"]: r["truth"] for r in csv.DictReader(f)}
    labels = pa.table({"item": [r["question"] for r in answers], "annotator": [r["worker"] for r in answers],
                       "label": [r["answer"] for r in answers]})
    return labels, truth


def accuracy(aggregated: pa.Table, truth: dict[str, str]) -> float:
    pairs = [(r["item"], r["label"]) for r in aggregated.to_pylist() if r["item"] in truth]
    return sum(truth[i] == label for i, label in pairs) / len(pairs)


# Published figures (../shared/eval/README.md): majority vote with random ties, textbook DS (50 iterations).
CROWD_FIGURES = [
    ("d_jn-product", 0.8966, 0.9396),
    ("d_Duck Identification", 0.759, 0.898),
    ("s4_Dog data", 0.8265, 0.8426),
    ("s4_Face Sentiment Identification", 0.637, 0.640),
]


@pytest.mark.shared
@pytest.mark.parametrize(("folder", "mv_ref", "ds_ref"), CROWD_FIGURES)
def test_accuracy_on_published_crowd_data_is_within_a_point(shared_dir: Path, folder: str, mv_ref: float, ds_ref: float):
    labels, truth = read_crowd(shared_dir / "eval" / "crowd-truth-inference" / folder)
    mv = majority_vote(labels)
    ds = dawid_skene(labels)
    assert mv.num_rows == len(set(labels.column("item").to_pylist()))
    assert abs(accuracy(mv, truth) - mv_ref) <= 0.01
    assert abs(accuracy(ds, truth) - ds_ref) <= 0.01
    if folder == "d_jn-product":
        assert accuracy(ds, truth) >= 0.93
    confidences = ds.column("confidence").to_pylist()
    assert all(0.0 <= c <= 1.0 + 1e-9 for c in confidences)


def crowdkit_posteriors(labels: pa.Table, method: str) -> tuple[list[str], list[str], np.ndarray]:
    """Return (items, labels, items x labels probabilities) from crowd-kit, the reference implementation."""
    from crowdkit.aggregation import DawidSkene, MajorityVote  # the reference; not imported by collect

    from quality.agreement import labels_frame

    df = labels_frame(labels).rename(columns={"item": "task", "annotator": "worker"})
    model = DawidSkene(n_iter=100, tol=1e-5) if method == "dawid_skene" else MajorityVote()
    proba = model.fit_predict_proba(df).fillna(0.0)
    proba = proba[sorted(proba.columns, key=str)].sort_index()
    return [str(i) for i in proba.index], [str(c) for c in proba.columns], proba.to_numpy()


def assert_same_as_crowdkit(labels: pa.Table) -> None:
    from quality.aggregate import _code_judgements, _vote_shares, dawid_skene_posteriors

    coded = _code_judgements(labels)
    for method, ours in (("dawid_skene", dawid_skene_posteriors(coded)), ("majority_vote", _vote_shares(coded))):
        items, values, theirs = crowdkit_posteriors(labels, method)
        assert (items, values) == (coded.items.tolist(), coded.labels)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
        aggregated = aggregate_labels(labels, method)  # type: ignore[arg-type]
        assert aggregated.column("label").to_pylist() == [values[i] for i in theirs.argmax(axis=1)]


@pytest.mark.shared
@pytest.mark.parametrize("folder", [f for f, _, _ in CROWD_FIGURES])
def test_posteriors_equal_crowdkit_on_published_crowd_data(shared_dir: Path, folder: str):
    labels, _ = read_crowd(shared_dir / "eval" / "crowd-truth-inference" / folder)
    assert_same_as_crowdkit(labels)


def test_posteriors_equal_crowdkit_on_random_annotators():
    rng = np.random.default_rng(5)
    for n_annotators, n_labels in [(2, 2), (3, 2), (3, 5), (6, 4)]:
        for _ in range(5):
            skill = rng.uniform(0.2, 0.95, size=n_annotators)
            rows = []
            for i in range(int(rng.integers(5, 80))):
                truth = int(rng.integers(0, n_labels))
                for a in range(n_annotators):
                    if rng.random() < 0.8:  # not every annotator sees every item
                        given = truth if rng.random() < skill[a] else int(rng.integers(0, n_labels))
                        rows.append((f"i{i}", f"a{a}", f"L{given}"))
            labels = pa.table({"item": [r[0] for r in rows], "annotator": [r[1] for r in rows], "label": [r[2] for r in rows]})
            assert_same_as_crowdkit(labels)


def test_dawid_skene_downweights_a_spammer_that_majority_vote_follows():
    # Two careful annotators and three who always answer "a": on items where the careful ones say "b",
    # MV follows the spammers, DS learns their confusion and sides with the careful ones.
    rows = []
    truth = {}
    for i in range(60):
        t = "a" if i % 2 else "b"
        truth[f"i{i}"] = t
        rows += [(f"i{i}", "good1", t), (f"i{i}", "good2", t)]
        rows += [(f"i{i}", f"spam{s}", "a") for s in range(3)]
    labels = pa.table({"item": [r[0] for r in rows], "annotator": [r[1] for r in rows], "label": [r[2] for r in rows]})
    assert accuracy(majority_vote(labels), truth) == pytest.approx(0.5)
    assert accuracy(dawid_skene(labels), truth) == 1.0


def test_majority_vote_confidence_is_the_winning_share():
    labels = pa.table({"item": ["t1"] * 3 + ["t2"] * 2, "annotator": ["A", "B", "C", "A", "B"],
                       "label": ["x", "x", "y", "y", "y"]})
    out = {r["item"]: r for r in aggregate_labels(labels, "majority_vote").to_pylist()}
    assert out["t1"]["label"] == "x" and out["t1"]["confidence"] == pytest.approx(2 / 3) and out["t1"]["n_judgements"] == 3
    assert out["t2"]["label"] == "y" and out["t2"]["confidence"] == 1.0
    with pytest.raises(ValueError, match="known"):
        aggregate_labels(labels, "glad")  # type: ignore[arg-type]


def test_label_columns_join_onto_documents_in_order():
    docs = docs_from_pylist([
        {"id": f"d{i}", "text": "文本", "source": "s", "source_uri": f"f:{i}", "raw_sha256": "0" * 64} for i in range(3)
    ])
    agg = pa.table({"item": ["d2", "d0"], "label": ["good", "bad"], "confidence": [0.9, 0.6], "n_judgements": [3, 2]})
    out = attach_labels(docs, label_columns(agg, "quality", "dawid_skene"))
    assert out.column("id").to_pylist() == ["d0", "d1", "d2"]
    assert out.column("label_quality").to_pylist() == ["bad", None, "good"]
    assert out.column("label_quality_confidence").to_pylist() == [0.6, None, 0.9]
    assert out.column("label_quality_method").to_pylist() == ["dawid_skene", None, "dawid_skene"]
    again = attach_labels(out, label_columns(agg, "quality", "majority_vote"))  # re-attaching replaces, never duplicates
    assert again.column_names.count("label_quality") == 1


def test_label_studio_results_become_plain_labels():
    result = [
        {"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": 4}},
        {"from_name": "domain", "to_name": "text", "type": "choices", "value": {"choices": ["新闻 news", "科技 tech"]}},
        {"from_name": "pii", "to_name": "text", "type": "labels", "value": {"start": 5, "end": 16, "text": "13800138000", "labels": ["PHONE"]}},
        {"from_name": "pii", "to_name": "text", "type": "labels", "value": {"start": 0, "end": 2, "text": "张三", "labels": ["NAME"]}},
    ]
    assert label_from_result(result, "quality") == "4"
    assert label_from_result(result, "domain") == "新闻 news|科技 tech"
    assert label_from_result(result, "missing") is None
    assert [s["label"] for s in spans_from_result(result, "pii")] == ["NAME", "PHONE"]
    import json

    assert label_from_result(json.dumps(result, ensure_ascii=False), "quality") == "4"


# --- every control of the shipped configs ------------------------------------------------------

from quality.aggregate import (  # noqa: E402
    Control,
    aggregate_multi_choice,
    aggregate_spans,
    answers_from_result,
    control_label_columns,
    control_labels,
    controls_from_config,
    is_label_value_column,
    option_presence_labels,
    outer_join_on_id,
)


def test_controls_of_the_shipped_configs():
    from pathlib import Path

    configs = Path(__file__).resolve().parents[2] / "configs" / "label_studio"
    quality = controls_from_config((configs / "quality_rating.xml").read_text(encoding="utf-8"))
    assert [(c.name, c.kind) for c in quality] == [("quality", "rating"), ("issues", "multi")]
    assert quality[0].options == ("1", "2", "3", "4", "5") and quality[0].required
    assert "spam" in quality[1].options and "pii_left" in quality[1].options  # aliases, as results store them
    pii = controls_from_config((configs / "pii_review.xml").read_text(encoding="utf-8"))
    assert [(c.name, c.kind) for c in pii] == [("pii", "spans"), ("pii_verdict", "single")]
    domain = controls_from_config((configs / "domain_classification.xml").read_text(encoding="utf-8"))
    assert [(c.name, c.kind, len(c.options)) for c in domain] == [("domain", "single", 12)]


def judgements(rows: list[tuple[str, str, list[dict]]]) -> pa.Table:
    import json

    return pa.table({"item": [r[0] for r in rows], "annotator": [r[1] for r in rows],
                     "result": [json.dumps(r[2], ensure_ascii=False) for r in rows]})


def ticks(*choices: str) -> list[dict]:
    return [{"from_name": "issues", "to_name": "text", "type": "choices", "value": {"choices": list(choices)}}] if choices else []


ISSUES = Control("issues", "multi", ("spam", "truncated", "mojibake"))


def test_multi_choice_answers_become_one_label_per_option():
    # t1: all three tick spam, two also truncated; t2: one ticks mojibake, two tick nothing (they submitted: "none").
    rows = [("t1", "A", ticks("spam", "truncated")), ("t1", "B", ticks("spam", "truncated")), ("t1", "C", ticks("spam")),
            ("t2", "A", ticks("mojibake")), ("t2", "B", ticks()), ("t2", "C", ticks())]
    per_option = option_presence_labels(judgements(rows), ISSUES)
    assert list(per_option) == ["spam", "truncated", "mojibake"]
    assert per_option["spam"].column("label").to_pylist() == ["1", "1", "1", "0", "0", "0"]
    out = {r["item"]: r for r in aggregate_multi_choice(per_option, "majority_vote").to_pylist()}
    assert out["t1"]["label"] == "spam|truncated" and out["t2"]["label"] == ""
    assert out["t1"]["proba_spam"] == 1.0 and out["t1"]["proba_truncated"] == pytest.approx(2 / 3)
    assert out["t2"]["proba_mojibake"] == pytest.approx(1 / 3) and out["t2"]["proba_spam"] == 0.0
    assert out["t1"]["confidence"] == pytest.approx(1.0 * (2 / 3) * 1.0) and out["t1"]["n_judgements"] == 3
    columns = control_label_columns(aggregate_multi_choice(per_option, "dawid_skene"), "issues", "dawid_skene")
    assert [c for c in columns.column_names if is_label_value_column(c)] == ["label_issues"]
    assert "label_issues_proba_spam" in columns.column_names


def test_multi_choice_with_dawid_skene_trusts_the_careful_annotators():
    # Two careful annotators tick "spam" exactly on the spam items; a third ticks it at random.
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        spam = i % 3 == 0
        rows += [(f"i{i}", a, ticks("spam") if spam else ticks()) for a in ("A", "B")]
        rows.append((f"i{i}", "C", ticks("spam") if rng.random() < 0.5 else ticks()))
    out = aggregate_multi_choice(option_presence_labels(judgements(rows), ISSUES), "dawid_skene").to_pylist()
    assert [r["label"] == "spam" for r in sorted(out, key=lambda r: int(r["item"][1:]))] == [i % 3 == 0 for i in range(40)]
    assert all(r["proba_truncated"] == 0.0 for r in out)  # never ticked: no model fitted, probability 0


def test_single_choice_and_rating_controls_read_from_results():
    rows = [("t1", "A", [{"from_name": "pii_verdict", "type": "choices", "value": {"choices": ["correct"]}}]),
            ("t1", "B", [{"from_name": "other", "type": "choices", "value": {"choices": ["x"]}}])]
    labels = control_labels(judgements(rows), "pii_verdict")
    assert labels.to_pylist() == [{"item": "t1", "annotator": "A", "label": "correct"}]


def test_spans_kept_by_majority_without_their_text():
    def span(start, end, label, text="<PHONE>"):
        return {"from_name": "pii", "type": "labels", "value": {"start": start, "end": end, "text": text, "labels": [label]}}

    rows = [("t1", "A", [span(3, 10, "PHONE"), span(12, 14, "NAME", "张三")]), ("t1", "B", [span(3, 10, "PHONE")]),
            ("t1", "C", [span(3, 10, "PHONE"), span(12, 14, "NAME", "张三")]), ("t2", "A", []), ("t2", "B", [span(0, 2, "NAME", "李四")])]
    out = {r["item"]: r for r in aggregate_spans(judgements(rows), "pii").to_pylist()}
    assert out["t1"]["label"] == "PHONE@3-10|NAME@12-14" and out["t1"]["n_judgements"] == 3
    assert out["t1"]["confidence"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert out["t2"]["label"] == ""  # one of two is not a majority
    assert answers_from_result(json_rows := rows[0][2]) == {"pii": "PHONE@3-10|NAME@12-14"} and "张三" not in str(answers_from_result(json_rows))


def test_outer_join_keeps_every_id_and_list_columns():
    a = pa.table({"id": ["b", "a"], "label_x": ["1", "2"]})
    b = pa.table({"id": ["c", "a"], "label_y_proba_z": [0.1, 0.2]})
    assert outer_join_on_id([a, b]).to_pylist() == [{"id": "a", "label_x": "2", "label_y_proba_z": 0.2},
                                                     {"id": "b", "label_x": "1", "label_y_proba_z": None},
                                                     {"id": "c", "label_x": None, "label_y_proba_z": 0.1}]
    empty = pa.table({"id": pa.array([], pa.string()), "label_x": pa.array([], pa.string())})
    assert outer_join_on_id([empty, empty]).num_rows == 0

"""Every registered Filter declares its rules (param, column, comparison, reason), and they are the reasons it gives.

For each filter a witness table has one row per declared rule that fails that rule only; running the
filter must give exactly that rule's reason on that row, and the row's value must fail the declared
comparison against the parameter. Filters whose rules can be witnessed from the declaration alone
(a stored column compared with min/max/flag) get a generated witness; the others a hand-written one,
and a new Filter without either fails `test_every_registered_filter_has_a_witness`.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pytest

from transforms.ops import Filter, OpStats, Rule, failing_mask
from transforms.registry import known_ops, register_op
from transforms.schema import DROP_REASON

# op name -> (params, rows, expected reason per row); for rules a generated witness cannot reach
HAND_WITNESSES: dict[str, tuple[dict, list[dict], list[str | None]]] = {
    "drop_short_docs": ({"min_chars": 3}, [{"text": "a \u3000b\n"}, {"text": "a b c"}], ["too_short", None]),
    "keep_languages": (
        {"languages": ["zh", "yue"], "min_confidence": 0.5},
        [{"text": "x", "lang": "en", "script": "Latn", "lang_conf": 0.9},
         {"text": "x", "lang": "zh", "script": "Hans", "lang_conf": 0.2},
         {"text": "x", "lang": "yue", "script": "Hant", "lang_conf": 0.9}],
        ["lang_not_allowed:en-Latn", "lang_low_confidence", None],
    ),
}


def registered_filters() -> dict[str, type[Filter]]:
    return {name: cls for name, cls in known_ops().items() if issubclass(cls, Filter)}


def generated_witness(cls: type[Filter]) -> tuple[dict, list[dict], list[str | None]] | None:
    """Parameters at 1 (flags on) and one row per rule failing it alone, or None when a rule needs a hand witness."""
    if any(r.measure is not None or r.comparison not in ("min", "max", "flag") for r in cls.rules):
        return None
    params = {r.param: True if r.comparison == "flag" else 1 for r in cls.rules}
    columns = {r.column: None for r in cls.rules}
    rows = []
    for rule in cls.rules:
        value = {"min": 0.0, "max": 2.0, "flag": True}[rule.comparison]
        rows.append({"text": "x", **columns, rule.column: value})
    return params, rows, [r.reason for r in cls.rules]


def witness(name: str, cls: type[Filter]):
    return HAND_WITNESSES.get(name) or generated_witness(cls)


def _table(rows: list[dict]) -> pa.Table:
    rows = [{"id": f"r{i}", **row} for i, row in enumerate(rows)]
    return pa.Table.from_pylist(rows)


def test_there_are_filters_in_transforms_and_quality():
    modules = {cls.__module__.split(".")[0] for cls in registered_filters().values()}
    assert modules == {"transforms", "quality"}
    assert {"drop_short_docs", "keep_languages", "filter_length", "filter_quality_score"} <= set(registered_filters())


@pytest.mark.parametrize("name", sorted(registered_filters()))
def test_every_registered_filter_declares_rules_on_its_own_parameters(name):
    cls = registered_filters()[name]
    assert cls.rules, f"{name} declares no rules"
    assert cls.rule_problems() == []
    for rule in cls.rules:
        assert rule.param in cls.model_fields, (name, rule.param)
        assert rule.comparison in ("min", "max", "flag", "allowed")


@pytest.mark.parametrize("name", sorted(registered_filters()))
def test_every_registered_filter_has_a_witness(name):
    assert witness(name, registered_filters()[name]) is not None, f"add a hand witness for {name} to HAND_WITNESSES"


@pytest.mark.parametrize("name", sorted(registered_filters()))
def test_declared_rules_are_the_reasons_the_filter_gives(name):
    cls = registered_filters()[name]
    params, rows, expected = witness(name, cls)
    op = cls(**params)
    out = op.apply(_table(rows), OpStats())
    reasons = out.column(DROP_REASON).to_pylist()
    assert reasons == expected
    hit = set()
    for i, reason in enumerate(reasons):
        if reason is None:
            continue
        rule = cls.rule_for(reason)
        assert rule is not None, f"{name} gave {reason!r}, which no declared rule names"
        hit.add(rule)
        threshold = getattr(op, rule.param)
        column = out.slice(i, 1).column(rule.column)
        if rule.comparison == "allowed":  # the value the rule reads is not among the parameter's
            assert column[0].as_py() not in threshold
        else:
            assert failing_mask(rule.values(column), rule.comparison, threshold).to_pylist() == [True]
    assert hit == set(cls.rules), f"{name}: rules no witness row triggered: {set(cls.rules) - hit}"


def test_rule_for_reads_detail_suffixes_and_nothing_else():
    rule = Rule("languages", "lang", "allowed", "lang_not_allowed")
    assert rule.gives("lang_not_allowed") and rule.gives("lang_not_allowed:en-Latn")
    assert not rule.gives("lang_not_allowed_x") and not rule.gives("lang")


def test_rule_describes_a_decision():
    assert Rule("min_cjk_share", "signal_cjk_share", "min", "low_cjk_share").describe(0.123456, 0.3) == \
        "signal_cjk_share = 0.1235 < min_cjk_share = 0.3"
    assert Rule("languages", "lang", "allowed", "lang_not_allowed").describe("en", ("zh",)) == \
        "lang = 'en', not in languages = ['zh']"


def test_register_op_refuses_a_filter_without_rules_or_with_an_unknown_parameter():
    class NoRules(Filter):
        name: ClassVar[str] = "test_no_rules"
        version: ClassVar[int] = 1

    class WrongParam(Filter):
        name: ClassVar[str] = "test_wrong_param"
        version: ClassVar[int] = 1
        rules: ClassVar[tuple[Rule, ...]] = (Rule("min_x", "signal_x", "min", "low_x"), Rule("min_x", "signal_x", "min", "low_x"))
        min_y: float = 0.0

    with pytest.raises(TypeError, match="declares no rules"):
        register_op(NoRules)
    with pytest.raises(TypeError, match="'min_x', which is not a field.*declared twice"):
        register_op(WrongParam)
    assert "test_no_rules" not in known_ops() and "test_wrong_param" not in known_ops()

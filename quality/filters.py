"""Quality filters: turn ``signal_*`` columns into drops with reasons, thresholds as typed params.

Each filter groups the rules of one signal family, declared in the operator contract
(`transforms.ops.Rule`: parameter, column, comparison, reason). A rule is off when its threshold
is None (or False for flags). Rows whose signal is null (e.g. words in Chinese text, PII density
without ``pii_counts``) pass that rule. When several rules fail, the first in declaration order
gives the reason. Defaults are the published English-web values (Gopher: Rae et al. 2021, C4: Raffel
et al. 2020, FineWeb: Penedo et al. 2024); the presets in configs/recipes/presets/ override them
with values measured on real Chinese text (bench/quality_thresholds.py).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from transforms.ops import NUMERIC_COMPARISONS, Comparison, Filter, Rule, failing_mask
from transforms.registry import declared_rules, get_op_class, register_op


class ThresholdFilter(Filter):
    """Base of the signal filters: evaluates the class's declared `rules` in order against its params."""

    def active_rules(self) -> list[tuple[Rule, float | bool]]:
        """Return the rules that are switched on, with their thresholds."""
        return [(rule, thr) for rule in self.rules if rule.is_on(thr := getattr(self, rule.param))]

    def drop_reasons(self, live: pa.Table) -> pa.Array:
        reasons = pa.nulls(live.num_rows, pa.string())
        for rule, thr in self.active_rules():
            if rule.column not in live.column_names:
                raise ValueError(
                    f"{self.op_id}: parameter {rule.param} needs column {rule.column!r}; "
                    f"run the scorer op {rule.source!r} earlier in the recipe"
                )
            fail = failing_mask(rule.values(live.column(rule.column)), rule.comparison, thr)
            reasons = pc.coalesce(reasons, pc.if_else(fail, pa.scalar(rule.reason), pa.scalar(None, pa.string())))
        return reasons


def _rules(scorer: str, *specs: tuple[str, str, Comparison, str]) -> tuple[Rule, ...]:
    return tuple(Rule(param, column, comparison, reason, source=scorer) for param, column, comparison, reason in specs)


@register_op
class FilterLength(ThresholdFilter):
    """Drop documents outside character/word length bounds or with odd mean word length (spaced scripts for the latter)."""

    name: ClassVar[str] = "filter_length"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = (
        "min/max non-space characters; min/max words (Gopher; estimated for Thai/Lao/Khmer/Myanmar/Tibetan, none for "
        "Han/kana) and mean word length (spaced scripts only)"
    )
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_text_stats",
        ("min_chars", "signal_chars", "min", "too_few_chars"),
        ("max_chars", "signal_chars", "max", "too_many_chars"),
        ("min_words", "signal_words", "min", "too_few_words"),
        ("max_words", "signal_words", "max", "too_many_words"),
        ("min_mean_word_len", "signal_mean_word_len", "min", "mean_word_len_low"),
        ("max_mean_word_len", "signal_mean_word_len", "max", "mean_word_len_high"),
    )

    min_chars: int | None = Field(None, ge=0, description="minimum non-space characters")
    max_chars: int | None = Field(None, ge=0, description="maximum non-space characters")
    min_words: int | None = Field(
        50, ge=0, description="minimum words (Gopher: 50); Han/kana-dominant docs have no words and pass, Thai/Lao/Khmer/"
        "Myanmar/Tibetan ones are counted as characters / the script's measured word length"
    )
    max_words: int | None = Field(100_000, ge=0, description="maximum words (Gopher: 100,000)")
    min_mean_word_len: float | None = Field(3.0, ge=0, description="Gopher: 3")
    max_mean_word_len: float | None = Field(10.0, ge=0, description="Gopher: 10")


@register_op
class FilterTextStats(ThresholdFilter):
    """Drop documents with too little CJK, or too many symbols, digits or garbled characters."""

    name: ClassVar[str] = "filter_text_stats"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "min CJK share; max symbol, digit and garbled-character share; max U+FFFD count"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_text_stats",
        ("max_garbled_share", "signal_garbled_share", "max", "garbled_text"),
        ("max_replacement_chars", "signal_replacement_chars", "max", "replacement_chars"),
        ("min_cjk_share", "signal_cjk_share", "min", "low_cjk_share"),
        ("max_symbol_share", "signal_symbol_share", "max", "symbol_heavy"),
        ("max_digit_share", "signal_digit_share", "max", "digit_heavy"),
    )

    max_garbled_share: float | None = Field(0.01, ge=0, le=1, description="U+FFFD, private-use, 锟斤拷/烫烫烫 and ftfy mojibake per char")
    max_replacement_chars: int | None = Field(None, ge=0, description="maximum count of U+FFFD")
    min_cjk_share: float | None = Field(None, ge=0, le=1, description="minimum Han/kana/hangul share (Chinese/Japanese presets)")
    max_symbol_share: float | None = Field(0.1, ge=0, le=1, description="Gopher: symbol-to-word ratio 0.1 (here per character)")
    max_digit_share: float | None = Field(None, ge=0, le=1, description="maximum decimal-digit share")


@register_op
class FilterLines(ThresholdFilter):
    """Drop documents whose lines look like navigation, lists or repeated boilerplate."""

    name: ClassVar[str] = "filter_lines"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "punctuation-ending, short, bullet, ellipsis and duplicate line/paragraph shares (Gopher, FineWeb)"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_line_stats",
        ("max_dup_line_share", "signal_dup_line_share", "max", "dup_lines"),
        ("max_dup_para_share", "signal_dup_para_share", "max", "dup_paragraphs"),
        ("max_dup_line_char_share", "signal_dup_line_char_share", "max", "dup_line_chars"),
        ("max_dup_para_char_share", "signal_dup_para_char_share", "max", "dup_paragraph_chars"),
        ("min_punct_end_line_share", "signal_punct_end_line_share", "min", "few_punct_end_lines"),
        ("max_short_line_share", "signal_short_line_share", "max", "short_lines"),
        ("max_bullet_line_share", "signal_bullet_line_share", "max", "bullet_lines"),
        ("max_ellipsis_line_share", "signal_ellipsis_line_share", "max", "ellipsis_lines"),
    )

    max_dup_line_share: float | None = Field(0.30, ge=0, le=1, description="Gopher: 0.30")
    max_dup_para_share: float | None = Field(0.30, ge=0, le=1, description="Gopher: 0.30")
    max_dup_line_char_share: float | None = Field(0.20, ge=0, le=1, description="Gopher: 0.20")
    max_dup_para_char_share: float | None = Field(0.20, ge=0, le=1, description="Gopher: 0.20")
    min_punct_end_line_share: float | None = Field(0.12, ge=0, le=1, description="FineWeb: 0.12")
    max_short_line_share: float | None = Field(0.67, ge=0, le=1, description="FineWeb: 0.67 (short = under 30 columns)")
    max_bullet_line_share: float | None = Field(0.90, ge=0, le=1, description="Gopher: 0.90")
    max_ellipsis_line_share: float | None = Field(0.30, ge=0, le=1, description="Gopher: 0.30")


@register_op
class FilterRepetition(ThresholdFilter):
    """Drop documents dominated by one n-gram or by repeated n-grams (Gopher repetition rules)."""

    name: ClassVar[str] = "filter_repetition"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "max top-{2,3,4}gram and duplicate-{5..10}gram character shares (Gopher; chars for CJK)"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_repetition",
        *[(f"max_top_{n}gram_share", f"signal_top_{n}gram_share", "max", f"top_{n}gram_repetition") for n in (2, 3, 4)],
        *[(f"max_dup_{n}gram_share", f"signal_dup_{n}gram_share", "max", f"dup_{n}gram_repetition") for n in range(5, 11)],
    )

    max_top_2gram_share: float | None = Field(0.20, ge=0, le=1, description="Gopher: 0.20")
    max_top_3gram_share: float | None = Field(0.18, ge=0, le=1, description="Gopher: 0.18")
    max_top_4gram_share: float | None = Field(0.16, ge=0, le=1, description="Gopher: 0.16")
    max_dup_5gram_share: float | None = Field(0.15, ge=0, le=1, description="Gopher: 0.15")
    max_dup_6gram_share: float | None = Field(0.14, ge=0, le=1, description="Gopher: 0.14")
    max_dup_7gram_share: float | None = Field(0.13, ge=0, le=1, description="Gopher: 0.13")
    max_dup_8gram_share: float | None = Field(0.12, ge=0, le=1, description="Gopher: 0.12")
    max_dup_9gram_share: float | None = Field(0.11, ge=0, le=1, description="Gopher: 0.11")
    max_dup_10gram_share: float | None = Field(0.10, ge=0, le=1, description="Gopher: 0.10")


@register_op
class FilterStopwords(ThresholdFilter):
    """Drop documents without running-text function words (keyword lists, tables, spam)."""

    name: ClassVar[str] = "filter_stopwords"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "min stop-word occurrences (Gopher: 2) and min stop-word share; null language passes"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_stopwords",
        ("min_stopwords", "signal_stopwords", "min", "few_stopwords"),
        ("min_stopword_share", "signal_stopword_share", "min", "low_stopword_share"),
    )

    min_stopwords: int | None = Field(2, ge=0, description="Gopher: 2")
    min_stopword_share: float | None = Field(None, ge=0, le=1, description="share of words (chars for zh/yue/ja) in stop words")


@register_op
class FilterPiiDensity(ThresholdFilter):
    """Drop documents dense with personal data (address books, leaked lists)."""

    name: ClassVar[str] = "filter_pii_density"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "max PII matches per 1,000 characters (needs pii_counts from the PII redactor)"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_pii_density", ("max_pii_density", "signal_pii_density", "max", "pii_dense")
    )

    max_pii_density: float | None = Field(..., ge=0, description="PII matches per 1,000 non-space characters")


@register_op
class FilterC4(ThresholdFilter):
    """Drop pages C4 would drop: lorem ipsum, curly braces (code), javascript notices, policy boilerplate."""

    name: ClassVar[str] = "filter_c4"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "C4 page rules as document drops; javascript/policy are line rules in C4, so off or counted here"
    rules: ClassVar[tuple[Rule, ...]] = _rules(
        "score_c4_flags",
        ("drop_lorem_ipsum", "signal_c4_lorem_ipsum", "flag", "lorem_ipsum"),
        ("drop_curly_brace", "signal_c4_curly_brace", "flag", "curly_brace"),
        ("drop_javascript", "signal_c4_javascript", "flag", "javascript"),
        ("max_policy_lines", "signal_c4_policy_lines", "max", "policy_boilerplate"),
    )

    drop_lorem_ipsum: bool = Field(True, description="C4: drop pages containing 'lorem ipsum'")
    drop_curly_brace: bool = Field(True, description="C4: drop pages with '{' or '}' (code)")
    drop_javascript: bool = Field(False, description="C4 drops only the line; dropping the page is stricter")
    max_policy_lines: int | None = Field(None, ge=0, description="maximum lines naming privacy/terms/cookie policy (EN+ZH)")


@register_op
class FilterQualityScore(ThresholdFilter):
    """Drop documents whose learned quality score is below `min_score`."""

    name: ClassVar[str] = "filter_quality_score"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "min score_quality (take the threshold `yuliao quality train` chose, from model.json)"
    rules: ClassVar[tuple[Rule, ...]] = _rules("score_quality", ("min_score", "score_quality", "min", "low_quality_score"))

    min_score: float = Field(..., ge=0, le=1, description="minimum learned quality score")


# ---------------------------------------------------------------------------------------------
# Threshold suggestion (pure; the CLI `yuliao suggest-thresholds` prints it)


def candidate_thresholds(values: np.ndarray, kind: Comparison, quantiles: tuple[float, ...]) -> list[float]:
    """Return distinct thresholds at the given quantiles of the values (rounded to 4 digits)."""
    if values.size == 0 or kind == "flag":
        return []
    qs = quantiles if kind == "min" else tuple(1 - q for q in quantiles)
    return sorted({round(float(np.quantile(values, q)), 4) for q in qs}, reverse=kind == "max")


def threshold_sweep(
    values: pa.Array | pa.ChunkedArray,
    kind: Comparison,
    thresholds: list[float],
    examples: int = 2,
) -> list[dict]:
    """Return, per threshold, how many rows it would drop and the row indices nearest the boundary.

    Boundary examples: the `examples` dropped rows closest to the threshold and the `examples`
    kept rows closest to it, so a reader sees what the cut separates.
    """
    vals = np.array([np.nan if v is None else float(v) for v in values.to_pylist()])
    known = ~np.isnan(vals)
    out = []
    for thr in thresholds:
        drop = known & ((vals < thr) if kind == "min" else (vals > thr))
        keep = known & ~drop
        dist = np.abs(vals - thr)
        drop_idx = np.nonzero(drop)[0]
        keep_idx = np.nonzero(keep)[0]
        out.append(
            {
                "threshold": thr,
                "dropped": int(drop.sum()),
                "scored": int(known.sum()),
                "dropped_share": float(drop.sum() / known.sum()) if known.any() else 0.0,
                "dropped_examples": drop_idx[np.argsort(dist[drop_idx], kind="stable")][:examples].tolist(),
                "kept_examples": keep_idx[np.argsort(dist[keep_idx], kind="stable")][:examples].tolist(),
            }
        )
    return out


def preset_thresholds(ops: list[dict]) -> dict[str, float | bool]:
    """Return {metric:comparison -> threshold} of the filters in a preset/recipe ops list (plain dicts as in the YAML)."""
    out: dict[str, float | bool] = {}
    for step in ops:
        try:
            cls = get_op_class(step.get("op", ""))
        except KeyError:
            continue
        if not issubclass(cls, Filter):
            continue
        op = cls(**{k: v for k, v in step.items() if k != "op"})
        for rule in cls.rules:
            thr = getattr(op, rule.param)
            if rule.comparison in NUMERIC_COMPARISONS and rule.is_on(thr):
                out[f"{rule.metric}:{rule.comparison}"] = thr
    return out


def threshold_report(
    table: pa.Table,
    quantiles: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2),
    current: dict[str, float | bool] | None = None,
    examples: int = 2,
    columns: tuple[str, ...] | None = None,
    rules: list[tuple[str, Rule]] | None = None,
) -> list[dict]:
    """Return, per declared min/max rule whose column is in `table`, a sweep of candidate thresholds.

    `rules` are (filter name, rule) pairs, by default every registered Filter's declared rules.
    Candidates are the values at the given quantiles of the scored rows (the min side for min
    rules, the max side for max rules), plus `current` thresholds (e.g. from a preset). Each row
    carries how many documents the threshold would drop and the boundary examples as
    (value, id, text excerpt), dropped side and kept side, and, when the table has ``drop_reason``,
    how many of the rows it would drop are kept now (what the threshold would add to the run).
    """
    current = current or {}
    seen: set[str] = set()
    report = []
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    live = np.array([r is None for r in table.column("drop_reason").to_pylist()]) if "drop_reason" in table.column_names else None
    for filter_name, rule in declared_rules() if rules is None else rules:
        key = f"{rule.metric}:{rule.comparison}"
        if key in seen or rule.comparison not in NUMERIC_COMPARISONS or rule.column not in table.column_names:
            continue
        if columns and rule.column not in columns and rule.metric not in columns:
            continue
        seen.add(key)
        col = rule.values(table.column(rule.column))
        values = col.to_pylist()
        vals = np.array([v for v in values if v is not None], dtype=np.float64)
        thresholds = candidate_thresholds(vals, rule.comparison, quantiles)
        if key in current and float(current[key]) not in thresholds:
            thresholds = sorted(thresholds + [float(current[key])], reverse=rule.comparison == "max")
        vals_all = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        rows = []
        for row in threshold_sweep(col, rule.comparison, thresholds, examples):
            cut = (vals_all < row["threshold"]) if rule.comparison == "min" else (vals_all > row["threshold"])
            row["dropped_now_kept"] = int(np.sum(cut & live)) if live is not None else None
            rows.append(row | {
                "current": key in current and float(current[key]) == row["threshold"],
                "dropped_examples": [(values[i], ids[i], _excerpt(texts[i])) for i in row["dropped_examples"]],
                "kept_examples": [(values[i], ids[i], _excerpt(texts[i])) for i in row["kept_examples"]],
            })
        report.append({"filter": filter_name, "param": rule.param, "column": rule.column, "metric": rule.metric,
                       "kind": rule.comparison, "reason": rule.reason, "scored": int(vals.size), "rows": rows})
    return report


def _excerpt(text: str, n: int = 60) -> str:
    flat = " ⏎ ".join(line.strip() for line in text.splitlines() if line.strip())
    return flat if len(flat) <= n else flat[: n - 1] + "…"

"""The operator contract: pure, frozen, typed, versioned `name@version`, batch in -> batch out.

Four kinds of operator:

* ``Mapper``  rewrites or adds columns (text normalisation, PII redaction, language id);
* ``Scorer``  only adds ``score_*`` / ``signal_*`` columns, never drops;
* ``Filter``  decides: it marks rows with a drop reason; it never removes them. The writer splits
  kept from dropped rows once, at the end. Every Filter declares its ``rules``: per reason it can
  give, the parameter, the column and the comparison that decide it, so the report, lineage and
  ``suggest-thresholds`` read the decision instead of guessing it from names.
* ``CorpusOp`` needs the whole corpus (dedup, ...): map (``signatures`` per shard) -> pure
  ``reduce`` over the small signature table -> ``apply_decisions`` per shard.

Every operator is a pydantic model with ``extra="forbid"``: its fields are its parameters, and a
mistyped recipe key is an error naming the key and the known ones. Bump ``version`` whenever the
output for the same input changes; lineage records ``name@version`` and the parameters.
Operators only ever see live rows (rows not dropped by an earlier filter): ``apply`` masks the
dropped ones out and puts them back unchanged, in their original order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, field_validator

from transforms.schema import DROP_REASON, DROPPED_BY, TRACE, ensure_decision_columns

OpKind = Literal["map", "score", "filter", "corpus"]
# How a Filter rule compares a row's value with its parameter: "min" drops values below it, "max"
# values above it, "flag" drops true values while the (boolean) parameter is on, "allowed" drops
# values not among the parameter's listed ones.
Comparison = Literal["min", "max", "flag", "allowed"]
NUMERIC_COMPARISONS: tuple[Comparison, ...] = ("min", "max")


@dataclass(frozen=True)
class Measure:
    """A value a rule computes from its column because no op stores it (e.g. non-space characters of text)."""

    name: str
    fn: Callable[[pa.Array | pa.ChunkedArray], pa.Array | pa.ChunkedArray]


@dataclass(frozen=True)
class Rule:
    """One decision a Filter declares: rows whose `column` fails parameter `param` by `comparison` get `reason`.

    A rule is off while its parameter is None (or False for a flag). An emitted reason is `reason`
    itself or `reason:detail` (``lang_not_allowed:en-Latn``). `source` names the op that writes
    `column` (None: the column is the document's own); `measure`, when set, derives the compared
    value from the column.
    """

    param: str
    column: str
    comparison: Comparison
    reason: str
    source: str | None = None
    measure: Measure | None = None

    def gives(self, reason: str) -> bool:
        """Return True when `reason` is this rule's reason (with or without a ``:detail`` suffix)."""
        return reason == self.reason or reason.startswith(f"{self.reason}:")

    @property
    def metric(self) -> str:
        """Return the name of the compared value: the column, or the measure of the column."""
        return self.column if self.measure is None else f"{self.column} ({self.measure.name})"

    def values(self, column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
        """Return the compared values of a column of `column`'s rows."""
        return column if self.measure is None else self.measure.fn(column)

    def is_on(self, threshold: object) -> bool:
        """Return True when the parameter value switches the rule on (None, or False for flags, is off)."""
        return threshold is not None and threshold is not False

    def describe(self, value: object, threshold: object) -> str:
        """Return the rule as it decided one row, e.g. ``signal_cjk_share = 0.12 < min_cjk_share = 0.3``."""
        shown = f"{value:.4g}" if isinstance(value, float) else repr(value) if isinstance(value, str) else str(value)
        if self.comparison == "min":
            return f"{self.metric} = {shown} < {self.param} = {threshold}"
        if self.comparison == "max":
            return f"{self.metric} = {shown} > {self.param} = {threshold}"
        if self.comparison == "flag":
            return f"{self.metric} = {shown} while {self.param} = {threshold}"
        return f"{self.metric} = {shown}, not in {self.param} = {list(threshold) if isinstance(threshold, (list, tuple)) else threshold}"


def failing_mask(values: pa.Array | pa.ChunkedArray, comparison: Comparison, threshold: float | bool) -> pa.Array:
    """Return True where a value fails a min/max/flag threshold (null values never fail)."""
    if comparison == "min":
        fail = pc.less(values, threshold)
    elif comparison == "max":
        fail = pc.greater(values, threshold)
    elif comparison == "flag":
        fail = pc.equal(values.cast(pa.bool_()), True)
    else:
        raise ValueError(f"comparison {comparison!r} has no threshold mask; the filter evaluates it itself")
    fail = pc.fill_null(fail, False)
    return fail.combine_chunks() if isinstance(fail, pa.ChunkedArray) else fail


@dataclass
class OpStats:
    """Counters an operator fills while it runs (changes per rule, drops per reason...)."""

    counts: Counter = field(default_factory=Counter)

    def add(self, key: str, n: int = 1) -> None:
        """Add n to counter `key` (zero adds are kept out of the record)."""
        if n:
            self.counts[key] += int(n)

    def merge(self, other: "OpStats") -> None:
        """Add another stats object's counters into this one."""
        self.counts.update(other.counts)


NUMBER_LIMIT = 2**63 - 1  # int64: what Arrow, NumPy and Parquet columns hold


def unbounded_number(value: object) -> str | None:
    """Return what is wrong with the first number in a parameter value beyond int64 or not finite, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -NUMBER_LIMIT - 1 <= value <= NUMBER_LIMIT else f"{value} is out of range (numbers must lie within ±{NUMBER_LIMIT})"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"{value} is not a finite number"
        return None if abs(value) <= NUMBER_LIMIT else f"{value} is out of range (numbers must lie within ±{NUMBER_LIMIT})"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return next((p for p in map(unbounded_number, value) if p is not None), None)
    return None


class BoundedNumbers(BaseModel):
    """Model base whose every field rejects numbers beyond int64 or not finite (op parameters, recipe sections)."""

    @field_validator("*", mode="after")
    @classmethod
    def _numbers_bounded(cls, value: object) -> object:
        # A huge or non-finite number fails at `yuliao check`, not as a traceback mid-run.
        if (problem := unbounded_number(value)) is not None:
            raise ValueError(problem)
        return value


class Operator(BoundedNumbers):
    """Base of every operator; subclasses set name/version/kind/summary and implement process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    version: ClassVar[int]
    kind: ClassVar[OpKind]
    summary: ClassVar[str] = ""

    @property
    def op_id(self) -> str:
        """Return the versioned name recorded in lineage, e.g. ``drop_short_docs@1``."""
        return f"{self.name}@{self.version}"

    def params(self) -> dict:
        """Return the operator's parameters as plain JSON values."""
        return self.model_dump(mode="json")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        """Transform live rows; must return the same rows in the same order."""
        raise NotImplementedError

    def apply(self, batch: pa.Table, stats: OpStats) -> pa.Table:
        """Run `process` on the live rows of `batch`; dropped rows pass through untouched."""
        batch = ensure_decision_columns(batch)
        return _apply_to_live(batch, lambda live: self.process(live, stats))


class Mapper(Operator):
    """An operator that rewrites or adds columns."""

    kind: ClassVar[OpKind] = "map"


class Scorer(Operator):
    """An operator that only adds ``score_*`` / ``signal_*`` columns."""

    kind: ClassVar[OpKind] = "score"


class Filter(Operator):
    """An operator that decides which rows to drop, with a reason per dropped row, declared in `rules`."""

    kind: ClassVar[OpKind] = "filter"
    rules: ClassVar[tuple[Rule, ...]] = ()  # one per reason the filter gives; `register_op` refuses none

    @classmethod
    def rule_for(cls, reason: str) -> Rule | None:
        """Return the declared rule that gives `reason`, or None."""
        return next((r for r in cls.rules if r.gives(reason)), None)

    @classmethod
    def rule_problems(cls) -> list[str]:
        """Return what is wrong with the class's rules (none declared, unknown parameter, reason given twice)."""
        if not cls.rules:
            return [f"{cls.__name__} declares no rules"]
        problems = [f"{cls.__name__}: rule {r.reason!r} names parameter {r.param!r}, which is not a field"
                    for r in cls.rules if r.param not in cls.model_fields]
        reasons = [r.reason for r in cls.rules]
        problems += [f"{cls.__name__}: reason {x!r} declared twice" for x in sorted({x for x in reasons if reasons.count(x) > 1})]
        return problems

    def drop_reasons(self, live: pa.Table) -> pa.Array:
        """Return one reason per row: a string to drop it, null to keep it."""
        raise NotImplementedError

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        """Mark the rows `drop_reasons` names as dropped by this operator."""
        reasons = self.drop_reasons(live)
        if len(reasons) != live.num_rows:
            raise ValueError(f"{self.op_id}: drop_reasons returned {len(reasons)} values for {live.num_rows} rows")
        for reason, n in Counter(r for r in reasons.to_pylist() if r is not None).items():
            stats.add(f"dropped:{reason}", n)
        return mark_dropped(live, reasons, self.op_id)


class CorpusOp(Operator):
    """An operator that needs the whole corpus: signatures per shard, pure reduce, apply per shard."""

    kind: ClassVar[OpKind] = "corpus"

    def signatures(self, live: pa.Table, shard: int) -> pa.Table:
        """Map: return a small table of what `reduce` needs from this shard's live rows."""
        raise NotImplementedError

    def reduce(self, signatures: pa.Table) -> pa.Table:
        """Reduce: from all shards' signatures return decisions keyed by ``id``."""
        raise NotImplementedError

    def apply_decisions(self, live: pa.Table, decisions: pa.Table, stats: OpStats) -> pa.Table:
        """Apply: mark/annotate this shard's live rows from the decisions table."""
        raise NotImplementedError

    def apply_corpus(self, batch: pa.Table, decisions: pa.Table, stats: OpStats) -> pa.Table:
        """Run `apply_decisions` on the live rows of `batch`; dropped rows pass through."""
        batch = ensure_decision_columns(batch)
        return _apply_to_live(batch, lambda live: self.apply_decisions(live, decisions, stats))

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:  # single-shard convenience
        """Run map, reduce and apply on one table (tests and one-shard runs)."""
        return self.apply_decisions(live, self.reduce(self.signatures(live, 0)), stats)


def live_mask(batch: pa.Table) -> pa.ChunkedArray:
    """Return True for rows not yet dropped."""
    return pc.is_null(batch.column(DROP_REASON))


def _apply_to_live(batch: pa.Table, fn) -> pa.Table:
    """Apply fn to the live rows and reassemble the batch in its original row order."""
    mask = live_mask(batch)
    n_live = pc.sum(mask.cast(pa.int64())).as_py() or 0
    if n_live == batch.num_rows:
        out = fn(batch)
        _check_same_rows(batch, out)
        return out
    if n_live == 0:
        return batch
    live = batch.filter(mask)
    dead = batch.filter(pc.invert(mask))
    out = fn(live)
    _check_same_rows(live, out)
    merged = pa.concat_tables([out, dead.select([c for c in dead.column_names])], promote_options="default")
    # Positions of live rows then dead rows in the original batch; invert to restore order.
    idx = pa.array(range(batch.num_rows), pa.int64())
    order = pa.concat_arrays([idx.filter(mask.combine_chunks()), idx.filter(pc.invert(mask).combine_chunks())])
    inverse = pc.sort_indices(order)
    return merged.take(inverse)


def _check_same_rows(before: pa.Table, after: pa.Table) -> None:
    if after.num_rows != before.num_rows:
        raise ValueError(f"operator changed the row count ({before.num_rows} -> {after.num_rows}); filters must mark, not remove")


def mark_dropped(live: pa.Table, reasons: pa.Array, op_id: str) -> pa.Table:
    """Return `live` with drop_reason/dropped_by set where `reasons` is not null."""
    live = ensure_decision_columns(live)
    reasons = pa.array(reasons, pa.string()) if not isinstance(reasons, (pa.Array, pa.ChunkedArray)) else reasons
    old = live.column(DROP_REASON)
    new_reason = pc.coalesce(old, reasons)
    by = pc.if_else(pc.and_(pc.is_null(old), pc.is_valid(reasons)), pa.scalar(op_id), live.column(DROPPED_BY))
    live = live.set_column(live.schema.get_field_index(DROP_REASON), DROP_REASON, new_reason)
    return live.set_column(live.schema.get_field_index(DROPPED_BY), DROPPED_BY, by.cast(pa.string()))


def add_trace(batch: pa.Table, notes: list[str | None]) -> pa.Table:
    """Append a per-row note (None = untouched) to the ``trace`` column of `batch`."""
    batch = ensure_decision_columns(batch)
    old = batch.column(TRACE).to_pylist()
    new = [(o or []) + [n] if n else o for o, n in zip(old, notes, strict=True)]
    return batch.set_column(batch.schema.get_field_index(TRACE), TRACE, pa.array(new, pa.list_(pa.string())))


def set_column(batch: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Return `batch` with column `name` replaced or appended."""
    i = batch.schema.get_field_index(name)
    if i >= 0:
        return batch.set_column(i, name, values)
    return batch.append_column(name, values)


def reasons_where(mask: pa.Array | pa.ChunkedArray, reason: str) -> pa.Array:
    """Return `reason` where mask is true and null elsewhere (a Filter's drop_reasons)."""
    out = pc.if_else(mask, pa.scalar(reason, pa.string()), pa.scalar(None, pa.string()))
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out

"""Redaction outside the text column: quarantine excerpts and details, rows dropped before redaction.

`redact_pii` redacts the live rows it sees. A value also surfaces where that operator never looks:
the raw excerpt and error detail of a quarantined line, and rows a filter or dedup dropped before
`redact_pii` ran (operators only see live rows). When a recipe redacts PII (a `redact_pii` op in
`redact` mode), the flows apply these functions where those tables are written, with the same
detector (`transforms.pii.find_pii`) and the recipe's own types and placeholder. A recipe whose
`redact_pii` only detects (PII review) leaves them raw, as it leaves its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from transforms import pii
from transforms.ops import Operator, OpStats
from transforms.schema import DROP_REASON, DROPPED_BY, RAW_EXCERPT_BYTES, TRACE

# What replaces an excerpt that cannot be checked (UTF-16/32 or binary bytes: the detector reads text).
WITHHELD_EXCERPT = b"<excerpt withheld: not UTF-8 text, so it could not be checked for personal information>"
# A value cut in half by the excerpt's end no longer validates, yet its first digits are still
# personal (an ID's region and birth date): a trailing run of digits and separators is masked.
_CUT_TAIL = re.compile(r"[0-9A-Za-z０-９+＋(（][0-9A-Za-z０-９ \-－()（）+＋.@]*\Z")
_DIGIT = re.compile(r"[0-9０-９]")


@dataclass(frozen=True)
class RedactionPolicy:
    """What the recipe's first redacting `redact_pii` op looks for, how, and what it writes instead."""

    types: frozenset[str]
    placeholder: str
    opts: pii.DetectOptions = pii.DEFAULT_OPTIONS


def is_redacting(op: Operator) -> bool:
    """True for a `redact_pii` op that replaces values (not one that only detects them)."""
    return op.name == "redact_pii" and getattr(op, "mode", "redact") == "redact"


def redaction_policy(ops: list[Operator]) -> RedactionPolicy | None:
    """Return the policy of the recipe's first redacting op, or None when the recipe redacts nothing."""
    op = next((op for op in ops if is_redacting(op)), None)
    if op is None:
        return None
    return RedactionPolicy(frozenset(op.types), op.placeholder,  # type: ignore[attr-defined]
                           pii.DetectOptions(id_max_year=op.id_max_birth_year))  # type: ignore[attr-defined]


def redact_string(text: str, policy: RedactionPolicy) -> str:
    """Return `text` with every value the detector finds replaced by its typed placeholder."""
    return pii.redact_text(text, policy.types, policy.placeholder, policy.opts)


def mask_cut_tail(text: str, placeholder: str) -> str:
    """Replace a trailing alphanumeric run with >= 4 digits or an '@' (a value cut by truncation) by `placeholder`."""
    m = _CUT_TAIL.search(text)
    if m is None or (len(_DIGIT.findall(m.group())) < 4 and "@" not in m.group()):
        return text
    return text[:m.start()] + placeholder


def redact_excerpt(raw: bytes, policy: RedactionPolicy) -> bytes:
    """Return a quarantined line's raw excerpt with PII redacted; bytes that are not UTF-8 text are withheld.

    The excerpt is decoded as UTF-8 with undecodable bytes kept as they are (surrogateescape: a GBK
    or Big5 line keeps its ASCII digits, which is where the values are), redacted, re-encoded.
    Excerpts holding NUL bytes (UTF-16/32, binary) cannot be read that way and are withheld.
    An excerpt as long as the excerpt limit was cut: a number at its very end is masked too.
    """
    if not raw:
        return raw
    if b"\x00" in raw:
        return WITHHELD_EXCERPT
    text = raw.decode("utf-8", "surrogateescape")
    out = redact_string(text, policy)
    if len(raw) >= RAW_EXCERPT_BYTES:
        out = mask_cut_tail(out, policy.placeholder.format(type="CUT"))
    return out.encode("utf-8", "surrogateescape")


def redact_quarantine(table: pa.Table, policy: RedactionPolicy | None) -> pa.Table:
    """Return a quarantine table with its raw excerpts and details redacted (unchanged without a policy)."""
    if policy is None or table.num_rows == 0:
        return table
    if "raw_excerpt" in table.column_names:
        excerpts = [None if b is None else redact_excerpt(b, policy) for b in table.column("raw_excerpt").to_pylist()]
        i = table.schema.get_field_index("raw_excerpt")
        table = table.set_column(i, table.schema.field(i), pa.array(excerpts, table.schema.field(i).type))
    if "detail" in table.column_names:  # details name fields and quote parser messages, which may hold values
        details = [None if d is None else redact_string(d, policy) for d in table.column("detail").to_pylist()]
        i = table.schema.get_field_index("detail")
        table = table.set_column(i, table.schema.field(i), pa.array(details, table.schema.field(i).type))
    return table


def after_drop_prefix(op: Operator) -> str:
    """Return the trace prefix of a redaction applied to a row after it was dropped."""
    return f"{op.op_id} (after the drop): "


def needs_redaction(dropped: pa.Table, ops: list[Operator], position: int) -> pa.Array:
    """Return True for dropped rows the redacting op at recipe `position` never saw.

    A row dropped by an op that only comes before `position` was not redacted; one dropped by an
    op that only comes after it was. When the dropping op is unknown (a gate) or occurs on both
    sides (the same filter twice), the row's `pii_counts` tells: the op fills it for every row it
    processes, so a null (or a table without the column) means the op never saw the row. Rows
    this module already redacted carry the op's "(after the drop)" trace note and are skipped,
    so applying it again (stage after stage) changes nothing.
    """
    before = {op.op_id for op in ops[:position]}
    after = {op.op_id for op in ops[position + 1:]}
    by = dropped.column(DROPPED_BY).combine_chunks()
    only_before = pc.is_in(by, value_set=pa.array(sorted(before - after), pa.string()))
    only_after = pc.is_in(by, value_set=pa.array(sorted(after - before), pa.string()))
    unseen = (pc.is_null(dropped.column("pii_counts")).combine_chunks() if "pii_counts" in dropped.column_names
              else pa.array([True] * dropped.num_rows))
    dropped_rows = pc.is_valid(dropped.column(DROP_REASON)).combine_chunks()
    ambiguous = pc.invert(pc.or_(only_before, only_after))
    marker = after_drop_prefix(ops[position])
    done = pa.array([any(n.startswith(marker) for n in (t or ())) for t in dropped.column(TRACE).to_pylist()], pa.bool_())
    todo = pc.and_(pc.invert(done), pc.or_(only_before, pc.and_(ambiguous, unseen)))
    return pc.and_(dropped_rows, todo)


def _replace_rows(batch: pa.Table, mask: pa.Array, new_rows: pa.Table) -> pa.Table:
    """Return `batch` with the rows where `mask` is True replaced by `new_rows` (same order, same schema)."""
    rest = batch.filter(pc.invert(mask))
    merged = pa.concat_tables([new_rows.select(batch.column_names).cast(batch.schema), rest])
    idx = pa.array(range(batch.num_rows), pa.int64())
    order = pa.concat_arrays([idx.filter(mask), idx.filter(pc.invert(mask))])
    return merged.take(pc.sort_indices(order))


def redact_dropped_rows(dropped: pa.Table, ops: list[Operator]) -> pa.Table:
    """Return a batch with the recipe's redaction applied to its rows dropped before it ran (live rows untouched).

    Each redacting op is run (its own `process`: text, and whatever else it redacts) on the rows
    dropped by an earlier op. Only columns the table already has are rewritten (text, meta and,
    when the batch carries them, `pii_counts`/`sensitivity`/`pii_spans`), so its schema never
    changes. The op's trace note is recorded as `<op>@<v> (after the drop): redacted …`, which
    lineage lists as its own step (the op itself is "not applied": the row was dropped first).
    """
    if DROPPED_BY not in dropped.column_names or dropped.column(DROP_REASON).null_count == dropped.num_rows:
        return dropped  # nothing dropped (most staged batches): nothing to do
    for position, op in enumerate(ops):
        if not is_redacting(op):
            continue
        mask = needs_redaction(dropped, ops, position)
        if not pc.any(mask).as_py():
            continue
        rows = dropped.filter(mask)
        out = op.process(rows.set_column(rows.schema.get_field_index(TRACE), TRACE, pa.nulls(rows.num_rows, rows.schema.field(TRACE).type)),
                         OpStats())
        changed = [c for c in rows.column_names if c != TRACE and c in out.column_names and not out.column(c).equals(rows.column(c))]
        new = rows
        for c in changed:
            new = new.set_column(new.schema.get_field_index(c), new.schema.field(c), out.column(c).cast(new.schema.field(c).type))
        prefix = f"{op.op_id}: "
        notes = [[n.replace(prefix, after_drop_prefix(op), 1) for n in (t or [])] for t in out.column(TRACE).to_pylist()]
        traces = [(old or []) + extra or None for old, extra in zip(rows.column(TRACE).to_pylist(), notes)]
        new = new.set_column(new.schema.get_field_index(TRACE), new.schema.field(TRACE), pa.array(traces, new.schema.field(TRACE).type))
        dropped = _replace_rows(dropped, mask, new)
    return dropped

"""Foundation operators: whitespace/control normalisation, minimum length, exact dedup."""

from __future__ import annotations

import unicodedata
from transforms.lazy import build_once
from typing import ClassVar, Literal

import opencc

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from transforms.hashing import text_hash64
from transforms.ops import CorpusOp, Filter, Mapper, Measure, OpStats, Rule, add_trace, mark_dropped, reasons_where, set_column
from transforms.registry import register_op
from transforms.schema import CLUSTER_ID, DUPLICATE_OF, ensure_decision_columns

# (rule name, RE2 pattern, replacement), applied in order. Chinese punctuation and the
# ideographic space U+3000 are left alone: they are content, not layout.
_WHITESPACE_RULES: tuple[tuple[str, str, str], ...] = (
    ("crlf", r"\r\n?|\x{2028}|\x{2029}|\x{85}", "\n"),
    ("control", r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{80}-\x{84}\x{86}-\x{9f}]", ""),
    ("zero_width", r"[\x{200b}\x{2060}\x{feff}\x{ad}]", ""),
    ("joiners", r"[\x{200c}\x{200d}]", ""),  # only with strip_joiners: ZWJ/ZWNJ carry emoji and Indic/Persian text
    ("spaces", r"[ \t\x{a0}\x{2000}-\x{200a}\x{202f}\x{205f}]+", " "),
    ("line_edges", r"(?m)^ +| +$", ""),
    ("blank_lines", r"\n{3,}", "\n\n"),
    ("doc_edges", r"^\s+|\s+$", ""),
)


@register_op
class NormalizeWhitespace(Mapper):
    """Normalise line breaks and horizontal whitespace, strip control and zero-width characters."""

    name: ClassVar[str] = "normalize_whitespace"
    version: ClassVar[int] = 2
    summary: ClassVar[str] = "CRLF->LF, strip C0/C1 controls and zero-width chars, collapse spaces, keep paragraphs"

    # Same default as normalize_unicode's strip_joiners, so running both never undoes the other.
    strip_joiners: bool = Field(False, description="also strip ZWNJ/ZWJ (U+200C/U+200D), which emoji and Indic/Persian text need")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        text = live.column("text")
        changed_by: list[list[str]] = [[] for _ in range(live.num_rows)]
        for rule, pattern, repl in _WHITESPACE_RULES:
            if rule == "joiners" and not self.strip_joiners:
                continue
            new = pc.replace_substring_regex(text, pattern=pattern, replacement=repl)
            diff = pc.not_equal(new, text)
            n = pc.sum(diff.cast(pa.int64())).as_py() or 0
            if n:
                stats.add(f"changed:{rule}", n)
                for i in pc.indices_nonzero(diff.combine_chunks()).to_pylist():
                    changed_by[i].append(rule)
            text = new
        live = set_column(live, "text", text)
        notes = [f"{self.op_id}: {','.join(r)}" if r else None for r in changed_by]
        return add_trace(live, notes)


def count_text_chars(text: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return the number of non-whitespace characters per text (CJK has no words to count)."""
    total = pc.utf8_length(text)
    # RE2's \s is ASCII-only: add the Unicode separators (U+3000 ideographic space, NBSP, ...).
    spaces = pc.count_substring_regex(text, pattern=r"[\s\p{Z}\x{85}]")
    return pc.subtract(total, spaces)


NON_SPACE_CHARS = Measure("non-space characters", count_text_chars)


@register_op
class DropShortDocs(Filter):
    """Drop documents with fewer than `min_chars` non-whitespace characters."""

    name: ClassVar[str] = "drop_short_docs"
    version: ClassVar[int] = 2
    summary: ClassVar[str] = "drop documents shorter than min_chars non-whitespace characters"
    rules: ClassVar[tuple[Rule, ...]] = (Rule("min_chars", "text", "min", "too_short", measure=NON_SPACE_CHARS),)

    min_chars: int = Field(..., ge=0, description="minimum number of non-whitespace characters")

    def drop_reasons(self, live: pa.Table) -> pa.Array:
        (rule,) = self.rules
        return reasons_where(pc.less(rule.values(live.column(rule.column)), self.min_chars), rule.reason)


DedupNormStep = Literal["whitespace", "case", "width", "punctuation", "script"]
OpenCCConfig = Literal["t2s", "tw2s", "tw2sp", "hk2s"]


@build_once
def opencc_converter(config: str) -> opencc.OpenCC:
    """Return the (cached) OpenCC converter for a config shipped inside the opencc package, e.g. t2s."""
    return opencc.OpenCC(config)


def normalize_for_dedup(text: str, steps: tuple[str, ...], script: str = "t2s") -> str:
    """Return the dedup key text: `text` with the chosen normalisation steps applied."""
    if "script" in steps:
        text = opencc_converter(script).convert(text)  # Traditional and Simplified copies share a key
    if "width" in steps:
        text = unicodedata.normalize("NFKC", text)  # full-width ASCII and CJK punctuation -> narrow
    if "case" in steps:
        text = text.casefold()
    if "punctuation" in steps:
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    if "whitespace" in steps:
        text = "".join(text.split())
    return text


@register_op
class DedupExact(CorpusOp):
    """Drop exact duplicates of a normalised text across the whole run, keeping one per cluster."""

    name: ClassVar[str] = "dedup_exact"
    version: ClassVar[int] = 2
    summary: ClassVar[str] = "exact dedup on a normalised-text hash across all shards"

    normalize: tuple[DedupNormStep, ...] = ("whitespace", "width", "case")
    script: OpenCCConfig = Field("t2s", description="OpenCC config used by the 'script' normalisation step")
    keep: Literal["first", "longest"] = "first"

    def signatures(self, live: pa.Table, shard: int) -> pa.Table:
        texts = live.column("text").to_pylist()
        steps = tuple(self.normalize)
        return pa.table(
            {
                "id": live.column("id"),
                "hash": pa.array([text_hash64(normalize_for_dedup(t, steps, self.script)) for t in texts], pa.int64()),
                "shard": pa.array([shard] * live.num_rows, pa.int32()),
                "row": pa.array(range(live.num_rows), pa.int64()),
                "length": pc.utf8_length(live.column("text")).cast(pa.int64()),
            }
        )

    def reduce(self, signatures: pa.Table) -> pa.Table:
        return reduce_exact_clusters(signatures, self.keep, "exact_duplicate")

    def apply_decisions(self, live: pa.Table, decisions: pa.Table, stats: OpStats) -> pa.Table:
        return apply_duplicate_decisions(live, decisions, self.op_id, stats)


def reduce_exact_clusters(signatures: pa.Table, keep: str, reason: str) -> pa.Table:
    """Group signatures by `hash`; return id, cluster_id, duplicate_of, drop_reason for clustered rows."""
    if signatures.num_rows == 0:
        return pa.table({"id": pa.array([], pa.string()), CLUSTER_ID: pa.array([], pa.string()),
                         DUPLICATE_OF: pa.array([], pa.string()), "drop_reason": pa.array([], pa.string())})
    # Winner order: first seen = (shard, row); longest = (-length, shard, row). Deterministic.
    neg_len = pc.negate(signatures.column("length"))
    sig = signatures.append_column("neg_length", neg_len)
    keys = [("hash", "ascending")]
    keys += [("neg_length", "ascending")] if keep == "longest" else []
    keys += [("shard", "ascending"), ("row", "ascending")]
    sig = sig.take(pc.sort_indices(sig, sort_keys=keys))
    hashes = sig.column("hash").to_numpy()
    ids = sig.column("id").to_pylist()
    out_id, out_cluster, out_dup, out_reason = [], [], [], []
    n = len(ids)
    i = 0
    while i < n:
        j = i + 1
        while j < n and hashes[j] == hashes[i]:
            j += 1
        if j - i > 1:
            winner = ids[i]
            for k in range(i, j):
                out_id.append(ids[k])
                out_cluster.append(winner)
                out_dup.append(None if k == i else winner)
                out_reason.append(None if k == i else reason)
        i = j
    return pa.table({"id": pa.array(out_id, pa.string()), CLUSTER_ID: pa.array(out_cluster, pa.string()),
                     DUPLICATE_OF: pa.array(out_dup, pa.string()), "drop_reason": pa.array(out_reason, pa.string())})


def apply_duplicate_decisions(live: pa.Table, decisions: pa.Table, op_id: str, stats: OpStats) -> pa.Table:
    """Set cluster_id/duplicate_of from `decisions` and mark the non-kept duplicates dropped."""
    if decisions.num_rows == 0 or live.num_rows == 0:
        return live
    live = ensure_decision_columns(live)  # callers may pass a bare document table (process())
    pos = pc.index_in(live.column("id"), value_set=decisions.column("id"))
    cluster = pc.take(decisions.column(CLUSTER_ID), pos)
    dup = pc.take(decisions.column(DUPLICATE_OF), pos)
    reason = pc.take(decisions.column("drop_reason"), pos)
    live = set_column(live, CLUSTER_ID, pc.coalesce(cluster, live.column(CLUSTER_ID)))
    live = set_column(live, DUPLICATE_OF, pc.coalesce(dup, live.column(DUPLICATE_OF)))
    n = pc.sum(pc.is_valid(reason).cast(pa.int64())).as_py() or 0
    stats.add("dropped:" + (decisions.column("drop_reason").drop_null()[0].as_py() if n else "duplicate"), n)
    return mark_dropped(live, reason.combine_chunks() if isinstance(reason, pa.ChunkedArray) else reason, op_id)

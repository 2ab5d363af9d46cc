"""The operator contract: frozen, typed, versioned, masks dropped rows, keeps row order."""

from typing import ClassVar

import pyarrow as pa
import pytest
from pydantic import ValidationError

from transforms.ops import Filter, Mapper, OpStats, mark_dropped, reasons_where, set_column
from transforms.schema import docs_from_pylist


def _docs(texts):
    return docs_from_pylist([dict(id=f"d{i}", text=t, source="s", source_uri=f"f:{i}", raw_sha256="0" * 64)
                             for i, t in enumerate(texts)])


class Upper(Mapper):
    name: ClassVar[str] = "test_upper"
    version: ClassVar[int] = 3
    suffix: str = ""

    def process(self, live, stats):
        stats.add("seen", live.num_rows)
        return set_column(live, "text", pa.array([t.upper() + self.suffix for t in live.column("text").to_pylist()]))


class DropB(Filter):
    name: ClassVar[str] = "test_drop_b"
    version: ClassVar[int] = 1

    def drop_reasons(self, live):
        return reasons_where(pa.array(["b" in t for t in live.column("text").to_pylist()]), "has_b")


def test_operator_is_frozen_and_rejects_unknown_params():
    op = Upper(suffix="!")
    assert op.op_id == "test_upper@3"
    with pytest.raises(ValidationError):
        Upper(sufix="!")
    with pytest.raises(ValidationError):
        op.suffix = "?"


def test_filter_marks_rows_and_later_ops_skip_dropped_rows_in_order():
    batch = _docs(["a1", "b2", "a3", "b4", "a5"])
    stats = OpStats()
    batch = DropB().apply(batch, stats)
    assert batch.num_rows == 5  # marked, not removed
    assert batch.column("drop_reason").to_pylist() == [None, "has_b", None, "has_b", None]
    assert batch.column("dropped_by").to_pylist() == [None, "test_drop_b@1", None, "test_drop_b@1", None]
    batch = Upper(suffix="!").apply(batch, stats)
    assert batch.column("id").to_pylist() == ["d0", "d1", "d2", "d3", "d4"]
    assert batch.column("text").to_pylist() == ["A1!", "b2", "A3!", "b4", "A5!"]
    assert stats.counts["seen"] == 3 and stats.counts["dropped:has_b"] == 2


def test_mark_dropped_keeps_first_reason():
    batch = _docs(["x", "y"])
    batch = mark_dropped(batch, pa.array(["first", None]), "a@1")
    batch = mark_dropped(batch, pa.array(["second", "second"]), "b@1")
    assert batch.column("drop_reason").to_pylist() == ["first", "second"]
    assert batch.column("dropped_by").to_pylist() == ["a@1", "b@1"]


def test_input_batch_is_not_mutated():
    batch = _docs(["a", "b"])
    before = batch.column("text").to_pylist()
    Upper().apply(batch, OpStats())
    assert batch.column("text").to_pylist() == before


def test_shipped_op_index_matches_discovery():
    from transforms.registry import build_op_index, op_index

    # Regenerate with `python -m transforms.registry` after adding or moving an operator.
    assert op_index() == build_op_index()

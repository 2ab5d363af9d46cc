"""Lineage shows what annotators answered, never the text of the spans they marked (it may be personal data)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from flows.io.annotation_layout import ANNOTATIONS_FILE, project_dir
from flows.io.lineage import find_annotations

PHONE = "13812345678"  # what an annotator marked as a phone number redact_pii missed


def test_lineage_reduces_marked_spans_to_type_and_offsets(tmp_path: Path):
    result = [
        {"from_name": "pii", "to_name": "text", "type": "labels",
         "value": {"start": 4, "end": 15, "text": PHONE, "labels": ["PHONE"]}},
        {"from_name": "pii_verdict", "to_name": "text", "type": "choices", "value": {"choices": ["missed_pii"]}},
    ]
    out = project_dir(tmp_path, 7)
    out.mkdir(parents=True)
    pq.write_table(pa.table({
        "project_id": [7], "annotation_id": [1], "task_id": [10], "record_id": ["rec-1"], "annotator_id": [3],
        "annotator": ["a@annotators.test"], "result": [json.dumps(result, ensure_ascii=False)], "was_cancelled": [False],
    }), out / ANNOTATIONS_FILE)

    (row,) = find_annotations(tmp_path, "rec-1")

    assert row["answers"] == {"pii": "PHONE@4-15", "pii_verdict": "missed_pii"}
    assert row["annotator"] == "a@annotators.test" and row["task_id"] == 10
    assert PHONE not in json.dumps(row, ensure_ascii=False, default=str)

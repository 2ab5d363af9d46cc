"""Columnar readers: Parquet (row-group batches) and Hugging Face datasets saved to disk (Arrow stream files).

Rows have no raw bytes of their own, so `raw_sha256` hashes the row's canonical JSON (sorted keys,
UTF-8), which is stable across reruns and changes exactly when the row's values change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, mapping_of, register_format
from flows.io.recipe import InputSpec
from transforms.convert.records import Quarantined, record_to_doc

HF_META_FILES = ("state.json", "dataset_info.json", "dataset_dict.json")


class ColumnarOptions(BaseModel):
    """Batching of columnar files."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    batch_rows: int = Field(8192, gt=0, description="rows decoded at a time (memory bound per batch)")


def canonical_row_bytes(row: dict[str, Any]) -> bytes:
    """Return the canonical JSON bytes of a row (its raw_sha256 input)."""
    return json.dumps(row, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":")).encode("utf-8")


def rows_to_items(spec: InputSpec, source: Source, batches: Iterator[pa.RecordBatch]) -> Iterator[dict | Quarantined]:
    """Turn Arrow record batches into documents, one per row, `source_uri` = `file#row=N`."""
    mapping = mapping_of(spec)
    row_no = 0
    for batch in batches:
        for row in batch.to_pylist():
            uri = f"{source.uri}#row={row_no}"
            raw = canonical_row_bytes(row)
            if len(raw) > spec.max_record_bytes:
                yield Quarantined(spec.source, uri, "oversized_record",
                                  f"row is {len(raw)} bytes as JSON, over max_record_bytes={spec.max_record_bytes}", raw[:256])
            else:
                yield record_to_doc(row, raw, source=spec.source, source_uri=uri, locator=f"{source.uri}#{row_no}",
                                    mapping=mapping, mojibake=spec.mojibake)
            row_no += 1


def _columns(spec: InputSpec, schema: pa.Schema) -> list[str] | None:
    if spec.meta_fields is None:
        return None
    wanted = [spec.text_field, *( [spec.id_field] if spec.id_field else []), *spec.meta_fields]
    return [c for c in dict.fromkeys(wanted) if c in schema.names] or None


@register_format("parquet", (".parquet", ".pq"), ColumnarOptions)
def read_parquet(spec: InputSpec, options: ColumnarOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a Parquet file batch by batch (only the mapped columns when meta_fields is set)."""
    with source.open() as f:
        pf = pq.ParquetFile(f)
        cols = _columns(spec, pf.schema_arrow)
        yield from rows_to_items(spec, source, pf.iter_batches(batch_size=options.batch_rows, columns=cols))


@register_format("hf_arrow", (".arrow",), ColumnarOptions)
def read_hf_arrow(spec: InputSpec, options: ColumnarOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read an Arrow stream file of a Hugging Face dataset saved with save_to_disk (memory-mapped, batch by batch)."""
    if "!" in source.uri:
        stream = source.open()
    else:
        stream = pa.memory_map(source.uri, "r")
    with stream:
        try:
            reader = pa.ipc.open_stream(stream)
        except pa.ArrowInvalid:
            stream.seek(0)
            reader = pa.ipc.open_file(stream)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        else:
            batches = iter(reader)
        n = options.batch_rows
        yield from rows_to_items(spec, source, (big.slice(i, n) for big in batches for i in range(0, big.num_rows, n)))

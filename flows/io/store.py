"""File adapters for run directories: Parquet writers with a stable schema, JSON records, paths."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.schema import DROP_REASON, DROPPED_BY, DUPLICATE_OF

PARQUET_COMPRESSION = "zstd"
# Columns that are all-null in kept rows: they only say why a row is *not* kept.
DROP_ONLY_COLUMNS: tuple[str, ...] = (DROP_REASON, DROPPED_BY, DUPLICATE_OF)


def part_name(shard: int) -> str:
    """Return the file name of a shard's part file."""
    return f"part-{shard:05d}.parquet"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def conform(table: pa.Table, schema: pa.Schema, on_extra: Literal["error", "drop"] = "error") -> pa.Table:
    """Cast `table` to exactly `schema`'s columns: missing ones null, types cast; extra ones raise or drop."""
    cols = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            cols.append(col if col.type == field.type else col.cast(field.type))
        else:
            cols.append(pa.nulls(table.num_rows, type=field.type))
    extra = [n for n in table.column_names if n not in schema.names]
    if extra and on_extra == "error":
        raise ValueError(f"batch has columns {extra} that earlier batches of this shard did not; operators must add columns consistently")
    return pa.Table.from_arrays(cols, schema=schema)


def _settle_null_types(table: pa.Table) -> pa.Table:
    """Give all-null columns of type null a concrete string type so later batches can fill them."""
    fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


class PartWriter:
    """Writes one Parquet part file atomically (temp name, renamed on close); opened on first rows."""

    def __init__(self, path: Path, drop_columns: tuple[str, ...] = ()) -> None:
        self.path = path
        self.drop_columns = drop_columns
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Append rows (no-op for an empty table)."""
        if table.num_rows == 0:
            return
        table = table.drop_columns([c for c in self.drop_columns if c in table.column_names])
        if self._writer is None:
            table = _settle_null_types(table)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, table.schema, compression=PARQUET_COMPRESSION)
        else:
            table = conform(table, self._writer.schema)
        self._writer.write_table(table, row_group_size=64 * 1024)
        self.rows += table.num_rows

    def close(self) -> int:
        """Finish the file (rename into place); return the rows written."""
        if self._writer is not None:
            self._writer.close()
            os.replace(self._tmp, self.path)
        return self.rows


def read_parts(directory: Path) -> pa.Table | None:
    """Read every part file of a directory into one table (None when there are none)."""
    files = sorted(directory.glob("part-*.parquet"))
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

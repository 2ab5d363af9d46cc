"""Print a sha256 per table (kept, dropped, quarantine) of a run directory, rows ordered by content.

Used to show that a refactor changed no decision: run the same recipe before and after and compare
the digests. Columns that name the run itself (run ids, wall-clock times) are left out.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

VOLATILE = {"run_id", "ingested_at", "processed_at", "created_at"}


def table_digest(parts: list[Path]) -> tuple[int, str]:
    """Rows and sha256 of the parts' rows, each row serialised in column-name order, rows sorted."""
    if not parts:
        return 0, "-"
    table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="permissive")
    names = sorted(n for n in table.column_names if n not in VOLATILE)
    rows = sorted(repr([row[n] for n in names]) for row in table.select(names).to_pylist())
    h = hashlib.sha256()
    for row in rows:
        h.update(row.encode("utf-8", "surrogatepass") + b"\n")
    return len(rows), h.hexdigest()


def main(run_dir: str) -> None:
    root = Path(run_dir)
    for name in ("kept", "dropped", "quarantine"):
        n, digest = table_digest(sorted((root / name).glob("*.parquet")))
        print(f"{name:10s} {n:8d} {digest}")


if __name__ == "__main__":
    main(sys.argv[1])

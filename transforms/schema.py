"""The one document schema every stage shares, from conversion to release."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from transforms.hashing import doc_id_digest

# Core columns (DESIGN.md). Operators may add score_*/signal_*/label_*/pii_* columns; they never
# rename or drop these.
DOC_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("raw_sha256", pa.string(), nullable=False),
    pa.field("lang", pa.string()),
    pa.field("script", pa.string()),
    pa.field("lang_conf", pa.float32()),
    pa.field("meta", pa.string()),  # JSON object: everything else the raw record carried
]
DOC_SCHEMA = pa.schema(DOC_FIELDS)
CORE_COLUMNS: tuple[str, ...] = tuple(f.name for f in DOC_FIELDS)

# Decision columns: filters mark rows, the writer splits kept from dropped once.
DROP_REASON = "drop_reason"  # null = kept; otherwise a short machine-readable reason
DROPPED_BY = "dropped_by"  # "op@version" of the filter that dropped the row
DUPLICATE_OF = "duplicate_of"  # id of the kept record of a duplicate cluster
CLUSTER_ID = "cluster_id"  # dedup cluster id (id of the cluster's kept record)
TRACE = "trace"  # list<string>: "op@version: what it did" for every op that changed the row
DECISION_FIELDS: list[pa.Field] = [
    pa.field(DROP_REASON, pa.string()),
    pa.field(DROPPED_BY, pa.string()),
    pa.field(DUPLICATE_OF, pa.string()),
    pa.field(CLUSTER_ID, pa.string()),
    pa.field(TRACE, pa.list_(pa.string())),
]

# Quarantine: raw input that could not become a document. Never silently lost.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_uri", pa.string(), nullable=False),  # file plus line/offset/member
        pa.field("error", pa.string(), nullable=False),  # short error class, e.g. "json_decode"
        pa.field("detail", pa.string()),  # human-readable: what went wrong and what to do
        pa.field("raw_sha256", pa.string()),
        pa.field("raw_excerpt", pa.binary()),  # first bytes of the raw record, for debugging
    ]
)
RAW_EXCERPT_BYTES = 256


def sha256_hex(raw: bytes) -> str:
    """Return the hex sha256 of raw bytes (the `raw_sha256` column)."""
    return hashlib.sha256(raw).hexdigest()


def make_doc_id(source: str, locator: str, raw_sha256: str) -> str:
    """Return a stable record id from source name, position inside the source, and raw hash."""
    return doc_id_digest(source, locator, raw_sha256)


def empty_docs() -> pa.Table:
    """Return an empty table with the core document schema."""
    return DOC_SCHEMA.empty_table()


def docs_from_pylist(rows: list[dict]) -> pa.Table:
    """Build a document table from dicts with the core columns (missing optional ones null)."""
    return pa.Table.from_pylist(rows, schema=DOC_SCHEMA)


def quarantine_from_pylist(rows: list[dict]) -> pa.Table:
    """Build a quarantine table from dicts with the quarantine columns."""
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)


def ensure_decision_columns(batch: pa.Table) -> pa.Table:
    """Return the batch with every decision column present (null-filled where missing)."""
    for field in DECISION_FIELDS:
        if field.name not in batch.column_names:
            batch = batch.append_column(field, pa.nulls(batch.num_rows, type=field.type))
    return batch

"""Shared by the reader tests: read one input through the reader registry."""

from __future__ import annotations

from pathlib import Path

from flows.io.readers import list_input_files, read_input_file
from flows.io.recipe import InputSpec


def read_all(path: Path, **spec_fields) -> tuple[list[dict], list[dict]]:
    """Read one input through the registry; return (documents, quarantine rows)."""
    spec = InputSpec(source="t", paths=[str(path)], **spec_fields)
    docs, bad = [], []
    for f in list_input_files(spec):
        for batch in read_input_file(spec, f, 5):
            docs.extend(batch.docs.to_pylist())
            bad.extend(batch.quarantine.to_pylist())
    return docs, bad

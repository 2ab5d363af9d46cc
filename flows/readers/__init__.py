"""Reader adapters: raw files -> batches of documents plus quarantined records.

A reader is a generator function registered with `@register_reader(name, extensions, options)`;
it takes the input spec, one file path and a batch size and yields `ReadBatch`es. Every module
in this package is imported by `known_readers()`, so a new format is one new module.
"""

from __future__ import annotations

import glob
import importlib
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from flows.recipe import InputSpec, RecipeError
from transforms.convert.records import FieldMapping, Quarantined
from transforms.schema import docs_from_pylist, quarantine_from_pylist


@dataclass
class ReadBatch:
    """Documents and quarantined entries read from one stretch of a file."""

    docs: pa.Table
    quarantine: pa.Table

    @property
    def n_read(self) -> int:
        """Raw records seen: documents plus quarantined entries."""
        return self.docs.num_rows + self.quarantine.num_rows


class NoOptions(BaseModel):
    """Readers without options accept none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ReaderFn = Callable[[InputSpec, str, Any, int], Iterator[ReadBatch]]


@dataclass(frozen=True)
class Reader:
    """A registered reader: name, the extensions it claims for format=auto, options model, function."""

    name: str
    extensions: tuple[str, ...]
    options_model: type[BaseModel]
    fn: ReaderFn


_READERS: dict[str, Reader] = {}
_DISCOVERED = False


def register_reader(name: str, extensions: tuple[str, ...], options_model: type[BaseModel] = NoOptions):
    """Decorator: register a reader generator `fn(spec, path, options, batch_rows)`."""

    def deco(fn: ReaderFn) -> ReaderFn:
        _READERS[name] = Reader(name, extensions, options_model, fn)
        return fn

    return deco


def known_readers() -> dict[str, Reader]:
    """Return all readers by name, importing every module of this package once."""
    global _DISCOVERED
    if not _DISCOVERED:
        for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
            importlib.import_module(info.name)
        _DISCOVERED = True
    return dict(sorted(_READERS.items()))


def reader_for(spec: InputSpec, path: str) -> Reader:
    """Pick the reader for a file: the spec's format, or by extension when format is 'auto'."""
    readers = known_readers()
    if spec.format != "auto":
        if spec.format not in readers:
            raise RecipeError(f"input {spec.source!r}: unknown format {spec.format!r}. Known formats: {', '.join(readers)}")
        return readers[spec.format]
    name = path.lower()
    best: tuple[int, Reader] | None = None
    for reader in readers.values():
        for ext in reader.extensions:
            if name.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), reader)
    if best is None:
        raise RecipeError(f"input {spec.source!r}: no reader for {path!r}; set 'format' (known: {', '.join(readers)})")
    return best[1]


def check_options(spec: InputSpec, reader: Reader) -> BaseModel:
    """Validate the input's `options` against the reader's options model (fails before work starts)."""
    try:
        return reader.options_model(**spec.options)
    except ValidationError as exc:
        known = ", ".join(reader.options_model.model_fields) or "(none)"
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RecipeError(f"input {spec.source!r} ({reader.name}) options: {msgs}. Known options: {known}") from None


def list_input_files(spec: InputSpec) -> list[str]:
    """Expand the spec's paths (files, directories, globs) to a sorted list of files."""
    out: list[str] = []
    for pattern in spec.paths:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise RecipeError(f"input {spec.source!r}: {pattern!r} matches no file")
        for m in matches:
            if os.path.isdir(m):
                out.extend(sorted(str(p) for p in Path(m).rglob("*") if p.is_file() and not p.name.startswith(".")))
            elif os.path.isfile(m):
                out.append(m)
            else:
                raise RecipeError(f"input {spec.source!r}: {m!r} does not exist")
    return sorted(dict.fromkeys(out))


def mapping_of(spec: InputSpec) -> FieldMapping:
    """Return the field mapping the spec asks for."""
    return FieldMapping(spec.text_field, spec.id_field, tuple(spec.meta_fields) if spec.meta_fields is not None else None)


class BatchBuilder:
    """Accumulates document rows and quarantined entries; emits ReadBatches of `batch_rows`."""

    def __init__(self, batch_rows: int) -> None:
        self.batch_rows = batch_rows
        self.docs: list[dict] = []
        self.bad: list[dict] = []

    def add(self, item: dict | Quarantined) -> ReadBatch | None:
        """Add a document or quarantine entry; return a full batch when one is ready."""
        if isinstance(item, Quarantined):
            self.bad.append(item.to_row())
        else:
            self.docs.append(item)
        if len(self.docs) + len(self.bad) >= self.batch_rows:
            return self.flush()
        return None

    def flush(self) -> ReadBatch | None:
        """Return what is buffered as a batch (None when empty)."""
        if not self.docs and not self.bad:
            return None
        batch = ReadBatch(docs_from_pylist(self.docs), quarantine_from_pylist(self.bad))
        self.docs, self.bad = [], []
        return batch


def read_input_file(spec: InputSpec, path: str, batch_rows: int) -> Iterator[ReadBatch]:
    """Read one file of an input with its reader, yielding batches of documents and quarantine."""
    reader = reader_for(spec, path)
    options = check_options(spec, reader)
    yield from reader.fn(spec, path, options, batch_rows)

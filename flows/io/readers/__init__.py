"""Reader adapters: raw files -> batches of documents plus quarantined records.

A reader is a generator function registered with `@register_reader(name, extensions, options)`;
it takes the input spec, one file path and a batch size and yields `ReadBatch`es. Most formats
register with `@register_format(name, extensions, options)` instead: a generator over one `Source`
(a file or an archive member) yielding document rows or `Quarantined` entries, which the registry
wraps into a reader (batching, and quarantining whatever error ends the source early) and which
the archive reader reuses for members. Every module in this package is imported by
`known_readers()`, so a new format is one new module.
"""

from __future__ import annotations

import glob
import importlib
import io
import itertools
import os
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from flows.io.recipe import InputSpec, RecipeError
from transforms.convert.records import FieldMapping, Quarantined
from transforms.lazy import build_once
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


ReaderFn = Callable[[InputSpec, str, Any, int, "int | None"], Iterator[ReadBatch]]


@dataclass(frozen=True)
class Source:
    """One stream of raw bytes: a file, or a member of an archive (uri `archive!member`)."""

    uri: str
    open: Callable[[], IO[bytes]]  # a fresh binary stream, decompressed by the name's extension
    size: int | None = None  # raw size in bytes when known

    @property
    def name(self) -> str:
        """The file or member name extensions are read from."""
        return self.uri.rsplit("!", 1)[-1]


ItemsFn = Callable[[InputSpec, Any, Source], Iterator["dict | Quarantined"]]


@dataclass(frozen=True)
class Reader:
    """A registered reader: name, the extensions it claims for format=auto, options model, function."""

    name: str
    extensions: tuple[str, ...]
    options_model: type[BaseModel]
    fn: ReaderFn
    items: ItemsFn | None = None  # per-source generator, for formats usable inside archives


_READERS: dict[str, Reader] = {}


def register_reader(name: str, extensions: tuple[str, ...], options_model: type[BaseModel] = NoOptions):
    """Decorator: register a reader generator `fn(spec, path, options, batch_rows, batch_chars)`."""

    def deco(fn: ReaderFn) -> ReaderFn:
        _READERS[name] = Reader(name, extensions, options_model, fn)
        return fn

    return deco


def register_format(name: str, extensions: tuple[str, ...], options_model: type[BaseModel] = NoOptions):
    """Decorator: register a per-source generator `items(spec, options, source)` as a reader."""

    def deco(items: ItemsFn) -> ItemsFn:
        def fn(spec: InputSpec, path: str, options: Any, batch_rows: int, batch_chars: int | None = None) -> Iterator[ReadBatch]:
            size = os.path.getsize(path)
            source = Source(path, lambda: open_maybe_compressed(path, path), size)
            yield from batched(guarded_items(items, spec, options, source), batch_rows, batch_chars)

        _READERS[name] = Reader(name, extensions, options_model, fn, items)
        return items

    return deco


def guarded_items(items: ItemsFn, spec: InputSpec, options: Any, source: Source) -> Iterator[dict | Quarantined]:
    """Yield a source's items; an error that ends the source early becomes one quarantined entry after what was read."""
    last = source.uri
    n = 0
    try:
        for item in items(spec, options, source):
            n += 1
            last = item.source_uri if isinstance(item, Quarantined) else item["source_uri"]
            yield item
    except Exception as exc:  # noqa: BLE001 - malformed input must never stop a run; the error is recorded
        where = f"after {last}" if n else "at the start"
        yield Quarantined(spec.source, f"{source.uri}#unreadable", "unreadable_file",
                          f"reading stopped {where} ({n} record(s) read before it): {type(exc).__name__}: {exc}; "
                          "the file is truncated or corrupt: re-fetch it, the records before this point are kept",
                          b"")


def batched(items: Iterator[dict | Quarantined], batch_rows: int, batch_chars: int | None = None) -> Iterator[ReadBatch]:
    """Group documents and quarantined entries into ReadBatches of at most `batch_rows` records and about `batch_chars` characters."""
    builder = BatchBuilder(batch_rows, batch_chars)
    for item in items:
        if (batch := builder.add(item)) is not None:
            yield batch
    if (batch := builder.flush()) is not None:
        yield batch


COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


def is_compressed(name: str) -> bool:
    """True when a file name ends with a compression suffix we decompress."""
    return name.lower().endswith(COMPRESSION_SUFFIXES)


def with_compression(extensions: tuple[str, ...]) -> tuple[str, ...]:
    """Return the extensions plus their compressed variants (.gz, .bz2, .xz, .zst)."""
    return extensions + tuple(e + c for e in extensions for c in COMPRESSION_SUFFIXES)


class DecompressingReader(io.RawIOBase):
    """Stream decompression (gzip, bz2, xz, zstd; multi-member) that hands out every byte before a truncation.

    The stdlib file wrappers raise EOFError for a whole read call when the stream is cut, losing
    the bytes decompressed in it; here those bytes are returned first and the error comes on the next read.
    """

    BLOCK = 1 << 16

    def __init__(self, raw: IO[bytes], kind: str) -> None:
        self.raw, self.kind = raw, kind
        self.dec = self._new()
        self.pending = b""
        self.error: Exception | None = None
        self.finished = False
        self.started = False

    def _new(self) -> Any:
        import bz2
        import lzma
        import zlib

        import zstandard

        if self.kind == "gz":
            return zlib.decompressobj(wbits=31)
        if self.kind == "bz2":
            return bz2.BZ2Decompressor()
        if self.kind == "xz":
            return lzma.LZMADecompressor()
        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self.pending and not self.finished:
            data = self.raw.read(self.BLOCK)
            if not data:
                self.finished = True
                if self.started and not self.dec.eof:
                    self.error = EOFError(f"compressed {self.kind} stream ended before its end marker (truncated)")
                elif not self.started:
                    self.error = EOFError(f"empty {self.kind} file: no compressed data at all")
                return
            self.started = True
            try:
                out = self.dec.decompress(data)
                while self.dec.eof and self.dec.unused_data:
                    rest = self.dec.unused_data
                    self.dec = self._new()  # next member / frame
                    out += self.dec.decompress(rest)
            except Exception as exc:  # noqa: BLE001 - corrupt data: report it after the bytes before it
                self.finished, self.error = True, exc
                return
            self.pending = out

    def read1(self, n: int = -1) -> bytes:
        """Return up to n decompressed bytes (at least one unless at the end)."""
        self._fill()
        if not self.pending:
            if self.error is not None:
                err, self.error = self.error, None
                raise err
            return b""
        if n is None or n < 0:
            n = len(self.pending)
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        """Return n decompressed bytes (fewer only at the end; raises at a truncation once nothing is left)."""
        parts: list[bytes] = []
        got = 0
        while n is None or n < 0 or got < n:
            try:
                chunk = self.read1(-1 if n is None or n < 0 else n - got)
            except Exception:
                if parts:  # give back what was read; the error comes on the next call
                    self.error = self.error or EOFError(f"compressed {self.kind} stream is truncated or corrupt")
                    break
                raise
            if not chunk:
                break
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_maybe_compressed(path_or_stream: "str | IO[bytes]", name: str) -> IO[bytes]:
    """Open a file (or wrap a stream) for binary reading, decompressing by the name's extension."""
    low = name.lower()
    raw = open(path_or_stream, "rb") if isinstance(path_or_stream, str) else path_or_stream
    for suffix, kind in ((".gz", "gz"), (".tgz", "gz"), (".bz2", "bz2"), (".tbz2", "bz2"), (".xz", "xz"), (".txz", "xz"), (".zst", "zst")):
        if low.endswith(suffix):
            return DecompressingReader(raw, kind)  # type: ignore[return-value]
    return raw


def reader_for_name(name: str, readers: dict[str, Reader] | None = None) -> Reader | None:
    """Return the reader claiming the longest extension of a file name, or None."""
    readers = readers or known_readers()
    low = name.lower()
    best: tuple[int, Reader] | None = None
    for reader in readers.values():
        for ext in reader.extensions:
            if low.endswith(ext) and (best is None or len(ext) > best[0]):
                best = (len(ext), reader)
    return best[1] if best else None


@build_once
def _import_reader_modules() -> None:
    """Import every module of this package once (locked: a second thread waits for all readers)."""
    for info in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)


def known_readers() -> dict[str, Reader]:
    """Return all readers by name, importing every module of this package once."""
    _import_reader_modules()
    return dict(sorted(_READERS.items()))


def reader_for(spec: InputSpec, path: str) -> Reader:
    """Pick the reader for a file: the spec's format, or by extension when format is 'auto'.

    A path that must not be read (see `link_problem`) gets `NOT_READ`, which reports it.
    """
    if link_problem(spec, path) is not None:
        return NOT_READ
    readers = known_readers()
    if spec.format != "auto":
        if spec.format not in readers:
            raise RecipeError(f"input {spec.source!r}: unknown format {spec.format!r}. Known formats: {', '.join(readers)}")
        return readers[spec.format]
    found = reader_for_name(path, readers)
    if found is None:
        raise RecipeError(f"input {spec.source!r}: no reader for {path!r}; set 'format' (known: {', '.join(readers)})")
    return found


def check_options(spec: InputSpec, reader: Reader) -> BaseModel:
    """Validate the input's `options` against the reader's options model (fails before work starts)."""
    try:
        return reader.options_model(**spec.options)
    except ValidationError as exc:
        known = ", ".join(reader.options_model.model_fields) or "(none)"
        msgs = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RecipeError(f"input {spec.source!r} ({reader.name}) options: {msgs}. Known options: {known}") from None


HF_SAVED_META = ("state.json", "dataset_info.json", "dataset_dict.json")


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or lies under it (both absolute, no `..`)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _walk(root: Path, follow_symlinks: bool) -> Iterator[Path]:
    """Yield the entries of a directory tree to read: regular files, and links a reader must judge.

    Hidden entries are skipped. A directory link leading back inside the tree is skipped (its files
    are read by their own path); one leading out of it is yielded as it is, so that the reader
    reports it, unless `follow_symlinks` (then it is walked, each real directory once). File links,
    dangling links and special files (FIFOs, devices) are yielded for the reader to quarantine.
    """
    real_root = os.path.realpath(root)
    seen = {real_root}
    stack = [root]
    while stack:
        here = stack.pop()
        with os.scandir(here) as entries:
            for entry in sorted(entries, key=lambda e: e.name, reverse=True):
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(path)
                elif entry.is_symlink() and entry.is_dir():
                    real = os.path.realpath(path)
                    if is_within(real, real_root):
                        continue
                    if follow_symlinks and real not in seen:
                        seen.add(real)
                        stack.append(path)
                    elif not follow_symlinks:
                        yield path
                else:
                    yield path


def data_files_under(root: Path, follow_symlinks: bool = False) -> list[str]:
    """List the data files under a directory: hidden files skipped, and in a Hugging Face dataset saved
    with save_to_disk (a folder with state.json) only its .arrow shards, not its bookkeeping JSON."""
    files = sorted(_walk(root, follow_symlinks))
    hf_dirs = {p.parent for p in files if p.name == "state.json"}
    hf_roots = hf_dirs | {p.parent for p in files if p.name == "dataset_dict.json"}
    return [str(p) for p in files if not (p.name in HF_SAVED_META and p.parent in hf_roots)]


def glob_root(pattern: str) -> str:
    """Return the directory a glob pattern searches under: its components before the first wildcard."""
    parts = Path(pattern).parts
    fixed = [p for p in itertools.takewhile(lambda part: not glob.has_magic(part), parts)]
    return str(Path(*fixed)) if fixed else "."


def list_input_files(spec: InputSpec) -> list[str]:
    """Expand the spec's paths (files, directories, globs) to a sorted list of files.

    Links found while walking a directory or matching a glob are listed too (also dangling ones),
    so that `read_input_file` reports those it does not read and every listed path is accounted for.
    """
    out: list[str] = []
    for pattern in spec.paths:
        magic = glob.has_magic(pattern)
        matches = sorted(glob.glob(pattern, recursive=True)) if magic else [pattern]
        if not matches:
            raise RecipeError(f"input {spec.source!r}: {pattern!r} matches no file")
        for m in matches:
            if os.path.isdir(m) and not (magic and os.path.islink(m) and link_problem(spec, m) is not None):
                out.extend(data_files_under(Path(m), spec.follow_symlinks))
            elif os.path.isfile(m) or (magic and os.path.islink(m)):
                out.append(m)
            else:
                raise RecipeError(f"input {spec.source!r}: {m!r} does not exist")
    return sorted(dict.fromkeys(out))


def input_roots(spec: InputSpec) -> list[tuple[str, bool]]:
    """Return (absolute root, named explicitly) for each of the spec's paths: a glob's fixed prefix, a directory, a file."""
    roots = []
    for pattern in spec.paths:
        if glob.has_magic(pattern):
            roots.append((os.path.abspath(glob_root(pattern)), False))
        else:
            roots.append((os.path.abspath(pattern), not os.path.isdir(pattern)))
    return roots


def link_problem(spec: InputSpec, path: str) -> tuple[str, str] | None:
    """Return (error, detail) when a listed path must not be read: a dangling link, a special file, or
    (unless the input sets follow_symlinks) a link leading out of the input's paths; None to read it."""
    if os.path.islink(path) and not os.path.exists(path):
        return ("broken_symlink", f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                                  "fix or remove the link")
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        return ("not_a_regular_file", f"{path} is not a regular file (a FIFO, socket or device): not read")
    if spec.follow_symlinks:
        return None
    here, real = os.path.abspath(path), os.path.realpath(path)
    containing = []
    for root, explicit in input_roots(spec):
        if explicit and here == root:
            return None  # the recipe names this very file
        if is_within(here, root):
            containing.append(root)
            if is_within(real, os.path.realpath(root)):
                return None
    if not containing:
        return None
    kind = "directory" if os.path.isdir(path) else "file"
    return ("symlink_outside_input",
            f"{path} leads through a symbolic link to the {kind} {real}, outside the input's paths ({', '.join(containing)}); "
            "not read. Set follow_symlinks: true on the input to read links that leave it, or add the target to paths")


class LinkOptions(BaseModel):
    """A path that is reported, not read, accepts whatever options its input has."""

    model_config = ConfigDict(extra="allow", frozen=True)


def _read_nothing(spec: InputSpec, path: str, options: Any, batch_rows: int, batch_chars: int | None = None) -> Iterator[ReadBatch]:
    """Report a path that is not read as one quarantine entry (nothing of it is opened)."""
    error, detail = link_problem(spec, path) or ("unreadable_file", f"{path} was not read")
    yield from batched(iter([Quarantined(spec.source, path, error, detail, b"")]), batch_rows)


NOT_READ = Reader("not_read", (), LinkOptions, _read_nothing)


def mapping_of(spec: InputSpec) -> FieldMapping:
    """Return the field mapping the spec asks for."""
    return FieldMapping(spec.text_field, spec.id_field, tuple(spec.meta_fields) if spec.meta_fields is not None else None)


class BatchBuilder:
    """Accumulates document rows and quarantined entries; emits ReadBatches of `batch_rows` or `batch_chars`.

    A batch ends at `batch_rows` records or once its documents' text reaches `batch_chars` characters,
    whichever comes first: every operator's temporaries scale with a batch, so long documents must
    not make a batch of 20,000 rows hundreds of megabytes (one document longer than the limit is a
    batch of its own).
    """

    def __init__(self, batch_rows: int, batch_chars: int | None = None) -> None:
        self.batch_rows = batch_rows
        self.batch_chars = batch_chars
        self.docs: list[dict] = []
        self.bad: list[dict] = []
        self.chars = 0

    def add(self, item: dict | Quarantined) -> ReadBatch | None:
        """Add a document or quarantine entry; return a full batch when one is ready."""
        if isinstance(item, Quarantined):
            self.bad.append(item.to_row())
        else:
            self.docs.append(item)
            self.chars += len(item.get("text") or "")
        if len(self.docs) + len(self.bad) >= self.batch_rows or (self.batch_chars is not None and self.chars >= self.batch_chars):
            return self.flush()
        return None

    def flush(self) -> ReadBatch | None:
        """Return what is buffered as a batch (None when empty)."""
        if not self.docs and not self.bad:
            return None
        batch = ReadBatch(docs_from_pylist(self.docs), quarantine_from_pylist(self.bad))
        self.docs, self.bad, self.chars = [], [], 0
        return batch


def read_input_file(spec: InputSpec, path: str, batch_rows: int, batch_chars: int | None = None) -> Iterator[ReadBatch]:
    """Read one file of an input with its reader, yielding batches of documents and quarantine."""
    reader = reader_for(spec, path)
    options = check_options(spec, reader)
    yield from reader.fn(spec, path, options, batch_rows, batch_chars)

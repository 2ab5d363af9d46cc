"""Zip and tar archives: every member is read by the reader of its own format; `source_uri` is `archive!member...`."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flows.io.readers import Reader, Source, check_options, guarded_items, known_readers, open_maybe_compressed, reader_for_name, register_format
from flows.io.recipe import InputSpec, RecipeError
from transforms.convert.records import Quarantined

SPOOL_BYTES = 64 << 20  # tar members up to this size are held in memory, larger ones spill to a temp file


class ArchiveOptions(BaseModel):
    """How members are read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    member_format: str = Field("auto", description="reader for every member; auto picks by the member's extension")
    member_options: dict[str, Any] = Field(default_factory=dict, description="options for the member reader")
    skip_unknown: bool = Field(False, description="skip members no reader claims instead of quarantining them")

    @model_validator(mode="after")
    def _known_member_format(self) -> "ArchiveOptions":
        # Checked when the recipe is planned, so a typo fails before any work starts.
        if self.member_format != "auto":
            readers = {k: r for k, r in known_readers().items() if r.items is not None}
            if self.member_format not in readers:
                raise ValueError(f"unknown member_format {self.member_format!r} (known: {', '.join(readers)})")
            readers[self.member_format].options_model(**self.member_options)
        return self


class _Unclosable(io.RawIOBase):
    """A view of a seekable file that the member reader may close without closing the file."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        f.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        return self.f.readinto(b)  # type: ignore[attr-defined]

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        return self.f.read(n)

    def read1(self, n: int = -1) -> bytes:
        return self.f.read(n)

    def seek(self, pos: int, whence: int = 0) -> int:
        return self.f.seek(pos, whence)

    def tell(self) -> int:
        return self.f.tell()


def _member_reader(spec: InputSpec, options: ArchiveOptions, name: str) -> tuple[Reader, Any] | None:
    readers = {k: r for k, r in known_readers().items() if r.items is not None}
    if options.member_format != "auto":
        if options.member_format not in readers:
            raise RecipeError(f"input {spec.source!r}: unknown member_format {options.member_format!r} (known: {', '.join(readers)})")
        reader = readers[options.member_format]
    else:
        reader = reader_for_name(name, readers)
        if reader is None:
            return None
    member_spec = spec.model_copy(update={"format": reader.name, "options": dict(options.member_options)})
    return reader, check_options(member_spec, reader)


def _skip(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return name.startswith("__MACOSX/") or base.startswith(".") or not base


def _members(spec: InputSpec, options: ArchiveOptions, source: Source,
             entries: Iterator[tuple[str, int, Callable[[], IO[bytes]]]]) -> Iterator[dict | Quarantined]:
    for name, size, opener in entries:
        if _skip(name):
            continue
        uri = f"{source.uri}!{name}"
        found = _member_reader(spec, options, name)
        if found is None:
            if not options.skip_unknown:
                yield Quarantined(spec.source, uri, "unknown_member_format",
                                  f"no reader claims member {name!r}; set options.member_format, or skip_unknown: true", b"")
            continue
        reader, member_options = found
        member = Source(uri, lambda opener=opener, name=name: open_maybe_compressed(opener(), name), size)
        # One bad member is quarantined on its own; the other members are still read.
        yield from guarded_items(reader.items, spec, member_options, member)


def _zip_entries(zf: zipfile.ZipFile) -> Iterator[tuple[str, int, Callable[[], IO[bytes]]]]:
    for info in zf.infolist():
        if not info.is_dir():
            yield info.filename, info.file_size, lambda info=info: zf.open(info)


def _tar_entries(tf: tarfile.TarFile) -> Iterator[tuple[str, int, Callable[[], IO[bytes]]]]:
    for info in tf:  # stream mode: members in order, a truncated archive ends after the last whole one
        if not info.isfile():
            continue
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        extracted = tf.extractfile(info)
        assert extracted is not None
        shutil.copyfileobj(extracted, spool, 1 << 20)
        try:
            yield info.name, info.size, lambda spool=spool: _Unclosable(spool)
        finally:
            spool.close()


@register_format("zip", (".zip",), ArchiveOptions)
def read_zip(spec: InputSpec, options: ArchiveOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read every member of a zip archive with its own reader."""
    with source.open() as f:
        stream = f if f.seekable() else io.BytesIO(f.read())
        with zipfile.ZipFile(stream) as zf:
            yield from _members(spec, options, source, _zip_entries(zf))


@register_format("tar", (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"), ArchiveOptions)
def read_tar(spec: InputSpec, options: ArchiveOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read every member of a tar archive (any compression) in one sequential pass."""
    with source.open() as f:  # .gz/.bz2/.xz/.zst are already decompressed by the source
        with tarfile.open(fileobj=f, mode="r|") as tf:
            yield from _members(spec, options, source, _tar_entries(tf))

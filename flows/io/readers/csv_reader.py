"""CSV/TSV reader: one document per row, columns mapped by the input's text_field / meta_fields."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, mapping_of, register_format, with_compression
from flows.io.readers.streams import choose_encoding, empty_compressed, decode_line, iter_lines, newline_for, oversized, sniff
from flows.io.recipe import InputSpec
from transforms.convert.records import Quarantined, mostly_nul, record_to_doc


class CsvOptions(BaseModel):
    """Dialect and header of a delimited file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="default: tab for .tsv/.tab, comma otherwise")
    quotechar: str = Field('"', min_length=1, max_length=1)
    header: bool = Field(True, description="the first row names the columns")
    columns: list[str] | None = Field(None, description="column names (required when header is false; overrides the header)")


class _RowSource:
    """Feeds decoded lines to csv.reader and remembers which raw lines and problems make up the current row."""

    def __init__(self, spec: InputSpec, source: Source, lines: Iterator, guess, newline: bytes) -> None:
        self.spec, self.source, self.lines, self.guess, self.newline = spec, source, lines, guess, newline
        self.raw: list[bytes] = []
        self.first: tuple[int, int] = (0, 0)
        self.problem: Quarantined | None = None
        self.meta: dict = {}

    def start_row(self) -> None:
        self.raw, self.problem, self.meta = [], None, {}

    def __iter__(self) -> Iterator[str]:
        for line in self.lines:
            if not self.raw:
                self.first = (line.number, line.offset)
            self.raw.append(line.raw)
            uri = f"{self.source.uri}:{line.number}"
            if line.oversized:
                self.problem = self.problem or oversized(self.spec, uri, line.size, line.raw, line.sha256)
                yield "\n"
                continue
            decoded = decode_line(self.spec, line.raw, self.guess, uri, line.offset)
            if isinstance(decoded, Quarantined):
                self.problem = self.problem or decoded
                yield line.raw.decode(self.guess.codec, errors="replace") + "\n"
                continue
            if (why := mostly_nul(decoded.text)) is not None:
                self.problem = self.problem or Quarantined(self.spec.source, uri, "nul_byte", why, line.raw)
                yield "\n"
                continue
            self.meta = self.meta or decoded.meta
            yield decoded.text + "\n"


@register_format("csv", with_compression((".csv", ".tsv", ".tab")), CsvOptions)
def read_csv(spec: InputSpec, options: CsvOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a delimited file; a row with the wrong field count or bad bytes is quarantined with its line, the rest kept."""
    head, complete = sniff(source)
    yield from empty_compressed(spec, source, head)
    if not head:
        return
    guess = choose_encoding(spec, head, complete, lines=True)
    newline = newline_for(guess)
    delimiter = options.delimiter or ("\t" if source.name.lower().split(".")[-1] in ("tsv", "tab") or ".tsv." in source.name.lower() else ",")
    csv.field_size_limit(min(sys.maxsize, spec.max_record_bytes))
    mapping = mapping_of(spec)
    columns = list(options.columns) if options.columns else None
    if columns is None and not options.header:
        raise ValueError("CSV without a header needs options.columns")
    with source.open() as stream:
        if guess.bom:
            stream.read(guess.bom)
        rows = _RowSource(spec, source, iter_lines(stream, spec.max_record_bytes, newline, offset=guess.bom), guess, newline)
        reader = csv.reader(rows, delimiter=delimiter, quotechar=options.quotechar, strict=False)
        seen_header = not options.header
        while True:
            rows.start_row()
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                number = rows.first[0]
                raw = newline.join(rows.raw)
                yield Quarantined(spec.source, f"{source.uri}:{number}", "csv_parse", f"row at line {number}: {exc}", raw)
                continue
            number = rows.first[0]
            raw = newline.join(rows.raw).rstrip(b"\r")
            uri = f"{source.uri}:{number}"
            if not seen_header:
                seen_header = True
                if rows.problem is not None:
                    raise ValueError(f"the header row cannot be read: {rows.problem.detail}")
                columns = columns or row
                continue
            if rows.problem is not None:
                yield rows.problem
                continue
            if not row or row == [""]:
                continue  # blank line
            if len(row) != len(columns):
                yield Quarantined(spec.source, uri, "csv_field_count",
                                  f"row has {len(row)} fields, the header has {len(columns)} ({', '.join(columns[:8])}); "
                                  "check quoting and the delimiter", raw)
                continue
            record = dict(zip(columns, row))
            yield record_to_doc(record, raw, source=spec.source, source_uri=uri, locator=f"{source.uri}:L{number}",
                                mapping=mapping, extra_meta=rows.meta, mojibake=spec.mojibake)



"""HTML pages (trafilatura main-text extraction) and WARC/WET web archives (warcio).

Normalisation, as documented in docs/conversion.md: trafilatura returns the main text with one
paragraph (block element) per line and whitespace inside a paragraph collapsed; boilerplate
(navigation, footers, scripts) is removed. Everything else of the page is kept in meta (title, url,
date, WARC headers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from flows.io.readers import Source, register_format, with_compression
from flows.io.readers.streams import SNIFF_BYTES, choose_encoding, decode_line, oversized, read_capped
from flows.io.recipe import InputSpec
from transforms.convert.encoding import EncodingGuess, canonical_codec, strict_decode
from transforms.convert.records import FieldMapping, Quarantined, record_to_doc

TEXT = FieldMapping("text")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
HTML_TYPES = ("text/html", "application/xhtml+xml")


class HtmlOptions(BaseModel):
    """Main-text extraction settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Precision by default, as corpus builders do (datatrove's extractor too): on short pages the
    # balanced mode falls back to keeping navigation links.
    favor: str = Field("precision", pattern="^(balanced|precision|recall)$", description="trafilatura's precision/recall trade-off")
    include_tables: bool = True
    include_comments: bool = False


def declared_charset(raw: bytes, header: str | None = None) -> str | None:
    """Return the codec an HTTP Content-Type header or the page's <meta charset> declares, if Python knows it."""
    found = None
    if header and "charset=" in header.lower():
        found = header.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if not found:
        m = _META_CHARSET.search(raw[:4096])
        found = m.group(1).decode("ascii", "ignore") if m else None
    if not found:
        return None
    try:
        return canonical_codec(found)
    except LookupError:
        return None


def decode_page(spec: InputSpec, raw: bytes, uri: str, header: str | None = None) -> tuple[str, dict] | Quarantined:
    """Decode an HTML page: the input's override, else the declared charset if it decodes strictly, else detection."""
    declared = declared_charset(raw, header) if spec.encoding == "auto" else None
    if declared and isinstance(strict_decode(raw, declared), str):
        guess = EncodingGuess(declared, 1.0, "declared")
    else:
        guess = choose_encoding(spec, raw[:SNIFF_BYTES], len(raw) <= SNIFF_BYTES)
    decoded = decode_line(spec, raw[guess.bom :], guess, uri, guess.bom)
    if isinstance(decoded, Quarantined):
        return decoded
    meta = decoded.meta | ({"declared_charset": declared} if declared and declared != guess.codec else {})
    return decoded.text, meta


def extract_main_text(html: str, options: HtmlOptions, url: str | None = None) -> tuple[str | None, dict]:
    """Return (main text or None, page metadata) using trafilatura."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=options.include_comments,
                                      include_tables=options.include_tables, favor_precision=options.favor == "precision",
                                      favor_recall=options.favor == "recall")
    if doc is None:
        return None, {}
    meta = {k: getattr(doc, k, None) for k in ("title", "url", "date", "language", "sitename")}
    return getattr(doc, "text", None), {k: v for k, v in meta.items() if v}


def html_item(spec: InputSpec, options: HtmlOptions, raw: bytes, uri: str, locator: str,
              header: str | None = None, url: str | None = None, extra: dict | None = None) -> dict | Quarantined:
    """Turn one HTML payload into a document (main text) or a quarantine entry."""
    page = decode_page(spec, raw, uri, header)
    if isinstance(page, Quarantined):
        return page
    html, meta = page
    text, page_meta = extract_main_text(html, options, url)
    if not text or not text.strip():
        return Quarantined(spec.source, uri, "no_main_text",
                           "trafilatura found no main text in the page (boilerplate only, or not HTML); try favor: recall", raw)
    return record_to_doc({"text": text, **{f"html_{k}": v for k, v in page_meta.items()}, **(extra or {})}, raw,
                         source=spec.source, source_uri=uri, locator=locator, mapping=TEXT, extra_meta=meta,
                         mojibake=spec.mojibake)


@register_format("html", with_compression((".html", ".htm", ".xhtml")), HtmlOptions)
def read_html(spec: InputSpec, options: HtmlOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read one HTML page as one document: its main text, decoded by declared charset or detection."""
    raw, size, sha = read_capped(source, spec.max_record_bytes)
    if sha is not None:
        yield oversized(spec, source.uri, size, raw, sha)
        return
    yield html_item(spec, options, raw, source.uri, source.uri)


@register_format("warc", (".warc", ".warc.gz", ".wet", ".wet.gz", ".arc", ".arc.gz"), HtmlOptions)
def read_warc(spec: InputSpec, options: HtmlOptions, source: Source) -> Iterator[dict | Quarantined]:
    """Read a WARC/WET archive: one document per HTML/plain-text response, resource or WET conversion record.

    Other records (requests, metadata, warcinfo, non-text payloads) are not documents and are not
    counted. `source_uri` is `file@offset` of the record; the WARC record id and target URI go to meta.
    """
    from warcio.archiveiterator import ArchiveIterator

    # warcio decompresses .warc.gz itself (record by record), so open the raw file, not the gzip stream.
    with (open(source.uri, "rb") if "!" not in source.uri else source.open()) as stream:
        records = ArchiveIterator(stream, arc2warc=True)
        for record in records:
            if record.rec_type not in ("response", "resource", "conversion"):
                continue
            ctype = (record.http_headers.get_header("Content-Type") if record.http_headers else None) \
                or record.rec_headers.get_header("Content-Type") or ""
            kind = ctype.split(";")[0].strip().lower()
            is_html = kind in HTML_TYPES
            if not (is_html or kind == "text/plain" or record.rec_type == "conversion"):
                continue
            payload = record.content_stream().read(spec.max_record_bytes + 1)
            offset = records.get_record_offset()
            uri = f"{source.uri}@{offset}"
            target = record.rec_headers.get_header("WARC-Target-URI")
            extra = {"warc_record_id": record.rec_headers.get_header("WARC-Record-ID"), "warc_target_uri": target,
                     "warc_date": record.rec_headers.get_header("WARC-Date"), "warc_type": record.rec_type}
            if len(payload) > spec.max_record_bytes:
                yield oversized(spec, uri, len(payload), payload[:256], None)
                continue
            if is_html:
                yield html_item(spec, options, payload, uri, uri, header=ctype, url=target, extra=extra)
                continue
            guess = EncodingGuess("utf-8", 1.0, "wet") if record.rec_type == "conversion" else None
            if guess is None:
                declared = declared_charset(b"", ctype)
                guess = EncodingGuess(declared, 1.0, "declared") if declared else choose_encoding(spec, payload[:SNIFF_BYTES], len(payload) <= SNIFF_BYTES)
            decoded = decode_line(spec, payload[guess.bom :], guess, uri, 0)
            if isinstance(decoded, Quarantined):
                yield decoded
                continue
            yield record_to_doc({"text": decoded.text, **extra}, payload, source=spec.source, source_uri=uri, locator=uri,
                                mapping=TEXT, extra_meta=decoded.meta, mojibake=spec.mojibake)

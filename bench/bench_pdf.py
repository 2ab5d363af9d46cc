"""PDF text extraction against the same book's plain-text edition: PDFium (yuliao) vs pypdf, pdfminer.six, pdfplumber.

Data: real PDFs that Debian ships next to a plain-text edition of the same book, built from one
DocBook source: debian-reference (en, zh-cn, zh-tw) and maint-guide (en, zh-cn, zh-tw). The .deb
files are fetched with `apt-get download` into bench/.cache/pdf (gitignored) and unpacked there.

For each book, the same stretch of pages (from the first chapter on, `--pages` long) is extracted
by every extractor; each extractor's page lines go through the same layout post-processing
(transforms.convert.layout: running headers/footers/page numbers out, paragraphs, line joining).
`pypdf raw` is what yuliao produced before (pypdf page text, pages joined by a form feed line).

Measures, against the text edition restricted to the same stretch (located by unique word/character
8-grams at both ends):
- English: share of extracted words (letters only, lower case) that never occur in the text
  edition (glued or split words show up here), and the word LCS over the text edition's words;
- CJK: longest common subsequence of Han characters / the text edition's Han characters (recall in
  order) and / the extracted Han characters (precision in order);
- running header/footer lines left per 100 pages (the book's own `<title> <page>[ / <total>]` line);
- line breaks left inside a sentence per 100 pages (between two Han characters, or two lower-case
  words);
- pages/s (extraction plus post-processing), with the load average before and after.

Tuning/evaluation split: the layout thresholds were tuned by looking at debian-reference (en,
zh-cn); maint-guide (all three) and debian-reference zh-tw are evaluation only.

    .venv/bin/python bench/bench_pdf.py [--pages 40] [--extractors pdfium,pypdf,pdfminer,pdfplumber] [--out bench/results/pdf.md]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.io.readers.pdf import document_text, read_pdf_pages  # noqa: E402
from transforms.convert.layout import Line, Page, is_cjk, is_cjk_punct, paragraphs_of, strip_running_lines  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "pdf"
PACKAGES = ("debian-reference-en", "debian-reference-zh-cn", "debian-reference-zh-tw",
            "maint-guide", "maint-guide-zh-cn", "maint-guide-zh-tw")


@dataclass(frozen=True)
class Book:
    """A PDF, its text edition, its language kind and the title its running header repeats."""

    name: str
    kind: str  # "en" or "cjk"
    pdf: str
    txt: str
    header: str
    role: str  # "tuning" or "evaluation"


BOOKS = (
    Book("debian-reference en", "en", "usr/share/debian-reference/debian-reference.en.pdf",
         "usr/share/debian-reference/debian-reference.en.txt.gz", "Debian Reference", "tuning"),
    Book("debian-reference zh-cn", "cjk", "usr/share/debian-reference/debian-reference.zh-cn.pdf",
         "usr/share/debian-reference/debian-reference.zh-cn.txt.gz", "Debian 参考手册", "tuning"),
    Book("debian-reference zh-tw", "cjk", "usr/share/debian-reference/debian-reference.zh-tw.pdf",
         "usr/share/debian-reference/debian-reference.zh-tw.txt.gz", "Debian 參考手冊", "evaluation"),
    Book("maint-guide en", "en", "usr/share/doc/maint-guide/maint-guide.en.pdf",
         "usr/share/doc/maint-guide/maint-guide.en.txt.gz", "Debian New Maintainers’ Guide", "evaluation"),
    Book("maint-guide zh-cn", "cjk", "usr/share/doc/maint-guide-zh-cn/maint-guide.zh-cn.pdf",
         "usr/share/doc/maint-guide-zh-cn/maint-guide.zh-cn.txt.gz", "Debian 新维护者手册", "evaluation"),
    Book("maint-guide zh-tw", "cjk", "usr/share/doc/maint-guide-zh-tw/maint-guide.zh-tw.pdf",
         "usr/share/doc/maint-guide-zh-tw/maint-guide.zh-tw.txt.gz", "Debian 新維護人員手冊", "evaluation"),
)


def fetch_books() -> list[str]:
    """Download and unpack the Debian packages into the cache once; return the .deb file names."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in PACKAGES if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        r = subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"apt-get download failed ({r.stderr.strip()[-300:]}); run `apt-get update` first")
    root = CACHE / "root"
    names = sorted(p.name for p in debs.glob("*.deb"))
    for name in names:
        marker = root / f".{name}.done"
        if not marker.exists():
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(debs / name), str(root)], check=True)
            marker.touch()
    return names


# --- extractors: each returns the pages first..last as layout.Page lists -------------------------

def pages_pdfium(data: bytes, first: int, last: int) -> list[Page]:
    return read_pdf_pages(data, first, last).pages


def pages_pypdf(data: bytes, first: int, last: int) -> list[Page]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return [Page(k + 1, tuple(Line(t) for t in (reader.pages[k].extract_text() or "").split("\n")))
            for k in range(first - 1, last)]


def pages_pdfminer(data: bytes, first: int, last: int) -> list[Page]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer, LTTextLine

    out = []
    for k, lt in zip(range(first, last + 1), extract_pages(io.BytesIO(data), page_numbers=range(first - 1, last))):
        h = lt.height
        lines = []
        for box in lt:
            if isinstance(box, LTTextContainer):
                for line in box:
                    if isinstance(line, LTTextLine):
                        lines.append(Line(line.get_text().rstrip("\n"), line.x0, line.x1, h - line.y1, h - line.y0))
        out.append(Page(k, tuple(lines), lt.width, h))
    return out


def pages_pdfplumber(data: bytes, first: int, last: int) -> list[Page]:
    import pdfplumber

    out = []
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for k in range(first - 1, last):
            pg = pdf.pages[k]
            lines = tuple(Line(d["text"], d["x0"], d["x1"], d["top"], d["bottom"]) for d in pg.extract_text_lines())
            out.append(Page(k + 1, lines, pg.width, pg.height))
    return out


EXTRACTORS = {"pdfium": pages_pdfium, "pypdf": pages_pypdf, "pdfminer": pages_pdfminer, "pdfplumber": pages_pdfplumber}


def with_layout(pages: list[Page]) -> tuple[str, str]:
    """Run yuliao's layout post-processing on extracted pages; return the document text, and its body without footnotes."""
    stripped, _ = strip_running_lines(pages)
    paragraphs = paragraphs_of(stripped)
    return document_text(paragraphs)[0], "\n".join(p.text for p in paragraphs if not p.footnote)


CAPTION = re.compile(r"^(?:Table|表格?)\s*\d+\.\d+[.:]")


def prose(lines: list[str]) -> str:
    """Lines that are neither table rows (tabs), table captions nor footnotes (`^[7]` in the text edition)."""
    return "\n".join(line for line in lines if "\t" not in line and not CAPTION.match(line) and not line.startswith("^["))


def body_lcs_recall(body: str, ref_lines: list[str], kind: str) -> float:
    """LCS recall over prose only: tables, captions and footnotes out on both sides. The text edition prints a
    caption before its table and footnotes at the chapter end; the PDF floats tables to a page top or bottom with the
    caption after them and sets footnotes at the page bottom: differences of where, not of what."""
    ref_body = prose(ref_lines)
    body = prose(body.split("\n"))
    ext, ref = (han(body), han(ref_body)) if kind == "cjk" else (words(body), words(ref_body))
    region = anchored(ext, ref)
    return lcs(ext, region) / max(1, len(region))


def raw_text(pages: list[Page]) -> str:
    """Pages as extracted, joined by a form feed line (yuliao's pypdf reader before)."""
    return "\n\f\n".join("\n".join(line.text.rstrip("\r\n") for line in p.lines) for p in pages)


# --- measures --------------------------------------------------------------------------------------

WORD = re.compile(r"[^\W\d_]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text) if not any(is_cjk(c) for c in w)]


def han(text: str) -> list[str]:
    return [c for c in text if is_cjk(c) and not is_cjk_punct(c) and not 0x3040 <= ord(c) <= 0x30FF]


def anchored(extracted: list[str], reference: list[str], k: int = 8) -> list[str]:
    """The stretch of the reference that the extracted tokens cover, between the 1st and 99th percentile of
    the reference positions of n-grams unique in both (a footnote printed at the chapter end does not stretch it)."""
    ref_grams = Counter(tuple(reference[i:i + k]) for i in range(len(reference) - k + 1))
    ext_grams = Counter(tuple(extracted[i:i + k]) for i in range(len(extracted) - k + 1))
    where = {tuple(reference[i:i + k]): i for i in range(len(reference) - k + 1)}
    hits = sorted(where[g] for g, n in ext_grams.items() if n == 1 and ref_grams.get(g) == 1)
    if len(hits) < 10:
        return reference
    return reference[hits[len(hits) // 100]:hits[-1 - len(hits) // 100] + k]


def display_width(line: str) -> int:
    return sum(2 if is_cjk(c) else 1 for c in line)


def reference_lines(ref: str) -> list[str]:
    """The text edition as logical lines: ASCII-table rows as one line of cells (a cell wrapped over several
    text lines rejoined), and prose lines hard-wrapped at ~70 columns rejoined into their paragraph."""
    out: list[str] = []
    row: list[list[str]] = []
    prev_wrapped = False
    for raw in ref.splitlines():
        line = raw.strip()
        if line.startswith("|") and not set(line) <= set("|-+"):
            cells = line.strip("|").split("|")
            row.append(cells)
            continue
        if row:  # a table row ended at a rule line: read its cells column by column
            ncol = max(len(c) for c in row)
            cols = [" ".join(c[j].strip() for c in row if j < len(c) and c[j].strip()) for j in range(ncol)]
            out.append("\t".join(cols))  # tab-separated, as yuliao writes table rows
            row = []
        if set(line) <= set("|-+") and line:
            prev_wrapped = False
            continue
        if not line:
            prev_wrapped = False
            out.append("")
            continue
        if prev_wrapped and out and not re.match(r"([$#*o•-] |\d+\. )", line):  # a list item or command starts anew
            sep = "" if is_cjk(out[-1][-1]) and is_cjk(line[0]) else " "
            out[-1] += sep + line
        else:
            out.append(line)
        prev_wrapped = display_width(raw.rstrip()) >= 45
    return out


def lcs(a: list[str], b: list[str]) -> int:
    from rapidfuzz.distance import LCSseq

    return int(LCSseq.similarity(a, b))


def furniture_left(text: str, header: str) -> int:
    """Occurrences of the book's running header `<title> <page>[ / <total>]` (spaces optional) in the text."""
    title = r"\s*".join(re.escape(t) for t in header.replace(" ", ""))
    return len(re.findall(title + r"\s*[\divxlcdm]+(?:\s*/\s*\d+)?", text))


def break_contexts(text: str, kind: str) -> list[tuple[str, ...]]:
    """For every line break in the text: the 2 words (or 3 Han characters) on each side, joined across the break."""
    lines = [line for line in text.split("\n") if line.strip() and line != "\f"]
    out = []
    for a, b in zip(lines, lines[1:]):
        if kind == "cjk":
            ha, hb = han(a[-6:]), han(b[:6])
            if len(ha) >= 3 and len(hb) >= 3 and a.rstrip()[-1] == ha[-1] and b.lstrip()[0] == hb[0]:
                out.append(tuple(ha[-3:] + hb[:3]))
        else:
            wa, wb = words(a), words(b)
            if len(wa) >= 2 and len(wb) >= 2:
                out.append(tuple(wa[-2:] + wb[:2]))
    return out


def reference_ngrams(ref_lines: list[str], kind: str) -> set[tuple[str, ...]]:
    """Every 6 Han characters / 4 words that stand side by side inside one logical line of the text edition."""
    grams: set[tuple[str, ...]] = set()
    for line in ref_lines:
        toks = han(line) if kind == "cjk" else words(line)
        n = 6 if kind == "cjk" else 4
        grams.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    return grams


def mid_sentence_breaks(text: str, kind: str, ref_grams: set[tuple[str, ...]]) -> int:
    """Line breaks left between words (Han characters) that the text edition prints side by side in one paragraph."""
    return sum(1 for ctx in break_contexts(text, kind) if ctx in ref_grams)


def paragraph_breaks_kept(text: str, ref_lines: list[str], kind: str) -> float | None:
    """Share of the text edition's paragraph boundaries (between two prose paragraphs) that the extraction keeps as a
    line break, among those whose words appear in the extraction at all (with or without a break)."""
    def toks(line: str) -> list[str]:
        return han(line) if kind == "cjk" else words(line)

    n = 3 if kind == "cjk" else 2
    min_len = 12 if kind == "cjk" else 6
    paras = [toks(line) for line in ref_lines if line.strip()]
    boundaries = {tuple(a[-n:] + b[:n]) for a, b in zip(paras, paras[1:]) if len(a) >= min_len and len(b) >= min_len}
    lines = [toks(line) for line in text.split("\n") if line.strip()]
    at_breaks = {tuple(a[-n:] + b[:n]) for a, b in zip(lines, lines[1:]) if len(a) >= n and len(b) >= n}
    inside = {tuple(t[i:i + 2 * n]) for t in lines for i in range(len(t) - 2 * n + 1)}
    kept = len(boundaries & at_breaks)
    lost = len((boundaries & inside) - at_breaks)
    return kept / (kept + lost) if kept + lost else None


def measure(text: str, ref_lines: list[str], ref_grams: set[tuple[str, ...]], book: Book, n_pages: int) -> dict:
    ref = "\n".join(ref_lines)
    out = {"furniture_per_100p": 100 * furniture_left(text, book.header) / n_pages,
           "mid_breaks_per_100p": 100 * mid_sentence_breaks(text, book.kind, ref_grams) / n_pages,
           "para_breaks_kept": paragraph_breaks_kept(text, ref_lines, book.kind)}
    ew, rw = words(text), words(ref)
    vocab = set(rw)
    out["word_oov"] = sum(1 for w in ew if w not in vocab) / max(1, len(ew))
    if book.kind == "en":
        region = anchored(ew, rw)
        common = lcs(ew, region)
        out["word_lcs_recall"] = common / max(1, len(region))
        out["word_lcs_precision"] = common / max(1, len(ew))
    else:
        eh, rh = han(text), han(ref)
        region = anchored(eh, rh)
        common = lcs(eh, region)
        out["han_lcs_recall"] = common / max(1, len(region))
        out["han_lcs_precision"] = common / max(1, len(eh))
        # order-free share: what LCS loses beyond this is order (floats placed elsewhere), not characters
        out["han_bag_recall"] = sum((Counter(eh) & Counter(region)).values()) / max(1, len(region))
    return out


def first_chapter_page(data: bytes) -> int:
    """Page number of the first top-level outline entry (chapter 1), 1 if there is no outline."""
    outline = read_pdf_pages(data, 1, 1).outline
    return min((p for lvl, p, _ in outline if lvl == 1), default=1)


def run(extractors: list[str], n_pages: int) -> tuple[list[dict], dict]:
    rows = []
    for book in BOOKS:
        data = (CACHE / "root" / book.pdf).read_bytes()
        ref_lines = reference_lines(gzip.decompress((CACHE / "root" / book.txt).read_bytes()).decode("utf-8"))
        ref_grams = reference_ngrams(ref_lines, book.kind)
        import pypdfium2 as pdfium

        total = len(pdfium.PdfDocument(data))
        first = first_chapter_page(data)
        last = min(total, first + n_pages - 1) if n_pages else total
        pages_n = last - first + 1
        for name in extractors:
            t0 = time.perf_counter()
            pages = EXTRACTORS[name](data, first, last)
            t1 = time.perf_counter()
            text, body = with_layout(pages)
            t2 = time.perf_counter()
            rows.append({"book": book.name, "role": book.role, "extractor": f"{name} + layout", "pages": f"{first}-{last} of {total}",
                         "pages_per_s": pages_n / (t2 - t0), **measure(text, ref_lines, ref_grams, book, pages_n),
                         "body_lcs_recall": body_lcs_recall(body, ref_lines, book.kind)})
            if name in ("pypdf", "pdfium"):
                rows.append({"book": book.name, "role": book.role, "extractor": f"{name} raw", "pages": f"{first}-{last} of {total}",
                             "pages_per_s": pages_n / (t1 - t0), **measure(raw_text(pages), ref_lines, ref_grams, book, pages_n)})
            print(f"{book.name:24} {name:10} {pages_n / (t2 - t0):7.1f} pages/s", file=sys.stderr, flush=True)
    return rows, {}


def fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    head = ("| book | role | extractor | pages | word OOV % | word LCS recall | Han LCS recall | prose LCS recall (no tables, captions, footnotes) | Han LCS precision "
            "| Han bag recall | headers left /100 p | mid-sentence breaks /100 p | paragraph breaks kept | pages/s |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['book']} | {r['role']} | {r['extractor']} | {r['pages']} | {100 * r['word_oov']:.2f} "
                     f"| {fmt(r.get('word_lcs_recall'), '.4f')} | {fmt(r.get('han_lcs_recall'), '.4f')} | {fmt(r.get('body_lcs_recall'), '.4f')} "
                     f"| {fmt(r.get('han_lcs_precision'), '.4f')} | {fmt(r.get('han_bag_recall'), '.4f')} | {r['furniture_per_100p']:.1f} "
                     f"| {r['mid_breaks_per_100p']:.1f} | {fmt(r['para_breaks_kept'], '.3f')} | {r['pages_per_s']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=40, help="pages per book from chapter 1 on (0: all)")
    ap.add_argument("--extractors", default="pdfium,pypdf,pdfminer,pdfplumber")
    ap.add_argument("--out", default=None, help="write a markdown report here")
    args = ap.parse_args()
    debs = fetch_books()
    load0 = os.getloadavg()
    t0 = time.time()
    rows, _ = run(args.extractors.split(","), args.pages)
    load1 = os.getloadavg()
    report = "\n".join([
        f"run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_version()}, {os.cpu_count()} cores, "
        f"{time.time() - t0:.0f} s; load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}",
        f"packages: {', '.join(debs)}",
        f"pages per book: {args.pages or 'all'} from chapter 1 on",
        "",
        table(rows),
    ])
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""PDF text extraction against the same book's text edition: PDFium + layout (yuliao) vs pypdf, whole books.

Data: 17 PDFs that Debian ships next to a plain-text edition of the same book (BOOKS below: dblatex
books debian-reference, maint-guide, debmake-doc, debian-history, debian-faq in en/zh-cn/zh-tw/ja/ko,
and two Sphinx/LaTeX books, developers-reference and debian-policy). The .deb files are fetched with
`apt-get download` into bench/.cache/pdf (gitignored) and unpacked there with `dpkg-deb -x`.

Each book is extracted from its first chapter's page (first outline entry) to its end (the page before a
top-level `Index` outline entry: no text edition has the index) by each
extractor; `+ layout` rows run yuliao's layout step (transforms.convert.layout) on the extractor's
lines, `raw` rows are the extractor's page text joined by a form-feed line (`pypdf raw` is yuliao's
PDF reader before issue 19).

Reference: the text edition as logical lines (hard-wrapped prose rejoined; an ASCII table read
cell by cell, a cell wrapped over several text lines rejoined, cells tab-separated as yuliao writes
a row), with cross-reference titles dropped (`Section 9.1.2, “The screen program”` ->
`Section 9.1.2`: the PDFs print the number only). Tokens: words (letters and digits, NFKC, lower
case) for `words` books, CJK characters (Han, kana, Hangul; punctuation out) for `chars` books.
The extraction is compared with the stretch of the reference it covers (the span of the longest
in-order chain of 5-word / 6-character n-grams unique on both sides), as one sequence per book:

- error rate: Levenshtein distance over tokens / reference tokens (word error rate, character
  error rate), in the order printed; and again after putting the extraction's paragraphs (lines)
  in the reference's order ("reference block order": a paragraph goes where its unique n-grams
  are, a short one without any stays after the one before), with the share of tokens that moved —
  floats, captions under tables, footnotes at page bottoms and missed paragraph breaks around them;
- content error rate: the error rate in reference block order with web addresses left out on both
  sides (the PDFs print a link's address beside its text, the text editions mostly do not) and the
  PDF's own misprints (`Book.artifacts`: debmake-doc's `b''`) out of the extraction; and the same over
  the body only, footnotes out on both sides (the text editions gather them at the chapter end,
  numbered through the book; the PDFs number them per chapter at the page bottom);
- LCS recall (/ reference tokens) both ways, LCS precision (/ extracted tokens);
- recall per reference block type (prose, table rows, captions, footnotes), in reference order;
- word OOV: extracted words never in the text edition (glued `seesection`, split `di- rectly`);
- headers/footers left per 100 pages: matches of the book's own furniture patterns (BOOKS);
- mid-sentence breaks per 100 pages: line breaks between 2+2 words / 3+3 CJK characters that stand
  side by side in one logical line of the reference (an upper bound: code lines the reference
  rejoins count too); hyphen splits left per 100 pages: `di- rectly` / `di-\nrectly` where the
  text edition has `directly`; paragraph breaks kept: of the reference's paragraph boundaries seen
  in the extraction, the share kept as a line break;
- pages/s: extraction (+ layout), one process, load average printed before and after.

Tuning/evaluation split: see the comment above BOOKS; `role` is in every row.

    .venv/bin/python bench/bench_pdf.py [--books "debian-reference en,maint-guide"] [--pages 0] \
        [--extractors pdfium,pypdf,pdfminer,pdfplumber] [--out bench/results/pdf.md]
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
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.io.readers.pdf import document_text, read_pdf_pages  # noqa: E402
from transforms.convert.layout import Line, Page, is_cjk, is_cjk_punct, paragraphs_of, strip_running_lines  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "pdf"


@dataclass(frozen=True)
class Book:
    """A PDF, its text edition, how its text is tokenised, the regexes of its page furniture, its role."""

    name: str
    package: str
    kind: str  # "words" (word error rate) or "chars" (Chinese, Japanese, Korean: character error rate)
    pdf: str
    txt: str
    furniture: tuple[str, ...]  # regexes of the book's running header/footer lines (searched in every output line)
    role: str  # "tuning" or "evaluation"
    artifacts: tuple[str, ...] = ()  # regexes of text the PDF itself prints by mistake (out of the `content` error rate only)


DR, MG, DM, DH = "usr/share/debian-reference", "usr/share/doc/maint-guide", "usr/share/doc/debmake-doc", "usr/share/doc/debian-history/docs"
PAGE_OF = r"\s*\d+\s*/\s*\d+"  # dblatex's `<title> 13 / 223` header
ALONE_NUMBER = r"^\d{1,3}$"  # a page number on a line of its own
SPHINX_FOOTER = r"^(?:\d+\tChapter \d+\..*|\d+(?:\.\d+)*\. .*\t\d+)$"  # `32<tab>Chapter 5. ...`, `5.4. Layout ...<tab>31`
# Tuning: debian-reference en and zh-cn (the layout thresholds were set looking at them), and debmake-doc en
# from the second round on (its first, held-out run left 47.8 running headers per 100 pages: that made the
# cell-wise header keys; paragraph indents and boxed notes were then looked at there). From the third round on
# (2026-12-04) also debian-faq en and maint-guide en: their round-2 misses were read and made four rules (a line
# ending in PDFium's hyphen marker runs on, an outdented full term line runs on into its hanging indent, capitalised
# running heads recur by their `CHAPTER #` prefix, a footnote's mark is set apart from its first word) and the
# split of a PDFium line spanning two visual lines. Everything else is measured only: other languages of the same
# books, other dblatex books (debian-history; debmake-doc zh-cn/zh-tw share the tuning book's template; the
# maint-guide translations) and two Sphinx/LaTeX books (developers-reference, debian-policy) from another typesetter.
# Round 4 (2026-12-04 evening): debian-reference ja's misses were read: they made the rule that keeps a table's
# header row opening the text block (layout.outer_block) and the measure's Japanese cross-reference titles
# (without_corner_xref_titles, applied to every book's text edition), so it is a tuning book from then on.
BOOKS = (
    Book("debian-reference en", "debian-reference-en", "words", f"{DR}/debian-reference.en.pdf", f"{DR}/debian-reference.en.txt.gz",
         (r"Debian Reference" + PAGE_OF,), "tuning"),
    Book("debian-reference zh-cn", "debian-reference-zh-cn", "chars", f"{DR}/debian-reference.zh-cn.pdf", f"{DR}/debian-reference.zh-cn.txt.gz",
         (r"Debian 参考手册" + PAGE_OF,), "tuning"),
    Book("debian-reference zh-tw", "debian-reference-zh-tw", "chars", f"{DR}/debian-reference.zh-tw.pdf", f"{DR}/debian-reference.zh-tw.txt.gz",
         (r"Debian 參考手冊" + PAGE_OF,), "evaluation"),
    Book("debian-reference ja", "debian-reference-ja", "chars", f"{DR}/debian-reference.ja.pdf", f"{DR}/debian-reference.ja.txt.gz",
         (r"Debian リファレンス" + PAGE_OF,), "tuning"),  # evaluation in rounds 1-3; round 4 read its misses (table header rows)
    Book("maint-guide en", "maint-guide", "words", f"{MG}/maint-guide.en.pdf", f"{MG}/maint-guide.en.txt.gz",
         (r"Debian New Maintainers’ Guide" + PAGE_OF,), "tuning"),  # evaluation in rounds 1-2 (footnote marks: above)
    Book("maint-guide zh-cn", "maint-guide-zh-cn", "chars", f"{MG}-zh-cn/maint-guide.zh-cn.pdf", f"{MG}-zh-cn/maint-guide.zh-cn.txt.gz",
         (r"Debian 新维护者手册" + PAGE_OF,), "evaluation"),
    Book("maint-guide zh-tw", "maint-guide-zh-tw", "chars", f"{MG}-zh-tw/maint-guide.zh-tw.pdf", f"{MG}-zh-tw/maint-guide.zh-tw.txt.gz",
         (r"Debian 新維護人員手冊" + PAGE_OF,), "evaluation"),
    Book("maint-guide ja", "maint-guide-ja", "chars", f"{MG}-ja/maint-guide.ja.pdf", f"{MG}-ja/maint-guide.ja.txt.gz",
         (r"Debian 新メンテナーガイド" + PAGE_OF,), "evaluation"),
    Book("debmake-doc en", "debmake-doc", "words", f"{DM}/debmake-doc.en.pdf", f"{DM}/debmake-doc.en.txt.gz",
         (r"^CHAPTER \d+\. .*\t.*$", ALONE_NUMBER), "tuning",  # from the 2nd round on: cell-wise headers, indents, boxes
         (r"b''",)),  # its `tree` listings print Python's bytes repr around every box-drawing character (4,306 `b`s)
    Book("debmake-doc zh-cn", "debmake-doc", "chars", f"{DM}/debmake-doc.zh-cn.pdf", f"{DM}/debmake-doc.zh-cn.txt.gz",
         (r"^CHAPTER \d+\. .*\t.*$", ALONE_NUMBER), "evaluation"),
    Book("debmake-doc zh-tw", "debmake-doc", "chars", f"{DM}/debmake-doc.zh-tw.pdf", f"{DM}/debmake-doc.zh-tw.txt.gz",
         (r"^CHAPTER \d+\. .*\t.*$", ALONE_NUMBER), "evaluation"),
    Book("debian-history en", "debian-history", "words", f"{DH}/project-history.en.pdf", f"{DH}/project-history.en.txt.gz",
         (r"A Brief History of Debian" + PAGE_OF,), "evaluation"),
    Book("debian-history ja", "debian-history", "chars", f"{DH}/project-history.ja.pdf", f"{DH}/project-history.ja.txt.gz",
         (r"Debian 小史" + PAGE_OF,), "evaluation"),
    Book("debian-history ko", "debian-history", "chars", f"{DH}/project-history.ko.pdf", f"{DH}/project-history.ko.txt.gz",
         (r"간단한\s*데비안\s*역사" + PAGE_OF,), "evaluation"),  # chars: its PDF has no spaces between Hangul words (xeCJK)
    Book("debian-faq en", "debian-faq", "words", "usr/share/doc/debian/FAQ/debian-faq.en.pdf.gz", "usr/share/doc/debian/FAQ/debian-faq.en.txt.gz",
         (r"^CHAPTER \d+\. .*$", ALONE_NUMBER), "tuning"),  # evaluation in round 1; its misses then made three rules (docs)
    Book("developers-reference en", "developers-reference", "words", "usr/share/developers-reference/developers-reference.pdf",
         "usr/share/developers-reference/developers-reference.txt.gz", (r"Debian Developer’s Reference, Release [\d.]+", SPHINX_FOOTER), "evaluation"),
    Book("debian-policy en", "debian-policy", "words", "usr/share/doc/debian-policy/policy.pdf.gz", "usr/share/doc/debian-policy/policy.txt.gz",
         (r"Debian Policy Manual, Release [\d.]+", SPHINX_FOOTER), "evaluation"),
)


def fetch_books() -> list[str]:
    """Download and unpack the Debian packages into the cache once; return the .deb file names."""
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    packages = sorted({b.package for b in BOOKS})
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        r = subprocess.run(["apt-get", "download", *missing], cwd=debs, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"apt-get download failed ({r.stderr.strip()[-300:]}); run `apt-get update` first")
    root = CACHE / "root"
    names = sorted(p.name for p in debs.glob("*.deb") if p.name.split("_")[0] in packages)
    for name in names:
        marker = root / f".{name}.done"
        if not marker.exists():
            root.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(debs / name), str(root)], check=True)
            marker.touch()
    return names


def read_maybe_gz(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


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


CAPTION = re.compile(r"^(?:Table|表格?|표)\s*\d+(?:\.\d+)*[.:：]")
FOOTNOTE = re.compile(r"^(?:\^\[\d+\]|\[\d+\]\s)")  # the text editions: `^[7] ...` (DocBook) and `[7] ...` (Sphinx)
BLOCK_TYPES = ("prose", "table", "caption", "footnote")


def line_type(line: str) -> str:
    """What kind of block a logical line of the text edition is: a table row (tabs), a caption, a footnote or prose."""
    if "\t" in line:
        return "table"
    if CAPTION.match(line):
        return "caption"
    if FOOTNOTE.match(line):
        return "footnote"
    return "prose"


def raw_text(pages: list[Page]) -> str:
    """Pages as extracted, joined by a form feed line (yuliao's pypdf reader before)."""
    return "\n\f\n".join("\n".join(line.text.rstrip("\r\n") for line in p.lines) for p in pages)


def with_layout(pages: list[Page]) -> tuple[str, str]:
    """Run yuliao's layout post-processing on extracted pages; return the document text, and its body without footnotes."""
    stripped, _ = strip_running_lines(pages)
    paragraphs = paragraphs_of(stripped)
    return document_text(paragraphs)[0], "\n".join(p.text for p in paragraphs if not p.footnote)


# --- tokens ----------------------------------------------------------------------------------------

WORD = re.compile(r"[^\W_]+")  # letters and digits: `section`, `1`, `debian`, `데비안`
LETTERS = re.compile(r"[^\W\d_]+")


def words(text: str) -> list[str]:
    """Words (letters and digits, NFKC, lower case), CJK characters left out: what the word error rate counts."""
    return [w.lower() for w in WORD.findall(unicodedata.normalize("NFKC", text)) if not any(is_cjk(c) for c in w)]


def is_hangul(c: str) -> bool:
    return 0xAC00 <= ord(c) <= 0xD7A3


def cjk_chars(text: str) -> list[str]:
    """Han characters, kana and Hangul syllables (NFKC), punctuation left out: what the character error rate and LCS count."""
    return [c for c in unicodedata.normalize("NFKC", text) if (is_cjk(c) and not is_cjk_punct(c)) or is_hangul(c)]


def tokens(text: str, kind: str) -> list[str]:
    return cjk_chars(text) if kind == "chars" else words(text)


def grams_k(kind: str) -> int:
    """n-gram length that anchors a stretch of text in the reference: 5 words or 6 characters."""
    return 6 if kind == "chars" else 5


# --- alignment with the text edition ----------------------------------------------------------------

def unique_grams(toks: list[str], k: int) -> dict[tuple[str, ...], int]:
    """{k-gram: position} for the k-grams that occur exactly once."""
    seen: dict[tuple[str, ...], int] = {}
    dup: set[tuple[str, ...]] = set()
    for i in range(len(toks) - k + 1):
        g = tuple(toks[i:i + k])
        if g in seen:
            dup.add(g)
        else:
            seen[g] = i
    return {g: i for g, i in seen.items() if g not in dup}


def lis_indexes(values: list[int]) -> list[int]:
    """Indexes of one longest strictly increasing subsequence of values (patience sorting)."""
    import bisect

    tails: list[int] = []
    tails_at: list[int] = []
    parent = [-1] * len(values)
    for i, v in enumerate(values):
        j = bisect.bisect_left(tails, v)
        if j == len(tails):
            tails.append(v)
            tails_at.append(i)
        else:
            tails[j], tails_at[j] = v, i
        parent[i] = tails_at[j - 1] if j else -1
    out, i = [], tails_at[-1] if tails_at else -1
    while i >= 0:
        out.append(i)
        i = parent[i]
    return out[::-1]


def anchored_region(ext: list[str], ref: list[str], k: int) -> tuple[int, int]:
    """[start, end) of the reference that the extraction covers: the span of the longest chain of k-grams unique in
    both that come in the same order on both sides (a stray match, e.g. a heading in the table of contents, is off it)."""
    ref_at, ext_at = unique_grams(ref, k), unique_grams(ext, k)
    pairs = sorted((i, ref_at[g]) for g, i in ext_at.items() if g in ref_at)
    chain = [pairs[i][1] for i in lis_indexes([r for _, r in pairs])]
    if len(chain) < 10:
        return 0, len(ref)
    return chain[0], chain[-1] + k


def reorder_to_reference(paragraphs: list[list[str]], ref: list[str], k: int) -> tuple[list[str], float]:
    """The extraction's paragraphs put in the reference's order, and the share of tokens in paragraphs that moved.

    A paragraph's place is the median reference position of its k-grams unique on both sides; a short
    one (a table row) without such a k-gram tries shorter n-grams, down to 2; one without any stays
    right after the paragraph before it. Tokens inside a paragraph are not touched, so this measures
    what is inside paragraphs (and table rows, each its own line); where the PDF puts a float, a
    caption or a footnote shows up only in the moved share.
    """
    sizes = [n for n in (k, 4, 3, 2) if n <= k]
    flat = [t for p in paragraphs for t in p]
    ref_at = {n: unique_grams(ref, n) for n in sizes}
    ext_unique = {n: unique_grams(flat, n) for n in sizes}
    places: list[float] = []
    anchored: list[int] = []
    last = -1.0
    for m, p in enumerate(paragraphs):
        for n in sizes:
            hits = sorted(ref_at[n][g] for g in (tuple(p[i:i + n]) for i in range(len(p) - n + 1)) if g in ref_at[n] and g in ext_unique[n])
            if hits:
                last = float(hits[len(hits) // 2])
                anchored.append(m)
                break
        places.append(last)
    order = sorted(range(len(paragraphs)), key=lambda m: (places[m], m))
    in_order = {anchored[i] for i in lis_indexes([int(places[m]) for m in anchored])}
    moved = sum(len(paragraphs[m]) for m in anchored if m not in in_order)
    return [t for m in order for t in paragraphs[m]], moved / max(1, len(flat))


def edit_rate(ext: list[str], ref: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference length: the word (character) error rate."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(ext, ref) / max(1, len(ref))


def lcs(a: list[str], b: list[str]) -> int:
    from rapidfuzz.distance import LCSseq

    return int(LCSseq.similarity(a, b))


def recall_by_type(ext: list[str], ref: list[str], ref_types: list[str]) -> dict[str, float]:
    """Share of the reference's tokens, per block type, that the alignment with the extraction matches."""
    from rapidfuzz.distance import Levenshtein

    hit = [False] * len(ref)
    for op in Levenshtein.opcodes(ext, ref):
        if op.tag == "equal":
            hit[op.dest_start:op.dest_end] = [True] * (op.dest_end - op.dest_start)
    out = {}
    for t in BLOCK_TYPES:
        n = sum(1 for x in ref_types if x == t)
        out[t] = sum(1 for h, x in zip(hit, ref_types) if h and x == t) / n if n else None
    return out


# --- the text edition --------------------------------------------------------------------------------

def display_width(line: str) -> int:
    return sum(2 if is_cjk(c) else 1 for c in line)


def reference_lines(ref: str) -> list[str]:
    """The text edition as logical lines: ASCII-table rows as one line of cells (a cell wrapped over several
    text lines rejoined, cells tab-separated as yuliao writes table rows), and prose lines hard-wrapped at
    ~70 columns rejoined into their paragraph."""
    out: list[str] = []
    row: list[list[str]] = []
    prev_wrapped = False
    rule = set("|-+=")
    for raw in ref.splitlines():
        line = raw.strip()
        if line.startswith("|") and not set(line) <= rule:
            row.append(line.strip("|").split("|"))
            continue
        if row:  # a table row ended at a rule line: read its cells column by column
            ncol = max(len(c) for c in row)
            out.append("\t".join(" ".join(c[j].strip() for c in row if j < len(c) and c[j].strip()) for j in range(ncol)))
            row = []
        if line and set(line) <= rule:
            prev_wrapped = False
            continue
        if not line:
            prev_wrapped = False
            out.append("")
            continue
        if prev_wrapped and out and not re.match(r"([$#*o•+-] |\d+\. )", line):  # a list item or command starts anew
            sep = "" if is_cjk(out[-1][-1]) and is_cjk(line[0]) else " "
            out[-1] += sep + line
        else:
            out.append(line)
        prev_wrapped = display_width(raw.rstrip()) >= 45
    return out


XREF_TITLE = re.compile(r"(\d+(?:\.\d+)*(?:\s*[节節章])?),?\s*“[^”]{1,160}”")


def without_xref_titles(text: str) -> str:
    """The text edition with the quoted target titles of cross-references dropped (`Section 9.1.2, “The screen
    program”` -> `Section 9.1.2`, `第 9.1.2 节 “screen 程序”` -> `第 9.1.2 节`): the PDFs print the number only."""
    return XREF_TITLE.sub(r"\1", text)


HEADING = re.compile(r"^\s*(?:\d+(?:\.\d+)+\.?|[表図]\s*\d+(?:\.\d+)*|第\s*\d+\s*章)\s*(\S.{0,120})$")  # 1.2.3. / 表1.7 / 第1章
CORNER_XREF = re.compile(r"「([^」]{1,120})」")
CHAPTER_XREF = re.compile(r"\d+\s*章")


def heading_titles(ref_text: str) -> set[str]:
    """The titles of the text edition's numbered headings, tables and figures, spaces out: what a cross-reference quotes."""
    return {re.sub(r"\s", "", m.group(1)) for line in ref_text.splitlines() if (m := HEADING.match(line))}


def without_corner_xref_titles(line: str, titles: set[str]) -> str:
    """A logical line with the quoted titles of Japanese cross-references dropped (`「仮想コンソール」参照`,
    `4章認証とアクセスの制御参照` -> `4章参照`) where the quoted text is a heading of the book: the PDFs print
    `項1.1.6参照` and `第4章参照` instead (the text editions' `Section 9.1.2, “...”` form is without_xref_titles)."""
    if HEADING.match(line):
        return line
    line = CORNER_XREF.sub(lambda m: "" if re.sub(r"\s", "", m.group(1)) in titles else m.group(0), line)
    out, pos = [], 0
    for m in CHAPTER_XREF.finditer(line):
        if m.start() < pos:
            continue
        out.append(line[pos:m.end()])
        pos = m.end()
        rest = re.sub(r"\s", "", line[pos:])
        title = max((t for t in titles if rest.startswith(t)), key=len, default="")
        for _ in title:  # step over the title's characters and the spaces among them
            while line[pos].isspace():
                pos += 1
            pos += 1
    return "".join(out) + line[pos:]


def reference_tokens(ref_lines: list[str], kind: str) -> tuple[list[str], list[str]]:
    """The text edition's tokens and, for each, the type of block it stands in."""
    toks: list[str] = []
    types: list[str] = []
    for line in ref_lines:
        t = tokens(line, kind)
        toks.extend(t)
        types.extend([line_type(line)] * len(t))
    return toks, types


# --- furniture, breaks, hyphens ----------------------------------------------------------------------

def furniture_left(text: str, patterns: tuple[str, ...]) -> int:
    """Lines (or pieces of lines) of the text that match one of the book's running header/footer patterns."""
    return sum(len(re.findall(p, text, re.MULTILINE)) for p in patterns)


def break_contexts(text: str, kind: str) -> list[tuple[str, ...]]:
    """For every line break in the text: 2 words (3 CJK characters) on each side, joined across the break."""
    lines = [line for line in text.split("\n") if line.strip() and line != "\f"]
    out = []
    for a, b in zip(lines, lines[1:]):
        if kind == "chars":
            ha, hb = cjk_chars(a[-6:]), cjk_chars(b[:6])
            if len(ha) >= 3 and len(hb) >= 3 and a.rstrip()[-1] == ha[-1] and b.lstrip()[0] == hb[0]:
                out.append(tuple(ha[-3:] + hb[:3]))
        else:
            wa, wb = words(a), words(b)
            if len(wa) >= 2 and len(wb) >= 2:
                out.append(tuple(wa[-2:] + wb[:2]))
    return out


def reference_ngrams(ref_lines: list[str], kind: str) -> set[tuple[str, ...]]:
    """Every 6 CJK characters / 4 words that stand side by side inside one logical line of the text edition."""
    grams: set[tuple[str, ...]] = set()
    n = 6 if kind == "chars" else 4
    for line in ref_lines:
        toks = tokens(line, kind)
        grams.update(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    return grams


def mid_sentence_breaks(text: str, kind: str, ref_grams: set[tuple[str, ...]]) -> int:
    """Line breaks left between words (CJK characters) that the text edition prints side by side in one paragraph."""
    return sum(1 for ctx in break_contexts(text, kind) if ctx in ref_grams)


def paragraph_breaks_kept(text: str, ref_lines: list[str], kind: str) -> float | None:
    """Share of the text edition's paragraph boundaries (between two prose paragraphs) that the extraction keeps as a
    line break, among those whose words appear in the extraction at all (with or without a break)."""
    n = 3 if kind == "chars" else 2
    min_len = 12 if kind == "chars" else 6
    paras = [tokens(line, kind) for line in ref_lines if line.strip()]
    boundaries = {tuple(a[-n:] + b[:n]) for a, b in zip(paras, paras[1:]) if len(a) >= min_len and len(b) >= min_len}
    lines = [tokens(line, kind) for line in text.split("\n") if line.strip()]
    at_breaks = {tuple(a[-n:] + b[:n]) for a, b in zip(lines, lines[1:]) if len(a) >= n and len(b) >= n}
    inside = {tuple(t[i:i + 2 * n]) for t in lines for i in range(len(t) - 2 * n + 1)}
    kept = len(boundaries & at_breaks)
    lost = len((boundaries & inside) - at_breaks)
    return kept / (kept + lost) if kept + lost else None


HYPHEN_SPLIT = re.compile(r"([^\W\d_]+)[-\u2010\u00ad\x02\ufffe][ \t]*\n?[ \t]*([^\W\d_]+)")


def hyphen_splits_left(text: str, ref_words: set[str], ref_text_lower: str) -> int:
    """Words the text edition writes whole (`directly`) that the text has split at a hyphen (`di- rectly`, `di-\\nrectly`)."""
    n = 0
    for m in HYPHEN_SPLIT.finditer(text):
        a, b = m.group(1).lower(), m.group(2).lower()
        if a + b in ref_words and f"{a}-{b}" not in ref_text_lower:
            n += 1
    return n


# --- one book ------------------------------------------------------------------------------------------

@dataclass
class Reference:
    """The text edition of a book, prepared once for every extractor."""

    lines: list[str]
    toks: list[str]
    types: list[str]
    grams: set[tuple[str, ...]]
    vocab: set[str]
    lower: str


URL = re.compile(r"\b(?:https?|ftp)://[^\s)”\]]+|\bwww\.[^\s)”\]]+")


def without_urls(text: str) -> str:
    """Text with its web addresses left out: the PDFs print a link's address beside its text, the text editions mostly not."""
    return URL.sub(" ", text)


def prepare_reference(book: Book, strip_urls: bool = False, body_only: bool = False) -> Reference:
    text = without_xref_titles(read_maybe_gz(CACHE / "root" / book.txt).decode("utf-8"))
    titles = heading_titles(text)
    lines = [without_corner_xref_titles(line, titles) for line in reference_lines(without_urls(text) if strip_urls else text)]
    if body_only:  # the text editions gather footnotes at the chapter end, numbered through the book
        lines = [line for line in lines if line_type(line) != "footnote"]
    toks, types = reference_tokens(lines, book.kind)
    text = "\n".join(lines)
    return Reference(lines, toks, types, reference_ngrams(lines, book.kind), set(words(text)), unicodedata.normalize("NFKC", text).lower())


def content_error_rate(text: str, ref_no_urls: Reference, book: Book) -> float:
    """Error rate in reference block order with web addresses out on both sides and the PDF's own misprints
    (`Book.artifacts`) out of the extraction: what the extractor got wrong, not what the two editions print differently."""
    for pattern in book.artifacts:
        text = re.sub(pattern, " ", text)
    text = without_urls(text)
    k = grams_k(book.kind)
    lo, hi = anchored_region(tokens(text, book.kind), ref_no_urls.toks, k)
    region = ref_no_urls.toks[lo:hi]
    paras = [tokens(line, book.kind) for line in text.split("\n")]
    return edit_rate(reorder_to_reference([p for p in paras if p], region, k)[0], region)


def measure(text: str, ref: Reference, book: Book, n_pages: int, full: bool) -> dict:
    """Every measure of one extraction against the text edition (full: also the reordered and per-type ones)."""
    k = grams_k(book.kind)
    ext = tokens(text, book.kind)
    lo, hi = anchored_region(ext, ref.toks, k)
    region, region_types = ref.toks[lo:hi], ref.types[lo:hi]
    ew = words(text)
    out = {"furniture_per_100p": 100 * furniture_left(text, book.furniture) / n_pages,
           "mid_breaks_per_100p": 100 * mid_sentence_breaks(text, book.kind, ref.grams) / n_pages,
           "hyphen_splits_per_100p": 100 * hyphen_splits_left(text, ref.vocab, ref.lower) / n_pages,
           "para_breaks_kept": paragraph_breaks_kept(text, ref.lines, book.kind),
           "word_oov": sum(1 for w in ew if w not in ref.vocab) / max(1, len(ew)),
           "ref_tokens": len(region), "error_rate": edit_rate(ext, region), "lcs_recall": lcs(ext, region) / max(1, len(region)),
           "lcs_precision": lcs(ext, region) / max(1, len(ext))}
    if full:
        paras = [tokens(line, book.kind) for line in text.split("\n")]
        moved_ext, moved = reorder_to_reference([p for p in paras if p], region, k)
        out.update({"moved": moved, "error_rate_reordered": edit_rate(moved_ext, region),
                    "lcs_recall_reordered": lcs(moved_ext, region) / max(1, len(region)),
                    "by_type": recall_by_type(moved_ext, region, region_types),
                    "type_share": {t: sum(1 for x in region_types if x == t) / max(1, len(region)) for t in BLOCK_TYPES}})
    return out


def first_chapter_page(data: bytes) -> int:
    """Page number of the first top-level outline entry (chapter 1), 1 if there is no outline."""
    outline = read_pdf_pages(data, 1, 1).outline
    return min((p for lvl, p, _ in outline if lvl == 1), default=1)


def last_text_page(data: bytes, total: int) -> int:
    """The page before a back-matter index (a top-level outline entry `Index`), which no text edition has; else the last."""
    outline = read_pdf_pages(data, 1, 1).outline
    return min((p - 1 for lvl, p, title in outline if lvl == 1 and title.strip().lower() in ("index", "索引")), default=total)


def run(books: list[Book], extractors: list[str], n_pages: int) -> list[dict]:
    import pypdfium2 as pdfium

    rows = []
    for book in books:
        data = read_maybe_gz(CACHE / "root" / book.pdf)
        ref, ref_no_urls = prepare_reference(book), prepare_reference(book, strip_urls=True)
        ref_body = prepare_reference(book, strip_urls=True, body_only=True)
        total = len(pdfium.PdfDocument(data))
        first, end = first_chapter_page(data), last_text_page(data, total)
        last = min(end, first + n_pages - 1) if n_pages else end
        pages_n = last - first + 1
        for name in extractors:
            t0 = time.perf_counter()
            pages = EXTRACTORS[name](data, first, last)
            t1 = time.perf_counter()
            text, body = with_layout(pages)
            t2 = time.perf_counter()
            base = {"book": book.name, "role": book.role, "kind": book.kind, "pages": f"{first}-{last} of {total}"}
            rows.append({**base, "extractor": f"{name} + layout", "pages_per_s": pages_n / (t2 - t0),
                         **measure(text, ref, book, pages_n, full=True), "content_error_rate": content_error_rate(text, ref_no_urls, book),
                         "body_error_rate": content_error_rate(body, ref_body, book)})
            if name in ("pypdf", "pdfium"):
                rows.append({**base, "extractor": f"{name} raw", "pages_per_s": pages_n / (t1 - t0),
                             **measure(raw_text(pages), ref, book, pages_n, full=name == "pypdf")})
            print(f"{book.name:26} {name:10} {pages_n / (t2 - t0):7.1f} pages/s", file=sys.stderr, flush=True)
    return rows


def fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def pct(v) -> str:
    return "–" if v is None else f"{100 * v:.2f}"


def main_table(rows: list[dict]) -> str:
    head = ("| book | role | extractor | pages | error rate % (words / CJK chars) | error rate % in reference block order | moved % "
            "| LCS recall | LCS recall in reference block order | LCS precision | word OOV % | headers/footers left /100 p "
            "| mid-sentence breaks /100 p | hyphen splits left /100 p | paragraph breaks kept | pages/s "
            "| content error rate % (block order, no URLs, no misprints) | the same, body only (footnotes out on both sides) |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        lines.append(f"| {r['book']} | {r['role']} | {r['extractor']} | {r['pages']} | {pct(r['error_rate'])} | {pct(r.get('error_rate_reordered'))} "
                     f"| {pct(r.get('moved'))} | {fmt(r['lcs_recall'], '.4f')} | {fmt(r.get('lcs_recall_reordered'), '.4f')} "
                     f"| {fmt(r['lcs_precision'], '.4f')} | {pct(r['word_oov'])} | {r['furniture_per_100p']:.1f} | {r['mid_breaks_per_100p']:.1f} "
                     f"| {r['hyphen_splits_per_100p']:.1f} | {fmt(r['para_breaks_kept'], '.3f')} | {r['pages_per_s']:.1f} "
                     f"| {pct(r.get('content_error_rate'))} | {pct(r.get('body_error_rate'))} |")
    return "\n".join(lines)


def type_table(rows: list[dict]) -> str:
    head = ("| book | role | extractor | tokens | prose: share, recall | table rows: share, recall | captions: share, recall "
            "| footnotes: share, recall |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        if "by_type" not in r:
            continue
        cells = " | ".join(f"{100 * r['type_share'][t]:.1f} %, {fmt(r['by_type'][t], '.4f')}" for t in BLOCK_TYPES)
        lines.append(f"| {r['book']} | {r['role']} | {r['extractor']} | {r['ref_tokens']} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=0, help="pages per book from chapter 1 on (0: all)")
    ap.add_argument("--extractors", default="pdfium,pypdf", help="among pdfium, pypdf, pdfminer, pdfplumber")
    ap.add_argument("--books", default="", help="comma-separated substrings of book names (default: all)")
    ap.add_argument("--out", default=None, help="write a markdown report here")
    args = ap.parse_args()
    debs = fetch_books()
    wanted = [s.strip() for s in args.books.split(",") if s.strip()]
    books = [b for b in BOOKS if not wanted or any(w in b.name for w in wanted)]
    load0 = os.getloadavg()
    t0 = time.time()
    rows = run(books, args.extractors.split(","), args.pages)
    load1 = os.getloadavg()
    report = "\n".join([
        f"run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_version()}, {os.cpu_count()} cores, "
        f"{time.time() - t0:.0f} s; load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}",
        f"packages: {', '.join(debs)}",
        f"pages per book: {args.pages or 'all'} from chapter 1 on",
        "",
        main_table(rows),
        "",
        type_table(rows),
    ])
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

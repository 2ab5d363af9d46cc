"""Pure layout post-processing of extracted page lines: page furniture out, paragraphs in, lines joined.

Input is what a PDF extractor gives per page: lines in reading order, with their box on the page
when known (top-down coordinates, points). Output is paragraphs of running text:

- running headers, footers and page numbers are lines at the top or bottom edge of a page (among
  its first or last two lines and, when positions are known, in its top or bottom 12 %) whose
  normalised form (digits and roman numerals as `#`, spaces removed, case folded) recurs at the
  same edge on at least `min_repeats` other pages within `window` pages: `Debian Reference 13 / 223`
  on page 15 and `Debian Reference 14 / 223` on page 16 are the same furniture line;
- a table row (a line whose cells the extractor separated by tabs) is a paragraph of its own, and
  a cell wrapped onto the next line (starting under a later column) folds back into its row;
- a paragraph ends where the next line starts a list item, where the vertical gap grows past the
  usual line pitch, where the indentation changes, or where the line stops short: its first word
  of the next line would have fitted in the room left at its end (works for ragged and justified
  text, and for CJK where a line can break after any character);
- footnotes (smaller lines at the page bottom opening with a note mark) leave the page flow and
  follow the paragraph that was running at the bottom of their page, once it ends, so a paragraph
  running over a page break is not cut by them;
- lines inside a paragraph join without a space between two CJK characters, with one space
  between words, and a word hyphenated across a line break is rejoined (the hyphen dropped when the
  joined word occurs elsewhere in the document or the continuation is lower case and the hyphenated
  form does not occur; kept for compounds such as `x-terminal-` / `emulator` seen elsewhere whole,
  and before a capitalised continuation); a URL broken after a slash rejoins as it was.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# U+00AD, and PDFium's markers for a hyphen it saw at a line end (U+0002 in bounded text, U+FFFE in ranges)
SOFT_HYPHENS = ("\u00ad", "\x02", "\ufffe")
HYPHENS = ("-", "\u2010")
_ROMAN = re.compile(r"(?<![a-z])[ivxlcdm]{1,7}(?![a-z])")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_LIST_MARKER = re.compile(r"^\s*(?:[•●○◦▪▫■□‣⁃∙·*–—-]\s|\(?(?:\d{1,3}|[a-zA-Z])[.)]\s|[（(][一二三四五六七八九十\d]{1,3}[）)]|[一二三四五六七八九十]{1,3}、)")
_WORD_AT_END = re.compile(r"([^\W\d_]+)[-\u2010\u00ad\x02\ufffe]$")
_PAGE_NUMBER_KEY = re.compile(r"[-–—(\[]*#[)\]]*(?:/#|of#)?[-–—]*")  # `12`, `- 12 -`, `(xii)`, `12 / 230`
_TOC_ENTRY = re.compile(r"(?:\.\s?){4,}\s*[\divxlcdm]+\s*$|\s{2,}\d+\s*$", re.IGNORECASE)  # leader dots then a page
_WORD_AT_START = re.compile(r"^([^\W\d_]+)")
_WORDS = re.compile(r"[^\W\d_]+(?:[-\u2010][^\W\d_]+)*")


def is_cjk(ch: str) -> bool:
    """True for a Han character, kana, a CJK or full-width punctuation mark (written without spaces)."""
    o = ord(ch)
    return (0x3000 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0xFE30 <= o <= 0xFE4F or 0xFF00 <= o <= 0xFF60 or 0x20000 <= o <= 0x3FFFF or 0x31F0 <= o <= 0x31FF)


def is_cjk_punct(ch: str) -> bool:
    """True for CJK or full-width punctuation (，。、：（）「」 ...), which never takes a space beside it."""
    o = ord(ch)
    return 0x3000 <= o <= 0x303F or 0xFE30 <= o <= 0xFE4F or (0xFF00 <= o <= 0xFF60 and not ch.isalnum())


@dataclass(frozen=True)
class Line:
    """One text line of a page; the box (points, y from the page top) is None when the extractor gives none."""

    text: str
    x0: float | None = None
    x1: float | None = None
    top: float | None = None
    bottom: float | None = None
    cell_x: tuple[float, ...] = ()  # a table row: where each tab-separated cell starts

    @property
    def has_box(self) -> bool:
        """True when the line's position on the page is known."""
        return None not in (self.x0, self.x1, self.top, self.bottom)


@dataclass(frozen=True)
class Page:
    """The lines of one page (1-based page number) and the page size when known."""

    number: int
    lines: tuple[Line, ...]
    width: float | None = None
    height: float | None = None


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of running text and the pages its lines came from (first line's page first)."""

    text: str
    pages: tuple[int, ...]
    line_offsets: tuple[tuple[int, int], ...] = field(default=())  # (page, offset in text) where each page's lines start
    footnote: bool = False  # a footnote, set after the body text


Box = tuple[float, float, float, float]  # a glyph's loose box: left, bottom, right, top (PDF units, y up)
WORD_GAP_EM = 0.12  # loose glyph boxes (1-1.2 font sizes high) of one word abut; a squeezed word space is 0.2 font sizes or more
COLUMN_GAP_EM = 1.5  # a gap this wide between two words on a line separates table columns


def glyphs_spaced(text: str, boxes: Sequence[Box]) -> list[tuple[str, Box | None]]:
    """Pair each character with its box, adding a space where two glyphs stand apart without one (a squeezed word space the
    extractor missed: `asJIS`) and a tab where a glyph is printed back over the one before (a table cell overflowing
    into the next column: `heavyV:7`). Never between two CJK characters, which are set without spaces."""
    out: list[tuple[str, Box | None]] = []
    prev: int | None = None
    for k, ch in enumerate(text):
        if prev == k - 1 and not ch.isspace():
            a, b = boxes[prev], boxes[k]
            em = max(a[3] - a[1], b[3] - b[1])
            real = em > 0 and a[2] > a[0] and b[2] > b[0]  # no generated glyphs
            if real and not (is_cjk(text[prev]) or is_cjk(ch) or ch in SOFT_HYPHENS):
                if abs(a[1] - b[1]) < 0.25 * em and b[0] - a[2] > WORD_GAP_EM * em:  # same baseline, apart
                    out.append((" ", None))
                elif b[0] < a[2] - 0.3 * em and b[2] > a[2] and text[prev].isalnum() and ch.isalnum():
                    out.append(("\t", None))  # back over the glyph before (on its line or a cell's other baseline)
        out.append((ch, boxes[k]))
        if not ch.isspace():
            prev = k
    return out


def with_column_tabs(glyphs: Sequence[tuple[str, Box | None]], em: float) -> tuple[str, tuple[float, ...]]:
    """Return a line's text with the spaces between table columns made tabs, and where each cell starts (x).

    A space becomes a tab where the glyphs around it stand more than 1.5 em apart. A justified line
    spreads its gaps evenly, a table row does not: on a line with more than two gaps, a gap must also
    be over twice the line's narrowest one, and three or more such gaps all within 15 % of each other
    are a loosely justified line, not columns. A tab already there (an overprinted cell) stays.
    """
    solid = [k for k, (ch, box) in enumerate(glyphs) if not ch.isspace() and box is not None]
    gaps: dict[int, float] = {}
    for a, b in zip(solid, solid[1:]):
        between = [ch for ch, _ in glyphs[a + 1:b]]
        if between and all(ch == " " for ch in between):
            gaps[a + 1] = glyphs[b][1][0] - glyphs[a][1][2]  # type: ignore[index]
    wide: dict[int, float] = {}
    if gaps:
        narrowest = min(gaps.values())
        wide = {k: g for k, g in gaps.items() if g > COLUMN_GAP_EM * em and (len(gaps) <= 2 or g > 2 * max(narrowest, 0.0))}
        if len(wide) >= 3 and max(wide.values()) - min(wide.values()) <= 0.15 * sum(wide.values()) / len(wide):
            wide = {}  # evenly stretched gaps: a loosely justified line (with narrow spaces in a code font)
    tabs = set(wide) | {k for k, (ch, _) in enumerate(glyphs) if ch == "\t"}
    if not tabs:
        return "".join(ch for ch, _ in glyphs), ()
    out: list[str] = []
    cell_x: list[float] = []
    k = 0
    while k < len(glyphs):
        ch, box = glyphs[k]
        if k in tabs:
            out.append("\t")
            k += 1
            while k < len(glyphs) and glyphs[k][0] == " ":  # the rest of a run of spaces belongs to the tab
                k += 1
            nxt = next((g[1] for g in glyphs[k:] if g[1] is not None and not g[0].isspace()), None)
            if nxt is not None:
                cell_x.append(nxt[0])
            continue
        out.append(ch)
        k += 1
    first = next((box for ch, box in glyphs if box is not None and not ch.isspace()), None)
    return "".join(out), ((first[0],) if first else ()) + tuple(cell_x)


def furniture_key(text: str) -> str | None:
    """Normalise a line for header/footer matching: digits and roman numerals -> '#', no spaces, lower case.

    None for lines that cannot be furniture: without a letter, only page-number shapes count.
    """
    low = _SPACE.sub(" ", text.strip().lower())
    if not low:
        return None
    key = _ROMAN.sub("#", _DIGITS.sub("#", low)).replace(" ", "")
    if any(ch.isalpha() for ch in key) or _PAGE_NUMBER_KEY.fullmatch(key):
        return key
    return None  # `1.2.3` (a section number), a lone brace, a rule of dashes: body text, not furniture


def furniture_keys(text: str, outermost: bool) -> set[str]:
    """Keys under which a page-edge line can recur: the whole line's, and on the outermost line of a page edge that
    is split in 2-3 cells (`CHAPTER 5. BASICS<tab>5.7. DEBIAN/CONTROL`, `5.4. Layout ...<tab>31`) each cell's: a
    running header pairs a fixed part (chapter title, page number) with one that changes every few pages."""
    keys = {furniture_key(text)}
    cells = [c for c in text.strip().split("\t") if c.strip()]
    if outermost and 2 <= len(cells) <= 3:
        keys.update(furniture_key(c) for c in cells)
    if outermost and (2 <= len(cells) <= 3 or is_capitals(text)):
        keys.add(numbered_prefix_key(text))
    keys.discard(None)
    return keys  # type: ignore[return-value]


_NUMBERED_PREFIX = re.compile(r"^([^\W\d_]{3,}(?: [^\W\d_]+)*) \d+\b")


def is_capitals(text: str) -> bool:
    """True when a line has letters and all of them are capitals (a running head set in capitals)."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 3 and all(ch.isupper() for ch in letters)


def numbered_prefix_key(text: str) -> str | None:
    """The words before a line's first number (`CHAPTER 9. KEEPING ...` -> `chapter#`): the fixed part of a running
    head whose chapter title changes faster than a chapter spans pages (books of one- or two-page chapters)."""
    m = _NUMBERED_PREFIX.match(_SPACE.sub(" ", text.strip()))
    return None if m is None else "^" + m.group(1).lower().replace(" ", "") + "#"


def outermost_lines(page: Page, edges: dict[int, str]) -> set[int]:
    """The top-most of a page's top edge lines and the bottom-most of its bottom edge lines."""
    out: set[int] = set()
    for edge in ("t", "b"):
        idx = [i for i, e in edges.items() if e == edge]
        if not idx:
            continue
        if all(page.lines[i].has_box for i in idx):
            out.add(min(idx, key=lambda i: page.lines[i].top) if edge == "t" else max(idx, key=lambda i: page.lines[i].bottom))  # type: ignore[arg-type, return-value]
        else:
            out.add(min(idx) if edge == "t" else max(idx))
    return out


EDGE_BAND = 0.12  # headers and footers sit in the top or bottom 12 % of a page (Word: 4 %, LaTeX: 5 %)


def in_edge_band(line: Line, page: Page, edge: str) -> bool:
    """True when a line lies in the page's top (edge 't') or bottom ('b') band; True when its position is unknown."""
    if not (line.has_box and page.height):
        return True
    if edge == "t":
        return line.top < EDGE_BAND * page.height  # type: ignore[operator]
    return line.bottom > (1 - EDGE_BAND) * page.height  # type: ignore[operator]


def gap_between(a: Line, b: Line) -> float:
    """Blank space between two boxed lines (negative when they overlap)."""
    return max(a.top, b.top) - min(a.bottom, b.bottom)  # type: ignore[type-var, operator]


def outer_block(lines: Sequence[Line], inward: Sequence[int], edge_lines: int) -> list[int]:
    """The first `edge_lines` of `inward` (line indexes from a page edge towards its middle), cut before the first line
    that sits nearer to the line after it than to the line before it: that line opens the body (a table's header row
    at the top of the text block), while a running head's second line hangs on its first."""
    out = list(inward[:1])
    for k in range(1, min(edge_lines, len(inward))):
        here = lines[inward[k]]
        if k + 1 < len(inward) and gap_between(here, lines[inward[k + 1]]) < gap_between(here, lines[inward[k - 1]]):
            break
        out.append(inward[k])
    return out


def edge_line_indexes(page: Page, edge_lines: int) -> dict[int, str]:
    """Return {line index: 't' or 'b'} for the first and last `edge_lines` non-blank lines of a page that lie in
    its top or bottom band (body text in mid-page is never furniture, however often it repeats)."""
    idx = [i for i, line in enumerate(page.lines) if line.text.strip()]
    top, bottom = idx[:edge_lines], idx[-edge_lines:]
    if idx and all(page.lines[i].has_box for i in idx):  # by position: a footer drawn first is still at the bottom
        by_top = sorted(idx, key=lambda i: page.lines[i].top)  # type: ignore[arg-type, return-value]
        by_bottom = sorted(idx, key=lambda i: page.lines[i].bottom, reverse=True)  # type: ignore[arg-type, return-value]
        top = outer_block(page.lines, by_top, edge_lines)
        bottom = outer_block(page.lines, by_bottom, edge_lines)
    out = {i: "b" for i in bottom if in_edge_band(page.lines[i], page, "b")}
    out.update({i: "t" for i in top if in_edge_band(page.lines[i], page, "t")})
    return out


def find_running_lines(pages: Sequence[Page], *, edge_lines: int = 2, window: int = 8, min_repeats: int = 2) -> set[tuple[int, int]]:
    """Return (page index, line index) of running headers/footers/page numbers.

    A line at a page edge is furniture when the same normalised line sits at the same edge of at
    least `min_repeats` other pages no more than `window` pages away (so chapter-specific headers
    count as well as the book title). Documents shorter than min_repeats + 1 pages keep every line.
    """
    keyed: list[dict[tuple[str, str], list[int]]] = []
    for page in pages:
        here: dict[tuple[str, str], list[int]] = {}
        edges = edge_line_indexes(page, edge_lines)
        outer = outermost_lines(page, edges)
        for i, edge in edges.items():
            for key in furniture_keys(page.lines[i].text, outermost=i in outer):
                here.setdefault((edge, key), []).append(i)
        keyed.append(here)
    found: set[tuple[int, int]] = set()
    for p, here in enumerate(keyed):
        lo, hi = max(0, p - window), min(len(pages), p + window + 1)
        for ek, line_idx in here.items():
            repeats = sum(1 for q in range(lo, hi) if q != p and ek in keyed[q])
            if repeats >= min_repeats:
                found.update((p, i) for i in line_idx)
    return found


def strip_running_lines(pages: Sequence[Page], **kwargs) -> tuple[list[Page], int]:
    """Return the pages without their running headers/footers/page numbers, and how many lines went."""
    furniture = find_running_lines(pages, **kwargs)
    out = [Page(page.number, tuple(line for i, line in enumerate(page.lines) if (p, i) not in furniture), page.width, page.height)
           for p, page in enumerate(pages)]
    return out, len(furniture)


def starts_list_item(text: str) -> bool:
    """True when a line opens a list item (bullet, dash, `1.`, `(a)`, `（一）`, `一、`)."""
    return bool(_LIST_MARKER.match(text))


def char_width(line: Line) -> float:
    """Average advance of one character of a boxed line (CJK counted double: they are full width)."""
    text = line.text.strip()
    units = sum(2 if is_cjk(ch) else 1 for ch in text) or 1
    return (line.x1 - line.x0) / units  # type: ignore[operator]


def first_word_units(text: str) -> int:
    """Width in half-em units of what must fit on a line before a break: one CJK character, or the first word."""
    text = text.lstrip()
    if not text:
        return 0
    if is_cjk(text[0]):
        return 2
    word = re.split(r"[ \t\n]+", text, maxsplit=1)[0]  # a no-break space binds (`5\xa0章`, `Fig.\xa03`): one unit
    return sum(2 if is_cjk(ch) else 1 for ch in word)


def ends_short(prev: Line, nxt: Line, right: float) -> bool:
    """True when `prev` stops early enough that the start of `nxt` would have fitted after it (a paragraph end)."""
    cw = char_width(prev)
    room = right - prev.x1  # type: ignore[operator]
    return room > (first_word_units(nxt.text) + 1) * cw


def page_margins(lines: Sequence[Line]) -> tuple[float, float]:
    """Left and right text margins of a page: where most lines start, and the right edge of the widest lines."""
    boxed = [line for line in lines if line.has_box]
    lefts = Counter(round(line.x0) for line in boxed)  # type: ignore[arg-type]
    left = float(min(lefts, key=lambda x: (-lefts[x], x))) if lefts else 0.0
    rights = sorted(line.x1 for line in boxed)  # type: ignore[misc]
    right = rights[round(0.9 * (len(rights) - 1))] if rights else 0.0
    return left, right


def line_pitch(lines: Sequence[Line]) -> float | None:
    """Median distance between the bottoms of consecutive lines going down the page (None with fewer than two)."""
    steps = [b.bottom - a.bottom for a, b in zip(lines, lines[1:]) if a.has_box and b.has_box and b.bottom > a.bottom]  # type: ignore[operator]
    return statistics.median(steps) if steps else None


PARAGRAPH_SKIP = 1.3  # a step this much over the paragraph's own line pitch opens a new paragraph


def breaks_paragraph(prev: Line, line: Line, right: float, pitch: float | None, local_pitch: float | None = None,
                     opens_group: bool = False) -> bool:
    """True when `line` starts a new paragraph after `prev` on the same page (`pitch`: the page's usual line pitch,
    `local_pitch`: the one between the lines of the paragraph `prev` ends, when it has two or more; `opens_group`:
    `prev` is that paragraph's first line, which may be indented)."""
    if starts_list_item(line.text) or _TOC_ENTRY.search(prev.text.rstrip("\r\n")):
        return True
    if "\t" in prev.text.strip() or "\t" in line.text.strip():  # a table row (cells apart by column gaps) stands alone
        return True
    if not (prev.has_box and line.has_box):
        return not prev.text.strip() or not line.text.strip()
    height = max(prev.bottom - prev.top, 1.0)  # type: ignore[operator]
    step = line.bottom - prev.bottom  # type: ignore[operator]
    if step <= 0.3 * height:  # went back up the page: a new column or a float
        return True
    if prev.text.rstrip("\r\n").endswith(SOFT_HYPHENS[1:]):
        return False  # PDFium marks a hyphen at a line end where the word goes on (a heading's too): so does the paragraph
    own_height = min(height, line.bottom - line.top)  # type: ignore[operator]
    if pitch is not None and step > max(1.4 * pitch + 0.5, own_height):
        return True  # (a heading set larger than the body steps by its own size: its wrapped lines stay together)
    if local_pitch is not None and step > PARAGRAPH_SKIP * local_pitch + 0.5:
        return True  # more room than between this paragraph's own lines: a small paragraph skip (dblatex: 0.4 line)
    cw = char_width(prev)
    short = ends_short(prev, line, right)
    hanging = (starts_list_item(prev.text) or (opens_group and not short and not prev.text.rstrip().endswith((":", "："))))
    hanging = hanging and line.x0 > prev.x0  # type: ignore[operator]
    first_line_indent = opens_group and not starts_list_item(prev.text) and line.x0 < prev.x0  # type: ignore[operator]
    if abs(line.x0 - prev.x0) > 1.5 * cw and not (hanging or first_line_indent):  # type: ignore[operator]
        return True  # indentation changed (a hanging indent continues its list item or term, an indented first line its paragraph)
    return short


def text_right_edge(pages: Sequence[Page]) -> float:
    """Right edge of the text block of a run of pages (a page with only short lines has no margin of its own).

    At least the mirror of the left margin: with few lines, the widest of them need not reach the edge.
    """
    right = page_margins([line for page in pages for line in page.lines])[1]
    mirrored = [page.width - page_margins(page.lines)[0] for page in pages if page.width and any(ln.has_box for ln in page.lines)]
    return max(right, statistics.median(mirrored)) if mirrored else right


def column_of(x: float, cell_x: tuple[float, ...], tolerance: float) -> int | None:
    """Index of the table column starting at x (within tolerance), None when no column starts there."""
    for j, cx in enumerate(cell_x):
        if abs(x - cx) <= tolerance:
            return j
    return None


def merge_cell_continuations(lines: Sequence[Line], pitch: float | None) -> list[Line]:
    """Fold lines that continue table cells (they start under a column after the first, right below a
    row) back into the row's cells, so a row stays one line."""
    out: list[Line] = []
    for line in lines:
        row = out[-1] if out else None
        if (row is not None and row.cell_x and row.has_box and line.has_box and line.text.strip() and pitch is not None
                and 0 < line.bottom - row.bottom <= 1.4 * pitch + 0.5):  # type: ignore[operator]
            tolerance = 0.5 * char_width(line)
            starts = line.cell_x or (line.x0,)
            pieces = line.text.strip().split("\t")
            cols = [column_of(x, row.cell_x, tolerance) for x in starts]
            if len(pieces) == len(cols) and None not in cols and cols[0] != 0:
                cells = row.text.split("\t")
                cells += [""] * (len(row.cell_x) - len(cells))
                for j, piece in zip(cols, pieces):
                    cells[j] = join_two(cells[j], piece, set()) if cells[j].strip() else piece  # type: ignore[index]
                out[-1] = Line("\t".join(cells), row.x0, max(row.x1, line.x1), row.top, line.bottom, row.cell_x)  # type: ignore[type-var]
                continue
        out.append(line)
    return out


def boxed_block_edges(lines: Sequence[Line], pitch: float | None, left: float, right: float) -> dict[int, float]:
    """{id(line): right edge} for lines of a narrower justified block (a boxed note, an indented quote): a run of
    3+ lines one pitch apart sharing a left edge, at least 40 % (and 2) of them ending at the run's common right
    edge, the block at least 60 % as wide as the text block (`left`-`right`). Against the page's right edge every
    line of such a block would look short."""
    out: dict[int, float] = {}
    if pitch is None or not lines:
        return out
    runs: list[list[Line]] = [[lines[0]]]
    for a, b in zip(lines, lines[1:]):
        same = abs(b.x0 - a.x0) <= 1.0 and 0 < b.bottom - a.bottom <= 1.4 * pitch + 0.5  # type: ignore[operator]
        if same:
            runs[-1].append(b)
        else:
            runs.append([b])
    for run in runs:
        if len(run) < 3:
            continue
        edge = max(line.x1 for line in run)  # type: ignore[type-var]
        at_edge = sum(1 for line in run if edge - line.x1 <= 0.5)  # type: ignore[operator]
        wide = edge - run[0].x0 >= 0.6 * (right - left)  # type: ignore[operator]
        if at_edge >= 2 and at_edge >= 0.4 * len(run) and wide:
            out.update({id(line): edge for line in run})  # type: ignore[misc]
    return out


def paragraph_groups(page: Page, right: float | None = None) -> list[list[Line]]:
    """Split a page's non-blank lines into paragraphs (geometry when known, blank lines otherwise)."""
    lines = merge_cell_continuations(page.lines, line_pitch([line for line in page.lines if line.text.strip()]))
    right = page_margins(lines)[1] if right is None else right
    pitch = line_pitch([line for line in lines if line.text.strip()])
    block_right = boxed_block_edges([line for line in lines if line.text.strip() and line.has_box], pitch, page_margins(lines)[0], right)
    groups: list[list[Line]] = []
    prev: Line | None = None
    for line in lines:
        if not line.text.strip():
            if not line.has_box:
                prev = line  # a blank line without a box is an explicit paragraph break
            continue
        local = line_pitch(groups[-1][-3:]) if groups and len(groups[-1]) >= 2 else None
        opens = bool(groups) and len(groups[-1]) == 1
        if prev is None or not groups or breaks_paragraph(prev, line, min(right, block_right.get(id(prev), right)), pitch, local, opens):
            groups.append([line])
        else:
            groups[-1].append(line)
        prev = line
    return groups


def continues_on_next_page(last: Line, first: Line, next_page: Page, right: float) -> bool:
    """True when a page's last paragraph runs on into the next page's first line."""
    if starts_list_item(first.text) or not (last.has_box and first.has_box) or "\t" in last.text.strip() + first.text.strip():
        return False
    left_next, _ = page_margins(next_page.lines)
    if abs(first.x0 - left_next) > 1.5 * char_width(first):  # type: ignore[operator]
        return False
    return not ends_short(last, first, right)


def document_vocabulary(pages: Iterable[Page]) -> set[str]:
    """Return the lower-cased words (hyphenated compounds whole) that occur inside lines of the document."""
    vocab: set[str] = set()
    for page in pages:
        for line in page.lines:
            for w in _WORDS.findall(line.text):
                vocab.add(w.lower())
                parts = w.lower().replace("\u2010", "-").split("-")
                vocab.update(parts)  # and each adjacent pair: `terminal-emulator` from `x-terminal-emulator`
                vocab.update(f"{a}-{b}" for a, b in zip(parts, parts[1:]))
    return vocab


def join_hyphenated(head: str, tail: str, vocabulary: set[str]) -> str | None:
    """Join `head` ending in a hyphen with the next line `tail`; None when it is not a word split across lines.

    A soft hyphen (U+00AD) always goes. A hyphen, or PDFium's line-end hyphen marker, goes when the joined word is known or the continuation
    is lower case and the hyphenated compound is not known; it stays when the compound is known.
    """
    m_head, m_tail = _WORD_AT_END.search(head), _WORD_AT_START.match(tail)
    if m_head is None or m_tail is None:
        return None
    if head.endswith("\u00ad"):
        return head[:-1] + tail
    # PDFium marks every hyphen it sees at a line end, real compounds included: decide as for a hyphen
    a, b = m_head.group(1), m_tail.group(1)
    if (a + b).lower() in vocabulary:
        return head[:-1] + tail
    if f"{a}-{b}".lower() in vocabulary or not b[0].islower():
        return head[:-1] + "-" + tail
    return head[:-1] + tail


def join_two(head: str, tail: str, vocabulary: set[str]) -> str:
    """Join two lines of one paragraph: CJK|CJK without a space, a hyphenated word rejoined, otherwise one space."""
    tail = tail.lstrip()
    if not head or not tail:
        return head + tail
    if head.endswith(("/\ufffe", "/\x02")):  # a URL or path the typesetter broke after a slash: no hyphen, no space
        return head[:-1] + tail
    if head.endswith(SOFT_HYPHENS + HYPHENS):
        joined = join_hyphenated(head, tail, vocabulary)
        if joined is not None:
            return joined
        head = head[:-1] + "-" if head.endswith(SOFT_HYPHENS) else head
    if head[-1].isspace():
        return head.rstrip() + " " + tail
    a, b = head[-1], tail[0]
    if (is_cjk(a) and is_cjk(b)) or is_cjk_punct(a) or is_cjk_punct(b):
        return head + tail
    return head + " " + tail


def clean_line(text: str) -> str:
    """Strip a line's line-end characters; PDFium's hyphen marker inside a line becomes a hyphen."""
    text = text.rstrip("\r\n")
    return text[:-1].replace("\x02", "-").replace("\ufffe", "-") + text[-1:] if text else text


_FOOTNOTE_MARK = re.compile(r"^\s*(?:[\u00b9\u00b2\u00b3\u2070-\u2079]+|\d{1,3}(?=[^\d\s.,:/)\]])|\d{1,3}(?:\s|$)|[*†‡§])")


_GLUED_NOTE_MARK = re.compile(r"^(\d{1,3}|[\u00b9\u00b2\u00b3\u2070-\u2079]+)(?=[^\W\d_])")


def spaced_note_mark(text: str) -> str:
    """A footnote's opening mark set apart from its first word (`1The document` -> `1 The document`): the raised
    mark sits against the word in the PDF, and glued it would make a word no text has."""
    return _GLUED_NOTE_MARK.sub(r"\1 ", text, count=1)


_LONE_MARK = re.compile(r"\s*(?:\d{1,3}|[\u00b9\u00b2\u00b3\u2070-\u2079]+|[*†‡§])\s*")


def split_footnotes(page: Page) -> tuple[Page, list[list[Line]]]:
    """Return the page without its footnotes and the footnotes (lines each, in order).

    Footnotes are the run of lines at the bottom of a page set smaller than the page's usual line
    height (under 0.88 of the median), below the body, whose first line opens with a note mark
    (`3See`, `⁴Having`, `12 The`, `*`, or the mark alone on a line of its own); a new mark starts the next note.
    """
    boxed = [(i, line) for i, line in enumerate(page.lines) if line.has_box and line.text.strip()]
    if len(boxed) < 4:
        return page, []
    usual = statistics.median(line.bottom - line.top for _, line in boxed)  # type: ignore[operator]
    run: list[int] = []
    for i, line in reversed(boxed):
        if line.bottom - line.top >= 0.88 * usual:  # type: ignore[operator]
            break
        run.append(i)
    run.reverse()
    while run and not _FOOTNOTE_MARK.match(page.lines[run[0]].text):
        run.pop(0)
    body_idx = [i for i, _ in boxed if i not in run]
    if not run or len(run) * 2 > len(boxed) or not body_idx:
        return page, []
    if page.lines[run[0]].top < max(page.lines[i].bottom for i in body_idx) - 1:  # type: ignore[operator, type-var]
        return page, []  # not below the body: small print inside the page (a caption, a table)
    notes: list[list[Line]] = []
    for i in run:
        line = page.lines[i]
        alone = bool(notes) and len(notes[-1]) == 1 and _LONE_MARK.fullmatch(notes[-1][0].text)
        if (_FOOTNOTE_MARK.match(line.text) and not alone) or not notes:
            notes.append([line])
        else:
            notes[-1].append(line)
    keep = set(run)
    return Page(page.number, tuple(line for i, line in enumerate(page.lines) if i not in keep), page.width, page.height), notes


COLUMN_MIN_LINES = 5  # lines each side of a gutter before a page counts as set in two columns
GUTTER_MAX_CROSSING = 0.15  # share of a page's lines that may run across its gutter (a title, a wide table)


def column_gutter(page: Page) -> tuple[float, float] | None:
    """The [left, right] x-range of the gutter of a page set in two columns, None for one column (or no boxes).

    The gutter is the widest blank band in the middle 40 % of the page that at most 15 % of the lines cross,
    with at least five lines wholly on each side, each side's lines sharing a left margin and 40 % of them
    reaching its right edge, and the two sides about as wide: justified columns of text, not the cells of a
    table or the ends of short lines (ragged-right columns are read as one column)."""
    boxed = [line for line in page.lines if line.text.strip() and line.has_box]
    if not page.width or len(boxed) < 2 * COLUMN_MIN_LINES:
        return None
    lo, hi = int(0.3 * page.width), int(0.7 * page.width)
    steps = [0] * (hi - lo + 2)  # lines crossing each whole x in [lo, hi], by a difference array (O(lines + width))
    for line in boxed:
        a, b = max(lo, math.floor(line.x0) + 1), min(hi, math.ceil(line.x1) - 1)  # type: ignore[arg-type]
        if a <= b:
            steps[a - lo] += 1
            steps[b - lo + 1] -= 1
    crossing = list(itertools.accumulate(steps[:-1]))
    fewest = min(crossing)
    if fewest > GUTTER_MAX_CROSSING * len(boxed):
        return None
    best: tuple[int, int] | None = None
    start = None
    for k, c in enumerate(crossing + [fewest + 1]):  # the widest run of positions crossed by `fewest` lines
        if c == fewest and start is None:
            start = k
        elif c != fewest and start is not None:
            if best is None or k - start > best[1] - best[0]:
                best = (start, k - 1)
            start = None
    assert best is not None
    g0, g1 = float(lo + best[0]), float(lo + best[1])
    left = [line for line in boxed if line.x1 <= g0]  # type: ignore[operator]
    right = [line for line in boxed if line.x0 >= g1]  # type: ignore[operator]
    if len(left) < COLUMN_MIN_LINES or len(right) < COLUMN_MIN_LINES:
        return None
    widths = []
    for side in (left, right):
        starts = Counter(round(line.x0) for line in side)  # type: ignore[arg-type]
        margin, n = max(starts.items(), key=lambda kv: (kv[1], -kv[0]))
        if n < 0.5 * len(side):  # no shared left margin: the ragged ends of short lines, cells of a table
            return None
        edge = page_margins(side)[1]
        if sum(1 for line in side if edge - line.x1 <= 0.02 * page.width) < 0.4 * len(side):  # type: ignore[operator]
            return None  # few lines reach the side's right edge: not a justified column (wrapped table cells)
        widths.append(edge - margin)
    if min(widths) < 0.75 * max(widths):  # columns of text are set to one measure; a table's columns are not
        return None
    return g0, g1


def column_pages(page: Page) -> list[Page]:
    """A page in reading order as one page per column: lines across the gutter above both columns (a title), the
    left column, the right column, lines across it below them; a one-column page as itself."""
    gutter = column_gutter(page)
    if gutter is None:
        return [page]
    g0, g1 = gutter
    sides: dict[str, list[Line]] = {"head": [], "left": [], "right": [], "foot": []}
    cols = [line for line in page.lines if line.has_box and (line.x1 <= g0 or line.x0 >= g1)]  # type: ignore[operator]
    top, bottom = min(line.top for line in cols), max(line.bottom for line in cols)  # type: ignore[type-var]
    for line in page.lines:
        if not line.has_box:
            sides["left"].append(line)
        elif line.x0 >= g1:  # type: ignore[operator]
            sides["right"].append(line)
        elif line.x1 <= g0:  # type: ignore[operator]
            sides["left"].append(line)
        elif line.bottom <= top:  # type: ignore[operator]
            sides["head"].append(line)
        elif line.top >= bottom:  # type: ignore[operator]
            sides["foot"].append(line)
        else:
            sides["left"].append(line)  # a wide float between column lines: read with the left column
    for key in ("left", "right"):
        sides[key].sort(key=lambda line: line.top if line.has_box else 0.0)  # type: ignore[arg-type, return-value]
    return [Page(page.number, tuple(lines), page.width, page.height) for lines in sides.values() if lines]


def paragraphs_of(pages: Sequence[Page], vocabulary: set[str] | None = None, right: float | None = None) -> list[Paragraph]:
    """Return the paragraphs of consecutive pages, a paragraph running over a page break joined across it.

    `vocabulary` (words of the whole document, for hyphen rejoining) and `right` (the text block's
    right edge) default to what these pages give; a reader splitting a file passes the file's.
    """
    vocab = document_vocabulary(pages) if vocabulary is None else vocabulary
    right = text_right_edge(pages) if right is None else right
    out: list[Paragraph] = []
    open_text: str | None = None
    open_pages: list[int] = []
    open_offsets: list[tuple[int, int]] = []
    prev_page: Page | None = None
    prev_last: Line | None = None
    prev_right = right

    def close() -> None:
        if open_text is not None and open_text.strip():
            text = open_text.strip()
            if text.endswith(SOFT_HYPHENS[1:]):  # PDFium's line-end hyphen at a paragraph end is a hyphen
                text = text[:-1] + "-"
            out.append(Paragraph(text, tuple(open_pages), tuple(open_offsets)))
        out.extend(notes)  # a page's footnotes follow the paragraph running at its bottom, once it ends
        notes.clear()

    notes: list[Paragraph] = []  # footnotes waiting for the paragraph open at their page's bottom to end
    for page, column_right in ((sub, right if len(subs) == 1 else page_margins(sub.lines)[1])
                               for whole in pages for subs in (column_pages(whole),) for sub in subs):
        page, page_notes = split_footnotes(page)
        page_note_paras: list[Paragraph] = []
        for note in page_notes:
            text = spaced_note_mark(clean_line(note[0].text).strip())
            for line in note[1:]:
                text = join_two(text, clean_line(line.text), vocab)
            page_note_paras.append(Paragraph(text.strip(), (page.number,), ((page.number, 0),), footnote=True))
        groups = paragraph_groups(page, column_right)
        for g, group in enumerate(groups):
            run_on = (g == 0 and open_text is not None and prev_page is not None and prev_last is not None
                      and continues_on_next_page(prev_last, group[0], page, prev_right))
            if not run_on:
                close()
                open_text, open_pages, open_offsets = "", [page.number], [(page.number, 0)]
            for k, line in enumerate(group):
                piece = clean_line(line.text)
                open_text = piece.strip() if not open_text else join_two(open_text, piece, vocab)
                if run_on and k == 0 and page.number != open_pages[-1]:  # the page's text starts where this line's landed
                    open_pages.append(page.number)
                    open_offsets.append((page.number, max(0, len(open_text) - len(piece.lstrip()))))
        notes.extend(page_note_paras)
        if groups:
            prev_page, prev_last, prev_right = page, groups[-1][-1], column_right
    close()
    return out


def is_blank(page: Page) -> bool:
    """True when a page has no non-blank line."""
    return not any(line.text.strip() for line in page.lines)


_PIPE_ROW = re.compile(r"^\|(.*)\|\s*$")
_PIPE_RULE = re.compile(r"^\|[\s|:-]*-[\s|:-]*\|\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def pipe_rows_as_tab_rows(text: str) -> str:
    """Turn Markdown pipe-table rows (`| a | b |`, as trafilatura writes HTML tables) into tab-separated rows, as the
    PDF, DOCX and ODT readers write them; the `|---|---|` rule under a header row goes, an escaped `\\|` in a cell
    becomes `|`. Other lines are left as they are."""
    out: list[str] = []
    for line in text.split("\n"):
        if _PIPE_RULE.match(line):
            continue
        m = _PIPE_ROW.match(line)
        if m is None:
            out.append(line)
            continue
        cells = [c.strip().replace("\\|", "|") for c in _UNESCAPED_PIPE.split(m.group(1))]
        out.append("\t".join(cells))
    return "\n".join(out)

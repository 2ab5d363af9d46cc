"""Layout from glyph boxes and line geometry: missing word spaces, overprinted cells, running headers split in
cells, small paragraph skips, indented first lines, boxed notes narrower than the page."""

from __future__ import annotations

from transforms.convert.layout import (
    Line,
    Page,
    glyphs_spaced,
    paragraphs_of,
    strip_running_lines,
    with_column_tabs,
)

EM = 9.0


def glyph_boxes(runs: list[tuple[str, float]], width: float = 5.0, bottom: float = 100.0) -> tuple[str, list[tuple[float, float, float, float]]]:
    """Text and loose boxes for runs of abutting glyphs, each run starting at its own x."""
    text, boxes = "", []
    for chars, x in runs:
        for k, ch in enumerate(chars):
            text += ch
            boxes.append((x + k * width, bottom, x + (k + 1) * width, bottom + EM))
    return text, boxes


def spaced(runs: list[tuple[str, float]], **kw) -> str:
    text, boxes = glyph_boxes(runs, **kw)
    return with_column_tabs(glyphs_spaced(text, boxes), EM)[0]


def test_a_squeezed_word_space_the_extractor_missed_is_added_from_the_glyph_gap():
    # `as` ends at x=10; `JIS` starts 1.8 pt (0.2 em) later with no space character between: PDFium gave `asJIS`
    assert spaced([("as", 0.0), ("JIS", 11.8)]) == "as JIS"
    # glyphs of one word abut (or nearly: 0.5 pt is kerning) and stay together
    assert spaced([("word", 0.0)]) == "word" and spaced([("wo", 0.0), ("rd", 10.5)]) == "word"
    # CJK characters are set without spaces, whatever the glue between them
    assert spaced([("中文", 0.0), ("字符", 12.0)]) == "中文字符"
    # an existing space is not doubled
    text, boxes = glyph_boxes([("a", 0.0), (" ", 5.0), ("b", 10.0)])
    assert with_column_tabs(glyphs_spaced(text, boxes), EM)[0] == "a b"


def test_a_cell_printed_back_over_the_one_before_becomes_a_new_cell():
    # `exim4-daemon-heavy` overflows its column; the next column's `V:7` is printed over its last letter
    text, boxes = glyph_boxes([("heavy", 0.0)])
    v_text, v_boxes = glyph_boxes([("V:7", 21.0)], bottom=94.0)  # another baseline, 4 pt back to the left
    out, cells = with_column_tabs(glyphs_spaced(text + v_text, boxes + v_boxes), EM)
    assert out == "heavy\tV:7" and cells == (0.0, 21.0)
    # a combining accent drawn over its letter (it does not reach past the letter) is not a cell
    text, boxes = glyph_boxes([("e", 0.0)])
    assert glyphs_spaced(text + "\u0301", boxes + [(1.0, 100.0, 4.0, 109.0)])[1][0] == "\u0301"


def test_columns_wider_than_one_and_a_half_em_become_tabs():
    out, cells = with_column_tabs(glyphs_spaced(*glyph_boxes([("mc", 0.0), (" ", 10.0), ("1482", 60.0), (" ", 80.0), ("file", 120.0)])), EM)
    assert out == "mc\t1482\tfile" and cells == (0.0, 60.0, 120.0)


PAGE_W, PAGE_H = 595.0, 842.0


def line(text: str, top: float, x0: float = 57.0, x1: float = 567.0, height: float = 9.0) -> Line:
    return Line(text, x0, x1, top, top + height)


def test_running_headers_whose_section_part_changes_are_removed_by_their_fixed_cell():
    # dblatex (debmake-doc, debian-faq): `CHAPTER 2. METHODS<tab>2.k. SECTION k` changes with every section; sphinx
    # alternates `Section title<tab>31` and `32<tab>Chapter 5. Title` footers: the fixed cell recurs
    pages = []
    fruit = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "sloe"]
    for k in range(1, 9):
        section = ["Sampling", "Cleaning", "Coding", "Scoring", "Pooling", "Testing", "Weighting", "Reporting"][k - 1]
        footer = f"2.{k}. {section}\t{k + 30}" if k % 2 else f"{k + 30}\tChapter 2. Methods"
        pages.append(Page(k, (line(f"CHAPTER 2. METHODS\t2.{k}. {section.upper()}", 40.0), line(f"Body text of page {k} stands here.", 300.0, x1=300.0),
                              line(f"{fruit[k - 1]}\t{k}", 700.0, x1=200.0), line(footer, 800.0)), PAGE_W, PAGE_H))
    stripped, removed = strip_running_lines(pages)
    assert removed == 16
    # the table row just above the footer has a page-number-shaped cell too, but it is not the page's outermost line
    assert [[ln.text for ln in p.lines] for p in stripped] == [[f"Body text of page {k} stands here.", f"{fruit[k - 1]}\t{k}"] for k in range(1, 9)]


def texts(lines: list[Line]) -> list[str]:
    return [p.text for p in paragraphs_of([Page(1, tuple(lines), PAGE_W, PAGE_H)])]


def test_a_small_paragraph_skip_opens_a_paragraph_even_after_a_full_line():
    # 12 pt pitch inside paragraphs, 17 pt (0.4 line more) between them, the last line of the first one full
    lines = [line("The first paragraph runs over two full lines of the", 100.0), line("page and ends right at the margin.", 112.0),
             line("A second paragraph starts after a small skip and", 129.0, x1=400.0)]
    assert texts(lines) == ["The first paragraph runs over two full lines of the page and ends right at the margin.",
                            "A second paragraph starts after a small skip and"]


def test_an_indented_first_line_continues_its_paragraph():
    lines = [line("An indented first line opens this paragraph and runs", 100.0, x0=72.0), line("on at the margin.", 112.0, x1=150.0),
             line("Next one.", 124.0, x1=100.0)]
    assert texts(lines) == ["An indented first line opens this paragraph and runs on at the margin.", "Next one."]


def test_a_boxed_note_narrower_than_the_page_is_one_paragraph():
    # a note set in a box from x=127 to x=478 on a page whose text runs to x=567: its lines are full for the box
    body = [line(f"Body line {k} of the page runs to the right margin here.", 60.0 + 12 * k) for k in range(3)]
    note = [line(w, 200.0 + 12 * k, x0=127.0, x1=478.5) for k, w in enumerate(["A note in a box runs", "over four lines", "of the box and", "then ends"])]
    note[-1] = line("then ends.", 236.0, x0=127.0, x1=200.0)
    out = texts(body + note)
    assert out[-1] == "A note in a box runs over four lines of the box and then ends."
    # code lines sharing a left edge but not a right one stay lines
    code = [line(t, 300.0 + 12 * k, x0=90.0, x1=90.0 + 5 * len(t)) for k, t in enumerate(["$ cd foo", "$ make all", "$ ls -l bar"])]
    assert texts(body + code)[-3:] == ["$ cd foo", "$ make all", "$ ls -l bar"]

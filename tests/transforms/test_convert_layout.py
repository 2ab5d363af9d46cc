"""Layout post-processing of extracted page lines: furniture removal, paragraphs, CJK/English/hyphen joining."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.convert.layout import (
    Line,
    Page,
    column_pages,
    document_vocabulary,
    find_running_lines,
    furniture_key,
    join_two,
    paragraphs_of,
    strip_running_lines,
)

WIDTH, LEFT, RIGHT = 595.0, 57.0, 567.0
UNIQUE = ["Alpha starts.", "Beta follows.", "Gamma is third.", "Delta here.", "Epsilon now.", "Zeta ends."]


def boxed(text: str, row: int, x0: float = LEFT, x1: float = RIGHT, pitch: float = 12.0) -> Line:
    """A line on row `row` of a page (12 pt pitch, 9 pt high)."""
    top = 80.0 + row * pitch
    return Line(text, x0, x1, top, top + 9.0)


def book_pages(n: int, body: list[list[str]] | None = None) -> list[Page]:
    """n pages with a running title header, a chapter header and a page-number footer around one body line."""
    pages = []
    for k in range(1, n + 1):
        lines = [boxed(f"Annual Report {k} / {n}", -4, x1=300), boxed("Chapter 2. Methods", -3, x1=200)]
        for r, t in enumerate(body[k - 1] if body else [UNIQUE[k - 1]]):
            lines.append(boxed(t, r, x1=400))
        lines.append(boxed(str(k), 60, x0=290, x1=300))
        pages.append(Page(k, tuple(lines), WIDTH, 842.0))
    return pages


def test_running_headers_footers_and_page_numbers_removed():
    pages, removed = strip_running_lines(book_pages(6))
    assert removed == 6 * 3
    assert [[line.text for line in p.lines] for p in pages] == [[t] for t in UNIQUE]


def test_furniture_needs_repetition_and_a_page_number_shape():
    # Two pages are too few to tell furniture from text; a section number `1.2.3` is never a page number.
    assert find_running_lines(book_pages(2)) == set()
    assert furniture_key("Debian Reference 13 / 223") == furniture_key("Debian Reference 14/ 223") == "debianreference#/#"
    assert furniture_key("xii") == furniture_key("- 7 -".replace(" ", "")) or furniture_key("xii") == "#"
    assert furniture_key("1.2.3") is None and furniture_key("}") is None
    # the same line inside the body of every page (not among its first or last two lines) is text
    body = [[f"{w} opens.", f"{w} goes on.", "Results", f"{w} is near the end.", f"{w} closes."] for w in ("Ab", "Cd", "Ef", "Gh")]
    pages = [Page(p.number, p.lines[2:-1], WIDTH, 842.0) for p in book_pages(4, body)]  # no header/footer
    stripped, removed = strip_running_lines(pages)
    assert removed == 0 and all(sum(line.text == "Results" for line in p.lines) == 1 for p in stripped)


def test_chinese_lines_join_without_space_english_with_one():
    assert join_two("在默认的 Debian 系统中，有 6 个可切换的字符", "控制台，可以直接启动 shell。", set()) == \
        "在默认的 Debian 系统中，有 6 个可切换的字符控制台，可以直接启动 shell。"
    assert join_two("Here are a few basic methods to gain the", "root shell prompt.", set()) == \
        "Here are a few basic methods to gain the root shell prompt."
    assert join_two("使用", "Debian 系统", set()) == "使用 Debian 系统"  # ideograph next to a Latin word: a space
    assert join_two("参见第 1.1.4 节，", "以及 GNU", set()) == "参见第 1.1.4 节，以及 GNU"  # CJK punctuation: none


def test_hyphenated_breaks_rejoin_only_when_plausible():
    vocab = document_vocabulary([Page(1, (Line("use x-terminal-emulator here"), Line("a common situation")))])
    assert join_two("start the shell di-", "rectly on the host", vocab) == "start the shell directly on the host"
    assert join_two("a com-", "mon case", vocab) == "a common case"  # known word
    assert join_two("the x-terminal-", "emulator window", vocab) == "the x-terminal-emulator window"  # known compound
    assert join_two("the Left-", "Alt key", vocab) == "the Left-Alt key"  # capitalised continuation: a compound
    assert join_two("count 1-", "2 items", vocab) == "count 1- 2 items"  # not a word split
    assert join_two("con\ufffe", "vention", set()) == "convention"  # PDFium's line-end hyphen marker
    assert join_two("con\u00ad", "vention", set()) == "convention"  # soft hyphen
    assert join_two("see http://www.debian.org/\ufffe", "devel/wnpp/ first", set()) == "see http://www.debian.org/devel/wnpp/ first"


def test_paragraphs_from_geometry_short_lines_gaps_and_list_items():
    lines = (
        boxed("A paragraph whose first line runs to the right margin of", 0),
        boxed("the page and whose second line stops short.", 1, x1=300),
        boxed("Next paragraph starts here after a short line and goes on to", 2),
        boxed("its end.", 3, x1=100),
        boxed("• a list item that is long enough to reach the right margin", 4),
        boxed("continued with a hanging indent.", 5, x0=LEFT + 9, x1=250),
        boxed("• second item", 6, x1=120),
        boxed("After a gap of a blank line, a new paragraph.", 8, x1=300),
    )
    paras = paragraphs_of([Page(1, lines, WIDTH, 842.0)])
    assert [p.text for p in paras] == [
        "A paragraph whose first line runs to the right margin of the page and whose second line stops short.",
        "Next paragraph starts here after a short line and goes on to its end.",
        "• a list item that is long enough to reach the right margin continued with a hanging indent.",
        "• second item",
        "After a gap of a blank line, a new paragraph.",
    ]


def test_paragraph_runs_over_a_page_break_and_offsets_point_at_each_page():
    p1 = Page(1, (boxed("Intro.", 0, x1=90), boxed("这一段文字从第一页开始，一直写到页面右边的边缘为止，然后", 1)), WIDTH, 842.0)
    p2 = Page(2, (boxed("在第二页上继续。", 0, x1=150), boxed("New paragraph.", 1, x1=130)), WIDTH, 842.0)
    paras = paragraphs_of([p1, p2])
    assert [p.text for p in paras] == ["Intro.", "这一段文字从第一页开始，一直写到页面右边的边缘为止，然后在第二页上继续。", "New paragraph."]
    assert paras[1].pages == (1, 2)
    page, off = paras[1].line_offsets[1]
    assert page == 2 and paras[1].text[off:].startswith("在第二页上继续")


LINE_TEXT = st.text(alphabet=st.sampled_from("abcXYZ 中文字，。12"), min_size=0, max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(LINE_TEXT, max_size=8), min_size=1, max_size=5))
def test_no_character_is_lost_or_reordered(pages_text):
    """Without furniture removal, every non-space character of the input comes out, in order."""
    pages = [Page(k + 1, tuple(Line(t) for t in lines)) for k, lines in enumerate(pages_text)]
    out = "".join(p.text for p in paragraphs_of(pages))
    assert "".join(out.split()) == "".join("".join(t for lines in pages_text for t in lines).split())


def small(text: str, row: int, x1: float = 400) -> Line:
    """A footnote-sized line (7 pt high) on row `row`."""
    top = 80.0 + row * 12.0
    return Line(text, LEFT, x1, top, top + 7.0)


def test_footnotes_leave_the_flow_and_follow_the_paragraph_running_at_the_page_bottom():
    p1 = Page(1, (boxed("Short intro.", 0, x1=120),
                  boxed("A long paragraph that runs to the right margin and goes on over", 1),
                  boxed("the page break, with a note mark here¹ and even more words in", 2),
                  small("¹The note explains the mark and is set in a smaller font than", 4),
                  small("the body text around it.", 5, x1=200),
                  small("2See also the second note.", 6)), WIDTH, 842.0)
    p2 = Page(2, (boxed("this line, which ends the paragraph.", 0, x1=300), boxed("Next.", 1, x1=100),
                  boxed("2 small-looking but body-sized line", 2, x1=300)), WIDTH, 842.0)
    paras = paragraphs_of([p1, p2])
    assert [(p.text, p.footnote) for p in paras] == [
        ("Short intro.", False),
        ("A long paragraph that runs to the right margin and goes on over the page break, with a note mark here¹ "
         "and even more words in this line, which ends the paragraph.", False),
        ("¹ The note explains the mark and is set in a smaller font than the body text around it.", True),
        ("2 See also the second note.", True),  # the raised mark set apart: `2See` is no word
        ("Next.", False),
        ("2 small-looking but body-sized line", False),
    ]


def test_short_pages_keep_body_lines_that_repeat_with_their_numbers():
    """A page of two lines: the header is furniture, the mid-page body line (`Step 1.`, `Step 2.`...) is not."""
    pages = [Page(k, (Line(f"Field Manual {k}", 72, 200, 30, 40), Line(f"Step {k} of the procedure.", 72, 300, 140, 150)), WIDTH, 842.0)
             for k in range(1, 5)]
    stripped, removed = strip_running_lines(pages)
    assert removed == 4 and [[line.text for line in p.lines] for p in stripped] == [[f"Step {k} of the procedure."] for k in range(1, 5)]


def test_a_table_cell_wrapped_onto_the_next_line_folds_back_into_its_row():
    row = Line("vim\tV:97\tUnix text editor Vi IMproved, a programmers text editor (standard", 57, 560, 80, 89, (57.0, 150.0, 250.0))
    lines = (boxed("package\tpopcon\tdescription", -1, x1=300), row,
             Line("version)", 250, 290, 92, 101),
             Line("nano\tV:50\tsmall editor", 57, 330, 104, 113, (57.0, 150.0, 250.0)),
             Line("After the table, text.", 57, 200, 128, 137))
    paras = paragraphs_of([Page(1, lines, WIDTH, 842.0)])
    assert [p.text for p in paras] == [
        "package\tpopcon\tdescription",
        "vim\tV:97\tUnix text editor Vi IMproved, a programmers text editor (standard version)",
        "nano\tV:50\tsmall editor",
        "After the table, text.",
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["Report 1", "Report 2", "7", "- 8 -", "Body a.", "Body b.", "1.2.3", "}", "结果"]),
                         max_size=7), min_size=1, max_size=8))
def test_furniture_removal_only_takes_edge_lines_and_keeps_the_rest_in_order(pages_text):
    pages = [Page(k + 1, tuple(Line(t) for t in lines)) for k, lines in enumerate(pages_text)]
    furniture = find_running_lines(pages)
    for p, i in furniture:
        n = len(pages[p].lines)
        assert i < 2 or i >= n - 2  # among the first or last two lines
        assert furniture_key(pages[p].lines[i].text) is not None  # never `1.2.3` or `}`
    stripped, removed = strip_running_lines(pages)
    assert removed == len(furniture)
    assert [[line.text for line in p.lines] for p in stripped] == \
        [[line.text for i, line in enumerate(page.lines) if (k, i) not in furniture] for k, page in enumerate(pages)]
    if len(pages) < 3:
        assert furniture == set()


def test_a_line_ending_in_pdfiums_hyphen_marker_runs_on_into_an_indented_line():
    """A term paragraph (first line outdented, the rest indented) split at `sophisti\\ufffe` stays one paragraph."""
    page = Page(1, (boxed("The Bug Tracking System: the dispersion of the developers required sophisti\ufffe", 0),
                    boxed("cated tools and quick communication of bugs to speed up development of the", 1, x0=LEFT + 25),
                    boxed("system.", 2, x0=LEFT + 25, x1=LEFT + 70)), WIDTH, 842.0)
    assert [p.text for p in paragraphs_of([page])] == [
        "The Bug Tracking System: the dispersion of the developers required sophisticated tools and quick "
        "communication of bugs to speed up development of the system."]


def test_an_outdented_full_term_line_continues_into_its_hanging_indent_but_an_intro_ending_in_a_colon_does_not():
    term = (boxed("Open development: whereas many other distributions are made by individuals, small,", 0),
            boxed("closed groups, or commercial vendors, Debian is made by an association.", 1, x0=LEFT + 25, x1=400))
    intro = (boxed("The file debian/control names the packages built from the source and reads as follows:", 0),
             boxed("Source: hello and more words that fill up this indented block line", 1, x0=LEFT + 25, x1=400))
    assert len(paragraphs_of([Page(1, term, WIDTH, 842.0)])) == 1
    assert len(paragraphs_of([Page(1, intro, WIDTH, 842.0)])) == 2


def test_capitalised_running_heads_of_one_page_chapters_go_by_their_numbered_prefix():
    """`CHAPTER 9. KEEPING ...` changes title every page or two; its `CHAPTER #` part recurs."""
    titles = ["DEFINITIONS AND OVERVIEW", "GETTING AND INSTALLING", "CHOOSING A DEBIAN DISTRIBUTION", "COMPATIBILITY ISSUES",
              "SOFTWARE AVAILABLE", "THE DEBIAN ARCHIVES"]
    pages = [Page(k + 1, (Line(f"CHAPTER {k + 1}. {t}", LEFT, 300.0, 30.0, 40.0),
                          boxed(f"Body text of page {k + 1} that runs to the right margin of the text block.", 4)), WIDTH, 842.0)
             for k, t in enumerate(titles)]
    stripped, removed = strip_running_lines(pages)
    assert removed == len(titles)
    assert all(len(p.lines) == 1 and p.lines[0].text.startswith("Body text") for p in stripped)
    mixed = [Page(k + 1, (Line(f"Step {k + 1}: {t.lower()}", LEFT, 300.0, 30.0, 40.0),), WIDTH, 842.0) for k, t in enumerate(titles)]
    assert strip_running_lines(mixed)[1] == 0  # body text in mixed case is never furniture by its prefix


def test_a_heading_set_larger_than_the_body_keeps_its_wrapped_lines_together():
    """Heading glyph boxes 24 high, lines 18 apart (as debian-faq sets them), body lines 12 apart: one heading, then the body."""
    body = [boxed(f"Body line {k} of the text that runs on to the right margin of the text block here.", 6 + k) for k in range(4)]
    head = (Line("14.3 I am making a special distribution for a vertical market. Can I use it for the guts", LEFT, RIGHT, 80.0, 104.0),
            Line("of a system?", LEFT + 30, 200.0, 98.0, 122.0))
    paras = paragraphs_of([Page(1, head + tuple(body), WIDTH, 842.0)])
    assert paras[0].text == "14.3 I am making a special distribution for a vertical market. Can I use it for the guts of a system?"
    assert paras[1].text.startswith("Body line 0")


def test_a_footnote_mark_on_a_line_of_its_own_opens_the_note_below_it():
    body = tuple(boxed(f"Body line {k} of the text that runs on to the right margin of the text block here.", k) for k in range(5))
    notes = (small("2", 7, x1=LEFT + 4), small("It is unwise to run your base system under the pure unstable suite.", 8),
             small("3", 9, x1=LEFT + 4), small("3D printers are not covered here.", 10))
    paras = paragraphs_of([Page(1, body + notes, WIDTH, 842.0)])
    assert [(p.text, p.footnote) for p in paras[-2:]] == [
        ("2 It is unwise to run your base system under the pure unstable suite.", True),
        ("3 3D printers are not covered here.", True)]


def test_a_table_header_row_opening_the_text_block_on_many_pages_is_body_not_furniture():
    """Tables that start at the top of the text block repeat their header row under the running head: the row sits
    nearer to the rows below it than to the head above it, so it stays (debian-reference ja lost 60 such rows)."""
    pages = []
    for k in range(1, 6):
        lines = (boxed(f"Debian Reference\t{k} / 244", -4, x1=300),  # the running head, 35 pt above the text block
                 boxed("package\tpopcon\tsize", 0, x1=300),
                 boxed(f"tool{k}\tV:{k}\t{k}0", 1, x1=300),
                 boxed(f"Body text of page {k}.", 3, x1=400))
        pages.append(Page(k, lines, WIDTH, 842.0))
    stripped, removed = strip_running_lines(pages)
    assert removed == 5
    assert all([line.text for line in p.lines][0] == "package\tpopcon\tsize" for p in stripped)
    # the same row right under the head (a two-line running head) is furniture
    tight = [Page(p.number, (p.lines[0], Line(p.lines[1].text, LEFT, 300, 45.0, 54.0)) + p.lines[2:], WIDTH, 842.0) for p in pages]
    assert strip_running_lines(tight)[1] == 10


def test_only_justified_columns_of_one_measure_split_a_page():
    """Two justified columns come out as two pages, left first; a table whose narrow cells leave a blank band down
    the page (debian-reference's signal table) stays one page."""
    col = [Line(f"left column line {r} of justified text", 57, 290, 80 + 12 * r, 89 + 12 * r) for r in range(8)]
    col += [Line(f"right column line {r} of justified text", 305, 538, 80 + 12 * r, 89 + 12 * r) for r in range(8)]
    pages = column_pages(Page(1, tuple(sorted(col, key=lambda line: line.top)), WIDTH, 842.0))
    assert [[line.text.split()[0] for line in p.lines] for p in pages] == [["left"] * 8, ["right"] * 8]
    table = [Line(f"{r}\tSIG{r}", 68, 120 + 3 * r, 80 + 24 * r, 89 + 24 * r) for r in range(8)]
    table += [Line(w, 237, 237 + 5 * len(w), 80 + 24 * r + 12, 89 + 24 * r + 12) for r, w in enumerate(["terminate", "the", "pro", "cess"] * 2)]
    table += [Line("check if process is running", 276, 383 + r, 80 + 24 * r, 89 + 24 * r) for r in range(8)]
    page = Page(2, tuple(table), WIDTH, 842.0)
    assert column_pages(page) == [page]

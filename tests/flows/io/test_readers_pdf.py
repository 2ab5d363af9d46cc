"""The pdf reader on PDFs made here with reportlab: running text, page furniture out, pages in meta, scans quarantined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reportlab.lib.enums import TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate, Paragraph, SimpleDocTemplate

from flows.io.readers import check_options, reader_for
from flows.io.recipe import InputSpec, RecipeError
from tests.flows._reader_helpers import read_all

pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # reportlab's built-in CJK CID font

ENGLISH = [
    "The package management system keeps a record of every file that each installed package has placed on the disk, "
    "and it refuses to overwrite a file that belongs to another package unless the administrator explicitly allows it.",
    "Configuration files are treated differently from ordinary files: when an upgrade ships a new version of a file "
    "that the local administrator has edited, the tool stops and asks which version to keep instead of silently "
    "replacing the local changes.",
    "Most daily work happens in a terminal, where a shell reads commands, expands wildcards and variables, and starts "
    "programs with their standard input and output connected to the keyboard, to files or to other programs.",
    "Backups deserve a schedule of their own, because a copy that nobody has tried to restore is only a hope, and the "
    "moment a disk fails is the worst time to discover that the archive was incomplete.",
]
CHINESE = [
    "软件包管理系统会记录每一个已安装软件包放到磁盘上的所有文件，除非管理员明确允许，否则它不会覆盖属于其他软件包的文件。"
    "这样做可以避免两个软件包互相破坏对方的数据，也让卸载变得干净而可靠。",
    "配置文件的处理方式与普通文件不同：当升级带来一个新版本，而本地管理员已经修改过旧版本时，工具会停下来询问保留哪一个版本，"
    "而不是悄悄地覆盖本地的修改。",
    "大部分日常工作都在终端里完成，外壳程序读取命令，展开通配符和变量，然后启动程序，并把它们的标准输入和输出连接到键盘、文件或其他程序上。",
]



def meta(doc: dict) -> dict:
    return json.loads(doc["meta"] or "{}")


def prose_pdf(path: Path, pages: list[list[str]], *, font: str, header: str, cjk: bool = False) -> None:
    """Justified paragraphs, one list per page, under a running header, with the page number as footer."""
    style = ParagraphStyle("body", fontName=font, fontSize=11, leading=15, alignment=TA_JUSTIFY, spaceAfter=9,
                           wordWrap="CJK" if cjk else None)

    def furniture(c, doc):
        c.setFont(font, 9)
        c.drawString(72, A4[1] - 40, f"{header} {doc.page}")
        c.drawCentredString(A4[0] / 2, 30, str(doc.page))

    story = []
    for k, paras in enumerate(pages):
        story.extend(Paragraph(t, style) for t in paras)
        if k + 1 < len(pages):
            story.append(PageBreak())
    SimpleDocTemplate(str(path), pagesize=A4, topMargin=72, bottomMargin=72).build(
        story, onFirstPage=furniture, onLaterPages=furniture)


def test_english_paragraphs_keep_word_spaces_without_headers_or_page_numbers(tmp_path):
    pages = [ENGLISH[:2], ENGLISH[2:], ENGLISH[1:3], ENGLISH[:1]]
    prose_pdf(tmp_path / "guide.pdf", pages, font="Helvetica", header="Debian Administration Guide")
    docs, bad = read_all(tmp_path / "guide.pdf")
    assert bad == [] and len(docs) == 1
    assert docs[0]["text"] == "\n".join(p for page in pages for p in page)  # one paragraph per line, nothing else
    m = meta(docs[0])
    assert m["pdf_pages"] == 4 and m["pdf_page_first"] == 1 and m["pdf_page_last"] == 4
    assert m["pdf_furniture_lines_removed"] == 8  # header and page number on each of 4 pages
    # where each page's text starts
    assert [p for p, _ in m["pdf_page_offsets"]] == [1, 2, 3, 4]
    for (page, off), paras in zip(m["pdf_page_offsets"], pages):
        assert docs[0]["text"][off:].startswith(paras[0])


def test_chinese_lines_join_without_spaces_and_paragraphs_cross_pages(tmp_path):
    long_para = "".join(CHINESE) * 3  # long enough to run over a page break
    pages_text = [CHINESE[:2], CHINESE[2:], CHINESE[:1]]
    prose_pdf(tmp_path / "zh.pdf", [pages_text[0], pages_text[1] + [long_para], pages_text[2]], font="STSong-Light",
              header="系统管理手册", cjk=True)
    docs, bad = read_all(tmp_path / "zh.pdf")
    assert bad == []
    expected = CHINESE[:2] + CHINESE[2:] + [long_para] + CHINESE[:1]
    assert docs[0]["text"].split("\n") == expected
    assert "系统管理手册" not in docs[0]["text"]


def two_column_pdf(path: Path, paras: list[str], *, font: str, cjk: bool = False) -> None:
    """Justified paragraphs in two columns (a 20 pt gutter) under a running header, with the page number as footer."""
    style = ParagraphStyle("body", fontName=font, fontSize=9.5, leading=12, alignment=TA_JUSTIFY, spaceAfter=6,
                           wordWrap="CJK" if cjk else None)
    width, height = A4
    column = (width - 2 * 56 - 20) / 2

    def furniture(c, doc):
        c.setFont(font, 8)
        c.drawString(56, height - 34, f"Proceedings of the Layout Workshop {doc.page}")
        c.drawCentredString(width / 2, 26, str(doc.page))

    frames = [Frame(56, 56, column, height - 122, id="left"), Frame(56 + column + 20, 56, column, height - 122, id="right")]
    doc = BaseDocTemplate(str(path), pagesize=A4)
    doc.addPageTemplates([PageTemplate(id="two", frames=frames, onPage=furniture)])
    doc.build([Paragraph(t, style) for t in paras])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_two_column_pages_read_column_by_column_and_paragraphs_cross_the_gutter(tmp_path, language):
    """Each column keeps its own right edge (a left-column line is not `short` against the page's), the left column
    is read before the right one, and a paragraph cut at a column's foot runs on at the next column's head."""
    paras = [" ".join((ENGLISH * 2)[k % 4:k % 4 + 3]) for k in range(32)] if language == "en" else \
        ["".join(CHINESE[k % 3:] + CHINESE[:k % 3]) for k in range(40)]
    two_column_pdf(tmp_path / "two.pdf", paras, font="Helvetica" if language == "en" else "STSong-Light", cjk=language == "zh")
    docs, bad = read_all(tmp_path / "two.pdf")
    assert bad == [] and len(docs) == 1
    m = meta(docs[0])
    assert m["pdf_pages"] >= 3  # the text runs over columns and pages
    assert docs[0]["text"].split("\n") == paras
    assert [p for p, _ in m["pdf_page_offsets"]] == list(range(1, m["pdf_pages"] + 1))  # a page once, not once a column


def draw_lines(c: canvas.Canvas, lines: list[str], *, top: float = 760, pitch: float = 14, font: str = "Helvetica") -> None:
    """Draw a paragraph from `top` down, justified between x=72 and x=523 but for its last line, each word placed on
    its own (no space characters, as TeX does)."""
    c.setFont(font, 11)
    space = pdfmetrics.stringWidth(" ", font, 11)
    y = top
    for k, line in enumerate(lines):
        words = line.split(" ")
        widths = [pdfmetrics.stringWidth(w, font, 11) for w in words]
        gap = space if k == len(lines) - 1 or len(words) < 2 else (451 - sum(widths)) / (len(words) - 1)
        x = 72.0
        for word, w in zip(words, widths):
            c.drawString(x, y, word)
            x += w + gap
        y -= pitch


def test_words_placed_apart_get_spaces_and_hyphenated_breaks_rejoin(tmp_path):
    c = canvas.Canvas(str(tmp_path / "h.pdf"), pagesize=A4)
    draw_lines(c, [
        "The packaging system records every file that a package in-",
        "stalls, and it refuses to overwrite a file owned by another one",
        "when you start the x-terminal-emulator program from the desktop",
        "menu, and also whenever you type its long name x-terminal-",
        "emulator in a shell, the same program runs.",
    ])
    c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "h.pdf")
    assert bad == []
    assert docs[0]["text"] == (
        "The packaging system records every file that a package installs, and it refuses to overwrite a file owned "
        "by another one when you start the x-terminal-emulator program from the desktop menu, and also whenever you "
        "type its long name x-terminal-"
        "emulator in a shell, the same program runs.")


def scan_image() -> ImageReader:
    from PIL import Image

    return ImageReader(Image.new("RGB", (60, 80), (200, 190, 180)))


def mixed_pdf(path: Path) -> None:
    """Four pages: text, a scan with no text at all, a scan under the running header, text."""
    c = canvas.Canvas(str(path), pagesize=A4)
    for k in range(1, 5):
        if k != 2:
            c.setFont("Helvetica", 9)
            c.drawString(72, 800, f"Field Survey Report {k}")
        if k in (2, 3):
            c.drawImage(scan_image(), 72, 200, 450, 550)
        else:
            draw_lines(c, [f"Findings of part {'one' if k == 1 else 'four'}."])
        c.showPage()
    c.save()


def test_pages_without_text_layer_are_quarantined_and_counts_add_up(tmp_path):
    mixed_pdf(tmp_path / "survey.pdf")
    docs, bad = read_all(tmp_path / "survey.pdf")
    assert [d["text"] for d in docs] == ["Findings of part one.\nFindings of part four."]
    assert sorted((b["error"], b["source_uri"].rsplit("#", 1)[1]) for b in bad) == [("no_text_layer", "page=2"), ("no_text_layer", "page=3")]
    assert meta(docs[0])["pdf_no_text_layer_pages"] == [2, 3]

    docs, bad = read_all(tmp_path / "survey.pdf", options={"unit": "page"})
    assert [d["source_uri"].rsplit("#", 1)[1] for d in docs] == ["page=1", "page=4"]
    assert len(docs) + len(bad) == 4  # every page is a document or a quarantined entry
    assert [meta(d)["pdf_page_first"] for d in docs] == [1, 4]


def test_a_scan_without_any_text_is_never_an_empty_document(tmp_path):
    c = canvas.Canvas(str(tmp_path / "scan.pdf"), pagesize=A4)
    for _ in range(2):
        c.drawImage(scan_image(), 72, 200, 450, 550)
        c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "scan.pdf")
    assert docs == [] and [b["error"] for b in bad] == ["no_text_layer", "no_text_layer"]


def test_unit_section_follows_the_outline(tmp_path):
    c = canvas.Canvas(str(tmp_path / "book.pdf"), pagesize=A4)
    draw_lines(c, ["Title page of the book."])
    c.showPage()
    for k, title in enumerate(["Installing", "Upgrading"]):
        for part in range(2):
            if part == 0:
                c.bookmarkPage(f"ch{k}")
                c.addOutlineEntry(title, f"ch{k}", level=0)
            draw_lines(c, [f"{title} part {part + 1}."])
            c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "book.pdf", options={"unit": "section"})
    assert bad == []
    assert [(d["text"], meta(d).get("pdf_section_title"), d["source_uri"].rsplit("#", 1)[1]) for d in docs] == [
        ("Title page of the book.", None, "pages=1-1"),
        ("Installing part 1.\nInstalling part 2.", "Installing", "pages=2-3"),
        ("Upgrading part 1.\nUpgrading part 2.", "Upgrading", "pages=4-5"),
    ]
    # per page, and per file with the page span
    docs, _ = read_all(tmp_path / "book.pdf", options={"unit": "page"})
    assert len(docs) == 5 and docs[3]["text"] == "Upgrading part 1."
    docs, _ = read_all(tmp_path / "book.pdf")
    assert len(docs) == 1 and (meta(docs[0])["pdf_page_first"], meta(docs[0])["pdf_page_last"]) == (1, 5)


def test_options_are_checked_before_reading(tmp_path):
    spec = InputSpec(source="t", paths=[str(tmp_path / "x.pdf")], options={"unit": "chapter"})
    with pytest.raises(RecipeError, match="unit"):
        check_options(spec, reader_for(spec, "x.pdf"))
    spec = InputSpec(source="t", paths=[str(tmp_path / "x.pdf")], options={"unit": "section", "section_level": 2})
    assert check_options(spec, reader_for(spec, "x.pdf")).section_level == 2


def test_unit_section_without_outline_falls_back_to_one_document(tmp_path):
    c = canvas.Canvas(str(tmp_path / "flat.pdf"), pagesize=A4)
    draw_lines(c, ["Only page."])
    c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "flat.pdf", options={"unit": "section"})
    assert bad == [] and docs[0]["text"] == "Only page." and "pdf_unit_fallback" in meta(docs[0])


def test_table_rows_stay_rows_with_tab_separated_cells(tmp_path):
    c = canvas.Canvas(str(tmp_path / "t.pdf"), pagesize=A4)
    draw_lines(c, ["The packages below are worth installing on a new system, with their sizes."])
    c.setFont("Helvetica", 11)
    rows = [("package", "size", "description"), ("mc", "1482", "A text-mode full-screen file manager"),
            ("sudo", "5990", "A program to allow limited root privileges to users")]
    for r, row in enumerate(rows):
        for x, cell in zip((72, 200, 300), row):
            c.drawString(x, 700 - 14 * r, cell)
    c.drawString(300, 700 - 14 * 3, "(they need a password)")  # the last cell wrapped onto a second line
    draw_lines(c, ["Install them with the package manager."], top=630)
    c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "t.pdf")
    assert docs[0]["text"].split("\n") == [
        "The packages below are worth installing on a new system, with their sizes.",
        "package\tsize\tdescription",
        "mc\t1482\tA text-mode full-screen file manager",
        "sudo\t5990\tA program to allow limited root privileges to users (they need a password)",
        "Install them with the package manager.",
    ]


def test_encrypted_pdfs_read_when_no_password_is_needed_quarantined_when_one_is(tmp_path):
    from reportlab.lib import pdfencrypt

    for name, user_password in (("open.pdf", ""), ("locked.pdf", "secret")):
        enc = pdfencrypt.StandardEncryption(user_password, ownerPassword="owner", canPrint=0)
        c = canvas.Canvas(str(tmp_path / name), pagesize=A4, encrypt=enc)
        draw_lines(c, ["Restricted but readable text."])
        c.showPage()
        c.save()
    docs, bad = read_all(tmp_path / "open.pdf")
    assert bad == [] and docs[0]["text"] == "Restricted but readable text."
    docs, bad = read_all(tmp_path / "locked.pdf")
    assert docs == [] and bad[0]["error"] == "unreadable_pdf" and "password" in bad[0]["detail"].lower()


def test_squeezed_word_spaces_and_overprinted_cells_come_apart(tmp_path):
    # TeX squeezes a word space in a tight line and PDFium then writes no space (`asJIS`, 0.2 em apart; here 0.16 em); a package name
    # too long for its column runs under the next column's text, set on a lower baseline (`heavyV:7`)
    c = canvas.Canvas(str(tmp_path / "s.pdf"), pagesize=A4)
    c.setFont("Helvetica", 11)
    x = 72.0
    for word in ("For", "sets", "such", "as", "JIS", "X", "0213."):
        c.drawString(x, 760, word)
        x += pdfmetrics.stringWidth(word, "Helvetica", 11) + 0.16 * 11
    name_end = 72 + pdfmetrics.stringWidth("exim4-daemon-heavy", "Helvetica", 11)
    c.drawString(72, 700, "exim4-daemon-heavy")
    c.drawString(name_end - 4, 697, "V:7, I:7")
    c.drawString(name_end + 60, 700, "1651")
    c.drawString(name_end + 120, 700, "Exim4 mail transport agent")
    c.showPage()
    c.save()
    docs, bad = read_all(tmp_path / "s.pdf")
    assert bad == []
    assert docs[0]["text"].split("\n") == ["For sets such as JIS X 0213.", "exim4-daemon-heavy\tV:7, I:7\t1651\tExim4 mail transport agent"]


def test_a_glyph_a_line_lower_is_told_by_its_centre_whatever_its_font():
    """Loose boxes from debian-faq's PDF: a roman `T` (16.3 high) and, a line below, a typewriter `.` (10.0 high) whose
    bottom is within 0.6 box heights of the `T`'s; on one line, a typewriter glyph's shorter box is no drop."""
    from flows.io.readers.pdf import drops_a_line

    roman = (85.0, 348.8, 91.0, 365.1)
    assert drops_a_line(roman, (532.6, 339.3, 538.6, 349.2))  # the next line, typewriter
    assert drops_a_line(roman, (85.0, 336.9, 88.4, 353.2))  # the next line, roman
    assert not drops_a_line(roman, (300.0, 351.5, 306.0, 361.5))  # same line, typewriter
    assert not drops_a_line(roman, (300.0, 346.5, 306.0, 362.8))  # same line, a descender box

"""DOCX and ODT readers: body text in order, page headers/footers left out, table rows kept as tab-separated rows."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.flows._reader_helpers import read_all



def test_docx_body_in_order_without_headers_footers_table_rows_as_rows(tmp_path):
    import docx

    d = docx.Document()
    section = d.sections[0]
    section.header.paragraphs[0].text = "Quarterly Report — Confidential"
    section.footer.paragraphs[0].text = "Page 1"
    d.add_heading("Results", level=1)
    d.add_paragraph("Sales grew in every region.")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([["区域", "销售额", "增长"], ["华东", "120", "5%"], ["华南", "95", "3%"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    table.cell(2, 1).paragraphs[0].add_run("\tnet")  # a tab inside a cell must not look like a cell break
    table.cell(2, 1).add_paragraph("second line")
    merged = d.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "合并单元格"
    merged.cell(0, 2).text = "end"
    d.add_paragraph("The table above is preliminary.")
    d.save(tmp_path / "r.docx")
    docs, bad = read_all(tmp_path / "r.docx")
    assert bad == []
    assert docs[0]["text"] == "\n".join([
        "Results",
        "Sales grew in every region.",
        "区域\t销售额\t增长",
        "华东\t120\t5%",
        "华南\t95 net second line\t3%",
        "合并单元格\tend",
        "The table above is preliminary.",
    ])


ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
  xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" office:version="1.3">
 <office:body><office:text>
  <text:tracked-changes><text:changed-region text:id="c1"><text:deletion><text:p>deleted words</text:p></text:deletion></text:changed-region></text:tracked-changes>
  <text:h text:outline-level="1">结果</text:h>
  <text:p>各地区销售额<text:s text:c="2"/>均有增长<text:note text:note-class="footnote"><text:note-citation>1</text:note-citation><text:note-body><text:p>数据未经审计。</text:p></text:note-body></text:note>。</text:p>
  <text:list><text:list-item><text:p>first item</text:p></text:list-item><text:list-item><text:p>second<text:tab/>item</text:p></text:list-item></text:list>
  <table:table table:name="T1">
   <table:table-column table:number-columns-repeated="3"/>
   <table:table-header-rows><table:table-row>
    <table:table-cell><text:p>区域</text:p></table:table-cell><table:table-cell><text:p>销售额</text:p></table:table-cell><table:table-cell/>
   </table:table-row></table:table-header-rows>
   <table:table-row>
    <table:table-cell><text:p>华东</text:p></table:table-cell><table:table-cell><text:p>120</text:p><text:p>万元</text:p></table:table-cell><table:table-cell/>
   </table:table-row>
  </table:table>
  <text:p>End<office:annotation><text:p>a reviewer comment</text:p></office:annotation> of report.</text:p>
 </office:text></office:body>
</office:document-content>"""

ODT_STYLES = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.3">
 <office:master-styles><style:master-page style:name="Standard">
  <style:header><text:p>季度报告（内部）</text:p></style:header>
  <style:footer><text:p>第 <text:page-number>1</text:page-number> 页</text:p></style:footer>
 </style:master-page></office:master-styles>
</office:document-styles>"""

ODT_META = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3">
 <office:meta><dc:title>季度报告</dc:title><meta:initial-creator>王小明</meta:initial-creator></office:meta>
</office:document-meta>"""


def write_odt(path: Path) -> None:
    """A minimal OpenDocument text package (hand-written XML: no ODF writer is installed)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", ODT_CONTENT)
        z.writestr("styles.xml", ODT_STYLES)
        z.writestr("meta.xml", ODT_META)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest '
                   'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>')


def test_odt_body_tables_and_footnotes_without_headers_footers_or_deleted_text(tmp_path):
    write_odt(tmp_path / "r.odt")
    docs, bad = read_all(tmp_path / "r.odt")
    assert bad == []
    assert docs[0]["text"] == "\n".join([
        "结果",
        "各地区销售额  均有增长。",
        "first item",
        "second\titem",
        "区域\t销售额",
        "华东\t120 万元",
        "End of report.",
        "数据未经审计。",
    ])
    m = json.loads(docs[0]["meta"])
    assert m["odt_title"] == "季度报告" and m["odt_author"] == "王小明"


def test_corrupt_odt_is_quarantined(tmp_path):
    (tmp_path / "bad.odt").write_bytes(b"PK\x03\x04 not a zip")
    docs, bad = read_all(tmp_path / "bad.odt")
    assert docs == [] and bad[0]["error"] == "unreadable_odt"


def test_html_tables_stay_rows_and_page_header_footer_go(tmp_path):
    """HTML goes through trafilatura: boilerplate header/nav/footer removed, each table row one line (cells `| a | b |`)."""
    html = ("<html><head><title>T</title></head><body><header><nav>首页 | 关于我们</nav></header><main><article>"
            "<h1>季度报告</h1><p>本季度各地区的销售额均有增长，下表列出了每个地区的详细数字，供管理层参考和讨论。</p>"
            "<table><tr><th>区域</th><th>销售额</th></tr><tr><td>华东</td><td>120</td></tr><tr><td>华南</td><td>95</td></tr></table>"
            "<p>上表为初步数字，审计完成后将在下个月修订，请勿对外引用这些数据，谢谢大家的配合与理解。</p></article></main>"
            "<footer>版权所有 2024 示例公司</footer></body></html>")
    (tmp_path / "r.html").write_text(html, encoding="utf-8")
    docs, bad = read_all(tmp_path / "r.html")
    assert bad == []
    lines = docs[0]["text"].split("\n")
    assert [line.replace(" ", "") for line in lines if line.startswith("|") and "---" not in line] == \
        ["|区域|销售额|", "|华东|120|", "|华南|95|"]
    assert "版权所有" not in docs[0]["text"] and "首页" not in docs[0]["text"]

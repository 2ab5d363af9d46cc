"""Cleaning ops: Unicode/width, markup residue, boilerplate lines, script conversion; real dirty Debian text."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import ftfy
import ftfy.badness
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from transforms.basic import NormalizeWhitespace
from transforms.clean import (
    CJK_PUNCTUATION,
    FTFY_CJK_SAFE,
    MOJIBAKE_BROAD_RE2,
    ConvertScript,
    NormalizeUnicode,
    RemoveBoilerplateLines,
    StripMarkup,
    halfwidth_alnum,
    mojibake_prefilter_re2,
    strip_troff,
)
from transforms.ops import OpStats
from transforms.registry import known_ops
from transforms.schema import docs_from_pylist

ROOT = Path(__file__).resolve().parents[2]
DEBIAN = ROOT / ".yuliao" / "debian-zh"


def docs(texts: list[str], scripts: list[str | None] | None = None) -> pa.Table:
    scripts = scripts or [None] * len(texts)
    return docs_from_pylist([dict(id=str(i), text=t, source="t", source_uri=f"t:{i}", raw_sha256="0", script=s)
                             for i, (t, s) in enumerate(zip(texts, scripts))])


def run(op, texts: list[str]) -> tuple[list[str], OpStats, list]:
    stats = OpStats()
    out = op.apply(docs(texts), stats)
    return out.column("text").to_pylist(), stats, out.column("trace").to_pylist()


def punct_counts(text: str) -> Counter:
    return Counter(c for c in text if c in CJK_PUNCTUATION)


def test_ops_are_registered_with_versioned_names():
    ops = known_ops()
    for name in ("normalize_unicode", "strip_markup", "remove_boilerplate_lines", "convert_script", "redact_pii"):
        assert ops[name].version >= 1


# ---------------------------------------------------------------- normalize_unicode


def test_ansi_escapes_invisibles_and_width():
    raw = "\x1b[32m《春晓》\x1b[m\x1b[1;33m孟浩然\x1b[0m：春眠不觉晓，处处闻啼鸟。\u200b\ufeffＡＢＣ１２３！（全角）软\xad连字\x07"
    (out,), stats, (trace,) = run(NormalizeUnicode(), [raw])
    assert out == "《春晓》孟浩然：春眠不觉晓，处处闻啼鸟。ABC123！（全角）软连字"
    assert stats.counts["changed:ansi_escape"] == 1 and stats.counts["changed:halfwidth_alnum"] == 1
    assert trace == ["normalize_unicode@1: ansi_escape,control,invisible,halfwidth_alnum"]


def test_cjk_punctuation_survives_every_setting():
    text = "「你好」，『世界』（括号）、顿号；分号：冒号！叹号？问号。全角空格\u3000～"
    for op in (NormalizeUnicode(), NormalizeUnicode(form="NFKC"), NormalizeUnicode(halfwidth="ascii")):
        (out,), _, _ = run(op, [text])
        assert out == text, op
    (out,), _, _ = run(NormalizeUnicode(halfwidth="ascii"), ["价格＄１００＠商店，满意！"])
    assert out == "价格$100@商店，满意！"
    (out,), _, _ = run(NormalizeUnicode(form="NFKC"), ["ﬁle ①，㎏！"])
    assert out == "file 1，kg！"


def test_zero_width_joiner_kept_unless_asked():
    family = "👨\u200d👩\u200d👧"
    assert run(NormalizeUnicode(), [family])[0] == [family]
    assert run(NormalizeUnicode(strip_joiners=True), [family])[0] == ["👨👩👧"]


def test_mojibake_is_repaired_without_touching_quotes_or_width():
    mojibake = "中文“引号”，café".encode("utf-8").decode("latin-1")  # UTF-8 bytes misread as Latin-1
    out, stats, _ = run(NormalizeUnicode(), ["“正常引号”不变", "cafÃ©"])
    assert out == ["“正常引号”不变", "café"]
    assert stats.counts["changed:mojibake"] == 1
    assert run(NormalizeUnicode(), ["cafÃ© Ã  la mode"])[0] == ["café à la mode"]
    assert run(NormalizeUnicode(), [mojibake])[0] == ["中文“引号”，café"]


def test_mojibake_prefilter_matches_ftfy_on_real_text(corpora):
    """The RE2 prefilter must only skip rows ftfy would leave alone (ftfy is the reference)."""
    texts = []
    for f in sorted((corpora / "lingua-sentences").glob("*.txt")):
        lines = f.read_text(encoding="utf-8").splitlines()[:60]
        texts += lines
        # Real mojibake: the same sentences' UTF-8 bytes misread as Windows-1252 / Latin-1.
        texts += [ln.encode("utf-8").decode("cp1252", errors="ignore") for ln in lines[:5]]
        texts += [ln.encode("utf-8").decode("latin-1") for ln in lines[5:8]]
    texts += ["第一行\nÃ  la mode", "ok\x85 c1 control", "“中文引号”——破折号…省略号"]
    assert mojibake_prefilter_re2() != MOJIBAKE_BROAD_RE2  # ftfy's own detector translated to RE2
    flagged = pc.match_substring_regex(pa.array(texts), pattern=mojibake_prefilter_re2()).to_pylist()
    assert all(f for t, f in zip(texts, flagged) if ftfy.badness.is_bad(t))
    assert sum(flagged) < len(texts) / 2  # and it is selective: clean text skips ftfy
    ours = run(NormalizeUnicode(form="none", halfwidth="none", strip_invisible=False, strip_ansi=False), texts)[0]
    reference = [ftfy.fix_text(t, config=FTFY_CJK_SAFE) for t in texts]
    assert ours == reference


# ---------------------------------------------------------------- strip_markup


def test_html_tags_entities_and_placeholders():
    raw = "<div class='x'><p>你好&amp;世界&nbsp;！</p><script>var a=1;</script><!-- ad --><b>粗体</b>，a<b 且 <PHONE> 保留&copy=2</div>"
    (out,), stats, (trace,) = run(StripMarkup(), [raw])
    assert out == "\n\n你好&世界\xa0！\n粗体，a<b 且 <PHONE> 保留&copy=2\n"
    assert stats.counts["changed:html_entity"] == 1
    assert trace[0].startswith("strip_markup@1: ")


def test_markdown_and_wiki_leftovers():
    md = "## 标题\n**粗体**与~~删除~~，[链接](https://example.cn/a)和![图](x.png)，`代码`。\n> 引用\n---\n| a | b |\n|---|---|\n```python\nprint(1)\n```"
    (out,), _, _ = run(StripMarkup(), [md])
    assert out == "标题\n粗体与删除，链接和图，代码。\n引用\n\n| a | b |\nprint(1)\n"
    wiki = "__TOC__\n== 历史 ==\n'''广州'''是{{lang|en|Canton}}[[广东省|广东]]的省会，见[[珠江]]与[https://x.org 官网]。[[Category:城市]]"
    (out,), _, _ = run(StripMarkup(), [wiki])
    assert out == "\n历史\n广州是广东的省会，见珠江与官网。"


def test_prose_is_not_mistaken_for_markup():
    prose = ["他说：“2*3*4=24，a_b_c 不变。”\n.NET 框架很流行。", "价格 <100 元，x>y。'引号'保留。"]
    assert run(StripMarkup(), prose)[0] == prose


def test_troff_requests_fonts_and_escapes():
    src = '.\\" comment\n.TH LS 1 2022年9月 "GNU" 用户命令\n.SH 名称\nls \\- 列出目录内容\n.SH 概述\n\\fBls\\fP [\\fI\\,选项\\/\\fP]...\n.TP\n.BR ls (1)\n.B "粗 体"\n.IP \\(bu 2\n条目\\(em说明。'
    assert strip_troff(src) == "\n名称\nls - 列出目录内容\n\n概述\nls [选项]...\n\nls(1)\n粗 体\n\n•\n条目—说明。"


# ---------------------------------------------------------------- remove_boilerplate_lines


def test_boilerplate_lines_removed_and_counted_per_rule():
    page = "首页 > 新闻 > 国内\n正文第一段，讲述版权所有者与出版社之间长达数年的诉讼纠纷，以及最终的和解方案。\n点击查看更多\n返回顶部\n分享到：微信 微博\nCopyright © 2023 某公司 版权所有\n粤ICP备12345678号\n正文第二段。"
    op = RemoveBoilerplateLines()
    (out, untouched), stats, (trace, untouched_trace) = run(op, [page, "没有样板的文本。"])
    assert untouched == "没有样板的文本。" and untouched_trace is None
    assert out == "正文第一段，讲述版权所有者与出版社之间长达数年的诉讼纠纷，以及最终的和解方案。\n正文第二段。"
    assert {k: v for k, v in stats.counts.items() if k.startswith("lines_removed:")} == {
        "lines_removed:navigation": 1, "lines_removed:click_more": 1, "lines_removed:back_to_top": 1,
        "lines_removed:share": 1, "lines_removed:copyright": 1, "lines_removed:icp_record": 1,
    }
    assert trace == ["remove_boilerplate_lines@1: removed lines click_morex1,back_to_topx1,navigationx1,sharex1,copyrightx1,icp_recordx1"]


def test_boilerplate_rules_are_configurable_and_validated():
    text = "广告：限时优惠\n正文。\n返回顶部"
    (out,), stats, _ = run(RemoveBoilerplateLines(extra_rules={"ad": "广告：[^\\n]{0,20}"}, disable=("back_to_top",)), [text])
    assert out == "正文。\n返回顶部"
    assert stats.counts["lines_removed:ad"] == 1
    with pytest.raises(ValueError, match="invalid RE2"):
        RemoveBoilerplateLines(extra_rules={"bad": "(?<=x)y"})
    with pytest.raises(ValueError, match="unknown rules"):
        run(RemoveBoilerplateLines(disable=("nope",)), [text])


# ---------------------------------------------------------------- convert_script


def test_convert_script_in_place_sets_script_and_traces():
    t = docs(["漢字簡體後臺", "already 简体", "English only"], scripts=["Hant", "Hans", "Latn"])
    stats = OpStats()
    out = ConvertScript(config="t2s").apply(t, stats).to_pylist()
    assert [r["text"] for r in out] == ["汉字简体后台", "already 简体", "English only"]
    assert [r["script"] for r in out] == ["Hans", "Hans", "Latn"]
    assert [r["trace"] for r in out] == [["convert_script@1: t2s text"], None, None]
    assert stats.counts["converted:t2s"] == 1


def test_convert_script_to_key_column_and_only_scripts():
    t = docs(["後臺", "后台"], scripts=["Hant", "Hans"])
    out = ConvertScript(config="t2s", output_column="text_t2s").apply(t, OpStats()).to_pylist()
    assert [(r["text"], r["text_t2s"]) for r in out] == [("後臺", "后台"), ("后台", "后台")]
    t = docs(["後臺", "後臺"], scripts=["Hant", None])
    out = ConvertScript(config="t2s", only_scripts=("Hant",)).apply(t, OpStats()).column("text").to_pylist()
    assert out == ["后台", "後臺"]
    with pytest.raises(ValueError):
        ConvertScript(config="x2y")


def test_convert_script_on_tang_poems(corpora):
    poems = json.loads((corpora / "chinese-poetry" / "全唐诗" / "poet.tang.0.json").read_text(encoding="utf-8"))[:200]
    texts = ["\n".join(p["paragraphs"]) for p in poems]
    out = ConvertScript(config="t2s").apply(docs(texts), OpStats()).column("text").to_pylist()
    assert sum(a != b for a, b in zip(texts, out)) > 150
    assert all(punct_counts(a) == punct_counts(b) for a, b in zip(texts, out))
    assert all(len(a) == len(b) for a, b in zip(texts, out))


# ---------------------------------------------------------------- real dirty text from Debian


@pytest.fixture(scope="module")
def debian_zh() -> Path:
    """Fetch fortunes-zh and manpages-zh with scripts/fetch_debian_zh.sh, or skip with the reason."""
    try:
        subprocess.run([str(ROOT / "scripts" / "fetch_debian_zh.sh"), str(DEBIAN)], check=True, capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        pytest.skip(f"could not fetch Debian fortunes-zh/manpages-zh (needs apt-get + network): {e} {detail.decode(errors='replace')[-300:]}")
    return DEBIAN / "root"


def clean_pipeline(texts: list[str]) -> list[str]:
    t = docs(texts)
    for op in (NormalizeUnicode(), StripMarkup(), RemoveBoilerplateLines(), NormalizeWhitespace()):
        t = op.apply(t, OpStats())
    return t.column("text").to_pylist()


def test_fortunes_zh_lose_ansi_escapes_and_keep_punctuation(debian_zh):
    fortunes = []
    for name in ("tang300", "song100", "chinese"):
        raw = (debian_zh / "usr/share/games/fortunes" / name).read_text(encoding="utf-8")
        fortunes += [f for f in raw.split("\n%\n") if f.strip()]
    with_escapes = [f for f in fortunes if "\x1b[" in f]
    assert len(with_escapes) > 300
    out = clean_pipeline(fortunes)
    for raw, o in zip(fortunes, out):
        assert punct_counts(o) == punct_counts(raw)
    # Exactness on the escapes alone (markup rules would also drop the "-----" rules some fortunes draw).
    t = docs(fortunes)
    for op in (NormalizeUnicode(), NormalizeWhitespace()):
        t = op.apply(t, OpStats())
    out = t.column("text").to_pylist()
    # Real ESC bytes and caret-notation "^[[32m"; a shell example printf "\\x1b[31m" is content and stays.
    assert not [o for o in out if "\x1b" in o or "^[[" in o]
    for raw, o in zip(fortunes, out):
        assert punct_counts(o) == punct_counts(raw)
        # The text is the raw text minus escapes (up to whitespace layout).
        assert re.sub(r"\s", "", o) == re.sub(r"\s", "", halfwidth_alnum(re.sub(r"\x1b\[[0-9;]*m?|\^\[\[[0-9;]*m", "", raw)))


def test_manpages_zh_lose_troff_and_keep_punctuation(debian_zh):
    pages = sorted((debian_zh / "usr/share/man").glob("zh_*/man*/*.gz"))
    assert len(pages) > 500
    sources = []
    for p in pages[::3]:
        try:
            sources.append((p, gzip.decompress(p.read_bytes()).decode("utf-8")))
        except UnicodeDecodeError:
            continue
    assert len(sources) > 150
    out = clean_pipeline([s for _, s in sources])
    macro_line = re.compile(r"(?m)^\.(?:TH|SH|SS|PP|TP|IP|B|I|BR|IR|RS|RE|nf|fi|br|sp)\b")
    # Output may legitimately show \" or \- (printf(1) documents them via \e); font changes and \(xx never.
    escapes = re.compile(r"\\f[BIRP]|\\\([a-z][a-z]|\\&")
    for (path, src), o in zip(sources, out):
        # ".B .br" documents the keyword .br: font-macro arguments are content and may look like requests.
        # man(7) writes "\&.SH NAME" to show a request as text: such lines are content too.
        quoted = {strip_troff(m.group()).strip() for m in re.finditer(r"(?m)^(?:\.(?:B|I|BR|IR|RB|RI|BI|IB|SM|SB)[ \t]+|\\&\.).*$", src)}
        leftovers = [line for line in o.split("\n") if macro_line.match(line) and line not in quoted]
        assert not leftovers, (path, leftovers[:3])
        # A backslash in the output can only come from \e or \\ (pages like man(7) document escapes).
        assert len(escapes.findall(o)) <= src.count("\\e") + src.count("\\\\"), path
        body = "\n".join(line for line in src.split("\n") if not line.startswith((".", "'")))
        body = re.sub(r'\\".*', "", body)  # inline comments are dropped, with any punctuation in them
        for ch, n in punct_counts(body).items():
            assert punct_counts(o)[ch] >= n, (path, ch)
    ls = next(o for (p, _), o in zip(sources, out) if p.name == "ls.1.gz") if any(p.name == "ls.1.gz" for p, _ in sources) else None
    if ls is not None:
        assert "列出目录内容" in ls


def test_markup_gates_never_hide_a_change(corpora, debian_zh):
    """Running each rule on every row must give the same text as the gated run."""
    texts = [ln for f in sorted((corpora / "lingua-sentences").glob("*.txt")) for ln in f.read_text(encoding="utf-8").splitlines()[:40]]
    texts += [gzip.decompress(p.read_bytes()).decode("utf-8", errors="replace") for p in sorted((debian_zh / "usr/share/man/zh_CN/man1").glob("*.gz"))[:40]]
    texts += ["<p>a&amp;b</p>", "{{t}} [[a|b]] '''c''' ==h==", "# h\n**b** `c` [l](https://x) ![i](y)\n---\n> q", "|---|---|", "__TOC__"]
    op = StripMarkup()
    gated = run(op, texts)[0]
    arr = pa.array(texts, pa.string())
    for rule in op.rules():
        arr = rule.fn(arr)
    assert gated == arr.to_pylist()

"""Text cleaning that respects Chinese: Unicode/width normalisation, markup residue, boilerplate lines, script conversion.

Every operator here is a Mapper on the ``text`` column built from named *rules*. Each rule
counts the rows it changed (``OpStats`` key ``changed:<rule>``; boilerplate counts removed lines
as ``lines_removed:<rule>``) and leaves a per-row ``trace`` note naming the rules that touched the
row, so ``lineage`` can explain a record's text. Simple rewrites run vectorised as RE2 regexes in
``pyarrow.compute``; rewrites that need Python (ftfy, html.unescape, troff, OpenCC) run only on the
rows an RE2 prefilter selects. CJK punctuation ``，。、！？：；「」『』（）`` is never rewritten.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from transforms.lazy import build_once
from typing import ClassVar, Literal

import ftfy
import ftfy.badness
import opencc
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator

from transforms.ops import Mapper, OpStats, add_trace, set_column
from transforms.registry import register_op

Array = pa.Array | pa.ChunkedArray

# ---------------------------------------------------------------------------------------------
# Rule machinery
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A named text rewrite: `fn` maps a string array to a string array of the same length.

    `gate` (RE2) must match every row the rule could change; consecutive rules with the same
    gate run only on the rows it selects.
    """

    name: str
    fn: Callable[[pa.Array], pa.Array]
    gate: str | None = None


def regex_rule(name: str, pattern: str, replacement: str = "", gate: str | None = None) -> Rule:
    """Return a vectorised RE2 replace-all rule (``\\1`` in `replacement` refers to groups)."""
    return Rule(name, lambda arr: pc.replace_substring_regex(arr, pattern=pattern, replacement=replacement), gate)


def python_rule(name: str, prefilter: str, fn: Callable[[str], str]) -> Rule:
    """Return a rule that runs the Python `fn` only on rows matching the RE2 `prefilter`."""
    return Rule(name, lambda arr: map_where(arr, pc.match_substring_regex(arr, pattern=prefilter), fn))


def map_where(arr: pa.Array, mask: pa.Array, fn: Callable[[str], str]) -> pa.Array:
    """Return `arr` with `fn` applied to the rows where `mask` is true (others untouched)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return arr
    picked = arr.filter(mask).to_pylist()
    return pc.replace_with_mask(arr, mask, pa.array([fn(s) for s in picked], pa.string()))


def apply_rules(live: pa.Table, rules: list[Rule], op_id: str, stats: OpStats, column: str = "text") -> pa.Table:
    """Run `rules` in order on `column`, count changed rows per rule and trace the rule names per row."""
    text = live.column(column).combine_chunks()
    touched: list[list[str]] = [[] for _ in range(live.num_rows)]
    i = 0
    while i < len(rules):
        gate = rules[i].gate
        j = i
        while j < len(rules) and rules[j].gate == gate:
            j += 1
        if gate is None:
            text = _run_rules(text, rules[i:j], None, touched, stats)
        else:
            mask = pc.fill_null(pc.match_substring_regex(text, pattern=gate), False)
            rows = pc.indices_nonzero(mask).to_pylist()
            if rows:
                sub = _run_rules(text.filter(mask), rules[i:j], rows, touched, stats)
                text = pc.replace_with_mask(text, mask, sub)
        i = j
    live = set_column(live, column, text)
    return add_trace(live, [f"{op_id}: {','.join(t)}" if t else None for t in touched])


def _run_rules(text: pa.Array, rules: list[Rule], rows: list[int] | None, touched: list[list[str]], stats: OpStats) -> pa.Array:
    """Apply `rules` to `text` (rows[k] = batch row of text[k]; None = identity), recording what changed."""
    for rule in rules:
        new = rule.fn(text)
        changed = pc.indices_nonzero(pc.fill_null(pc.not_equal(new, text), False)).to_pylist()
        if changed:
            stats.add(f"changed:{rule.name}", len(changed))
            for k in changed:
                touched[rows[k] if rows is not None else k].append(rule.name)
            text = new
    return text


# ---------------------------------------------------------------------------------------------
# normalize_unicode@1
# ---------------------------------------------------------------------------------------------

# CJK punctuation that lives in the full-width block and must stay full-width (NFKC and naive
# width folding would turn ，into , and （）into ()). 。、「」『』 are outside the block anyway.
CJK_PUNCT_FULLWIDTH = "，！？：；（）～\u3000"
CJK_PUNCTUATION = "，。、！？：；「」『』（）"

# ECMA-48: CSI sequences (colours, cursor moves), CSI cut short by the next ESC (as terminals
# abort them; fortunes-zh has "\x1b[;\x1b[34;1m"), OSC strings, and two-byte escapes.
ANSI_ESCAPE_RE2 = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\[[0-?]*[ -/]*|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x{9b}[0-?]*[ -/]*[@-~]"
# SGR colour codes typed in caret notation ("^[[32m", as fortunes-zh has them).
ANSI_CARET_RE2 = r"\^\[\[[0-9;]*m"
# C0/C1 controls except TAB/LF/CR (layout, handled by normalize_whitespace) and ESC when ANSI
# stripping is off is still a control; DEL too.
CONTROL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{80}-\x{9f}]"
# Zero-width space, word joiner, BOM/ZWNBSP, soft hyphen, Mongolian vowel separator, invisible operators.
INVISIBLE_RE2 = r"[\x{200b}\x{2060}\x{feff}\x{ad}\x{180e}\x{2061}-\x{2064}]"
JOINERS_RE2 = r"[\x{200c}\x{200d}]"
FULLWIDTH_ALNUM_RE2 = r"[\x{ff10}-\x{ff19}\x{ff21}-\x{ff3a}\x{ff41}-\x{ff5a}]"
FULLWIDTH_ASCII_RE2 = r"[\x{ff01}-\x{ff5e}]"
# Fallback prefilter: characters ftfy's mojibake detection can act on (single-byte code page
# repertoires, general punctuation, box drawing, U+FFFD). Used only if ftfy's own detector
# cannot be translated to RE2.
MOJIBAKE_BROAD_RE2 = r"[\x{80}-\x{24f}\x{2b0}-\x{2ff}\x{370}-\x{4ff}\x{2000}-\x{20cf}\x{2100}-\x{2bff}\x{fffd}]"
# Python's Unicode \s, spelled out for RE2 (whose \s is ASCII only).
_PY_SPACE_CLASS = r"\t\n\x0b\x0c\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"


def python_verbose_regex_to_re2(pattern: str) -> str:
    """Translate a re.VERBOSE|re.UNICODE pattern (ftfy's BADNESS_RE) to RE2: drop layout and comments, widen \\w and \\s, ^ per line."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1]
            if nxt == "w":
                out.append(r"\pL\pN_" if in_class else r"[\pL\pN_]")
            elif nxt == "s":
                out.append(_PY_SPACE_CLASS if in_class else f"[{_PY_SPACE_CLASS}]")
            elif nxt in "dWDSbB":
                raise ValueError(f"no RE2 translation for \\{nxt}")
            else:
                out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            out.append(ch)
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "#":
            while i < len(pattern) and pattern[i] != "\n":
                i += 1
            continue
        elif ch == "^":
            out.append("(?m:^)")  # ftfy checks line by line; a row matches if any line does
        elif not ch.isspace():
            out.append(ch)
        i += 1
    return "".join(out)


@build_once
def mojibake_prefilter_re2() -> str:
    """Return an RE2 pattern matching every row ftfy's encoding fixes could change (its badness test, or C1 controls)."""
    # Cached and built on first use, not at import: the test compile pulls in pandas (~1.5 s), which
    # processes that only validate a recipe, or never fix mojibake, should not pay.
    try:
        badness = python_verbose_regex_to_re2(ftfy.badness.BADNESS_RE.pattern)
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=badness)
    except (ValueError, pa.ArrowInvalid, AttributeError):
        return MOJIBAKE_BROAD_RE2
    return f"{badness}|[\\x{{80}}-\\x{{9f}}]"


_ALNUM_TABLE = {c: c - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A)) for c in range(r[0], r[1] + 1)}
_ASCII_TABLE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F) if chr(c) not in CJK_PUNCT_FULLWIDTH}

# ftfy with every width/quote/HTML/normalisation fix off: those would map ，to , and “”to "",
# or are done by their own rules here. Only encoding repair (mojibake) remains.
FTFY_CJK_SAFE = ftfy.TextFixerConfig(
    unescape_html=False,
    remove_terminal_escapes=False,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)
_NOT_PROTECTED = re.compile(f"[^{re.escape(CJK_PUNCT_FULLWIDTH)}]+")


def fix_mojibake(text: str) -> str:
    """Return `text` with mojibake repaired by ftfy under CJK-safe settings."""
    return ftfy.fix_text(text, config=FTFY_CJK_SAFE)


def halfwidth_alnum(text: str) -> str:
    """Return `text` with full-width ASCII letters and digits folded to half-width."""
    return text.translate(_ALNUM_TABLE)


def halfwidth_ascii_keep_cjk_punct(text: str) -> str:
    """Return `text` with full-width ASCII folded to half-width, except CJK punctuation ，！？：；（）～."""
    return text.translate(_ASCII_TABLE)


def nfkc_keep_cjk_punct(text: str) -> str:
    """Return NFKC of `text` that leaves CJK full-width punctuation and U+3000 untouched."""
    return _NOT_PROTECTED.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def nfkc_keep_cjk_punct_rule() -> Rule:
    """Return the NFKC rule: vectorised NFKC picks the rows that change, Python protects punctuation."""

    def fn(arr: pa.Array) -> pa.Array:
        return map_where(arr, pc.not_equal(pc.utf8_normalize(arr, form="NFKC"), arr), nfkc_keep_cjk_punct)

    return Rule("nfkc", fn)


@register_op
class NormalizeUnicode(Mapper):
    """Strip ANSI escapes and invisible characters, repair mojibake, apply NFC/NFKC and fold full-width alnum."""

    name: ClassVar[str] = "normalize_unicode"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "ANSI escapes, controls, zero-width/BOM/soft hyphen; ftfy (CJK-safe); NFC|NFKC; full-width alnum -> ASCII"

    form: Literal["NFC", "NFKC", "none"] = Field("NFC", description="Unicode normal form; NFKC keeps CJK punctuation full-width")
    fix_mojibake: bool = Field(True, description="repair mojibake with ftfy (encoding fixes only)")
    halfwidth: Literal["none", "alnum", "ascii"] = Field(
        "alnum", description="fold full-width ASCII: alnum = letters/digits only; ascii = also symbols except CJK punctuation"
    )
    strip_ansi: bool = Field(True, description="remove ANSI/ECMA-48 terminal escape sequences")
    strip_invisible: bool = Field(True, description="remove C0/C1 controls (not TAB/LF/CR), zero-width space, BOM, soft hyphen")
    strip_joiners: bool = Field(False, description="also remove ZWJ/ZWNJ (they matter in emoji and Indic/Persian scripts)")

    def rules(self) -> list[Rule]:
        """Return the rules this configuration runs, in order."""
        rules: list[Rule] = []
        if self.strip_ansi:  # before controls: stripping ESC alone would leave "[32m" behind
            rules.append(regex_rule("ansi_escape", ANSI_ESCAPE_RE2))
            rules.append(regex_rule("ansi_caret_notation", ANSI_CARET_RE2))
        if self.fix_mojibake:  # before controls: UTF-8 read as Latin-1 is full of C1 bytes ftfy needs
            rules.append(python_rule("mojibake", mojibake_prefilter_re2(), fix_mojibake))
        if self.strip_invisible:
            rules.append(regex_rule("control", CONTROL_RE2))
            rules.append(regex_rule("invisible", INVISIBLE_RE2))
        if self.strip_joiners:
            rules.append(regex_rule("joiner", JOINERS_RE2))
        if self.form == "NFC":
            rules.append(Rule("nfc", lambda arr: pc.utf8_normalize(arr, form="NFC")))
        elif self.form == "NFKC":
            rules.append(nfkc_keep_cjk_punct_rule())
        if self.halfwidth == "alnum":
            rules.append(python_rule("halfwidth_alnum", FULLWIDTH_ALNUM_RE2, halfwidth_alnum))
        elif self.halfwidth == "ascii":
            rules.append(python_rule("halfwidth_ascii", FULLWIDTH_ASCII_RE2, halfwidth_ascii_keep_cjk_punct))
        return rules

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        return apply_rules(live, self.rules(), self.op_id, stats)


# ---------------------------------------------------------------------------------------------
# strip_markup@1
# ---------------------------------------------------------------------------------------------

_HTML_BLOCK = "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul"
_HTML_INLINE = (
    "a|abbr|acronym|b|bdi|bdo|big|body|button|caption|center|cite|code|col|colgroup|data|del|dfn|em|"
    "font|head|html|i|iframe|img|input|ins|kbd|label|legend|link|mark|meta|object|option|param|picture|q|rp|rt|"
    "ruby|s|samp|select|small|source|span|strike|strong|sub|sup|svg|textarea|time|title|tt|u|var|video|wbr"
)
# Only real HTML element names count as tags, so typed PII placeholders like <PHONE> and
# comparisons like a<b survive.
HTML_RULES: tuple[tuple[str, str, str], ...] = (
    ("html_comment", r"(?s)<!--.*?-->", ""),
    ("html_script_style", r"(?is)<(?:script|style|noscript)\b[^>]*>.*?</(?:script|style|noscript)\s*>", ""),
    ("html_block_tag", rf"(?i)</?(?:{_HTML_BLOCK})(?:\s[^<>]*)?/?>", "\n"),
    ("html_tag", rf"(?i)</?(?:{_HTML_INLINE})(?:\s[^<>]*)?/?>", ""),
)
# Gates: a row without these cannot be changed by the family's rules (each rule's pattern implies its gate).
HTML_GATE_RE2 = r"<[A-Za-z!/]|&[#A-Za-z]"
WIKI_GATE_RE2 = r"\{\{|\[\[|\[(?:https?|ftp)://|''|(?m)^[ \t]*=|__[A-Z]|\{\||\|\}|\|-"
MARKDOWN_GATE_RE2 = r"(?m)^[ \t]*(?:#|>|```|~~~|[-*_|:])|\*\*|~~|`|!\[|\]\("
HTML_ENTITY_RE2 = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_HTML_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescape_html_entities(text: str) -> str:
    """Return `text` with terminated HTML entities decoded (``&copy=`` in URLs is left alone)."""
    return _HTML_ENTITY.sub(lambda m: html.unescape(m.group()), text)


MARKDOWN_RULES: tuple[tuple[str, str, str], ...] = (
    ("md_fence", r"(?m)^[ \t]*(?:```|~~~)[^\n]*(?:\n|$)", ""),
    ("md_heading", r"(?m)^[ \t]{0,3}#{1,6}[ \t]+", ""),
    ("md_image", r"!\[([^\]\n]*)\]\([^)\n]*\)", r"\1"),
    ("md_link", r"\[([^\]\n]+)\]\((?:https?://|/|#|\./|mailto:)[^)\s]*(?:[ \t]+\"[^\"\n]*\")?\)", r"\1"),
    ("md_bold", r"\*\*([^*\n]+)\*\*", r"\1"),
    ("md_strike", r"~~([^~\n]+)~~", r"\1"),
    ("md_inline_code", r"`([^`\n]+)`", r"\1"),
    ("md_rule", r"(?m)^[ \t]*(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$", ""),
    ("md_table_rule", r"(?m)^[ \t]*\|?(?:[ \t]*:?-{3,}:?[ \t]*\|)+(?:[ \t]*:?-{3,}:?[ \t]*)?\|?[ \t]*$", ""),
    ("md_blockquote", r"(?m)^[ \t]{0,3}>[ \t]?", ""),
)

_WIKI_NS = "File|Image|Category|文件|檔案|图像|圖像|分类|分類|Datei|Kategorie"
WIKI_RULES: tuple[tuple[str, str, str], ...] = (
    ("wiki_magic_word", r"__[A-Z]{3,}__", ""),
    # Three passes unwrap templates nested up to three deep ({{a|{{b}}}}).
    ("wiki_template", r"\{\{[^{}]*\}\}", ""),
    ("wiki_template", r"\{\{[^{}]*\}\}", ""),
    ("wiki_template", r"\{\{[^{}]*\}\}", ""),
    ("wiki_file_link", rf"\[\[(?:{_WIKI_NS}):[^\[\]]*\]\]", ""),
    ("wiki_link", r"\[\[(?:[^\[\]|\n]*\|)+([^\[\]|\n]*)\]\]", r"\1"),
    ("wiki_link", r"\[\[([^\[\]|\n]+)\]\]", r"\1"),
    ("wiki_ext_link", r"\[(?:https?|ftp)://[^\s\]]+[ \t]+([^\]\n]+)\]", r"\1"),
    ("wiki_bold_italic", r"'{5}([^'\n]+)'{5}", r"\1"),
    ("wiki_bold", r"'{3}([^'\n]+)'{3}", r"\1"),
    ("wiki_italic", r"'{2}([^'\n]+)'{2}", r"\1"),
    ("wiki_heading", r"(?m)^[ \t]*={2,6}[ \t]*([^=\n]+?)[ \t]*={2,6}[ \t]*$", r"\1"),
    ("wiki_table", r"(?m)^[ \t]*(?:\{\||\|\}|\|-)[^\n]*(?:\n|$)", ""),
)

# A document is troff when it carries man/mdoc requests or font escapes; prose is never touched.
TROFF_PREFILTER_RE2 = r"(?m)^[.'][ \t]*(?:TH|SH|SS|PP|LP|TP|IP|Dd|Dt|Sh|nf|fi|\\\")\b|\\f[BIRP1-4(\[]"

TROFF_SPECIAL_CHARS: dict[str, str] = {
    "em": "—", "en": "–", "hy": "-", "mi": "−", "bu": "•", "co": "©", "rg": "®", "tm": "™",
    "lq": "“", "rq": "”", "oq": "‘", "cq": "’", "aq": "'", "dq": '"', "ga": "`", "ha": "^",
    "ti": "~", "rs": "\\", "sl": "/", "de": "°", "mu": "×", "di": "÷", "pl": "+", "eq": "=",
    "<=": "≤", ">=": "≥", "!=": "≠", "->": "→", "<-": "←", "sc": "§", "ps": "¶", "dg": "†",
    "dd": "‡", "ba": "|", "br": "│", "ul": "_", "ci": "○", "sq": "□", "fm": "′", "sd": "″",
    "+-": "±", "12": "½", "14": "¼", "34": "¾", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›",
}
_TROFF_FONT_MACROS = {"B", "I", "R", "SM", "SB"}
_TROFF_ALT_MACROS = {"BI", "BR", "IB", "IR", "RB", "RI"}  # alternate fonts, arguments joined without space
_TROFF_HEADING_MACROS = {"SH", "SS", "Sh", "Ss"}
_TROFF_PARA_MACROS = {"PP", "LP", "P", "TP", "IP", "HP", "sp", "Pp", "Lp"}
_TROFF_REQUEST = re.compile(r"^[.'][ \t]*(\S+)[ \t]*(.*)$")
_TROFF_COMMENT = re.compile(r'\\".*$')
_TROFF_STRAY_REQUEST = re.compile(r"[ \t]+[.'](?:RE|RS|PP|LP|TP|IP|HP|sp|br|nf|fi|in|ti|ad|na)(?:[ \t]+\S+)?[ \t]*")
_TROFF_ESCAPE = re.compile(
    r"""\\(?:
        [hvLlwoXDbZxSHNRAB]'[^'\n]*'          # motions, lines, widths, overstrikes: layout with a quoted argument
      | \$[0-9*@]                          # macro arguments (inside definitions)
      | f(?:\[[^\]]*\]|\(..|.)            # font change
      | s[+-]?(?:\(..|\[[^\]]*\]|\d\d?)   # size change
      | \*(?:\(..|\[[^\]]*\]|.)           # string interpolation
      | n[+-]?(?:\(..|\[[^\]]*\]|.)       # number register
      | \((..)                            # special character \(xx
      | \[([^\]]*)\]                      # special character \[name]
      | "[^\n]*                           # comment to end of line
      | ([-e\\ ~0&,/|^%:c.'`])            # one-character escapes
    )""",
    re.VERBOSE,
)
_TROFF_ONE_CHAR = {"-": "-", "e": "\\", "\\": "\\", " ": " ", "~": " ", "0": " ", ".": ".", "'": "'", "`": "`"}


def _troff_escape(m: re.Match) -> str:
    special = m.group(1) or m.group(2)
    if special is not None:
        return TROFF_SPECIAL_CHARS.get(special, "")
    one = m.group(3)
    if one is not None:
        return _TROFF_ONE_CHAR.get(one, "")
    return ""


def _troff_args(args: str) -> list[str]:
    """Split a macro argument string, honouring double quotes."""
    return [a[1:-1] if len(a) >= 2 and a[0] == a[-1] == '"' else a for a in re.findall(r'"[^"]*"|\S+', args)]


def strip_troff(text: str) -> str:
    """Return readable text from troff/man source: requests dropped, font macros unwrapped, escapes decoded."""
    out: list[str] = []
    ignoring_until: str | None = None  # inside .de/.am/.ig blocks: macro definitions and comments
    for line in text.split("\n"):
        if ignoring_until is not None:
            if line.rstrip() == ignoring_until:
                ignoring_until = None
            continue
        m = _TROFF_REQUEST.match(line)
        if m is None and _TROFF_STRAY_REQUEST.fullmatch(line):
            continue  # an indented layout request (translation slip): troff would print it, readers don't want it
        if m is None:
            out.append(_TROFF_ESCAPE.sub(_troff_escape, line))
            continue
        macro, args = m.group(1), _TROFF_COMMENT.sub("", m.group(2))
        if macro.startswith('\\"'):
            continue
        if macro in ("de", "de1", "am", "ig", "ds"):
            if macro != "ds":
                end = _troff_args(args)[1:2] if macro != "ig" else _troff_args(args)[:1]
                ignoring_until = "." + (end[0] if end else ".")
            continue
        if macro in _TROFF_FONT_MACROS:
            out.append(_TROFF_ESCAPE.sub(_troff_escape, " ".join(_troff_args(args))))
        elif macro in _TROFF_ALT_MACROS:
            out.append(_TROFF_ESCAPE.sub(_troff_escape, "".join(_troff_args(args))))
        elif macro in _TROFF_HEADING_MACROS:
            out.extend(["", _TROFF_ESCAPE.sub(_troff_escape, " ".join(_troff_args(args)))])
        elif macro in _TROFF_PARA_MACROS:
            out.append("")
            tag = _troff_args(args)[:1] if macro == "IP" else []
            if tag and not re.fullmatch(r"\d+[nmi]?", tag[0]):
                out.append(_TROFF_ESCAPE.sub(_troff_escape, tag[0]))
        # Every other request (.TH .nf .fi .RS .RE .in .de ...) is layout, not content.
    return "\n".join(out)


@register_op
class StripMarkup(Mapper):
    """Remove HTML tags/entities, troff/man requests and escapes, and Markdown/wiki leftovers, keeping their text."""

    name: ClassVar[str] = "strip_markup"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "HTML tags/entities, troff/man macros, Markdown and MediaWiki residue -> plain text"

    html: bool = Field(True, description="HTML comments, script/style, tags (block tags become line breaks), entities")
    troff: bool = Field(True, description="troff/man requests, font macros and escapes (only in documents that look like troff)")
    markdown: bool = Field(True, description="Markdown headings, emphasis, links, images, code fences, rules, tables")
    wiki: bool = Field(True, description="MediaWiki templates, links, bold/italic quotes, headings, tables")

    def rules(self) -> list[Rule]:
        """Return the rules this configuration runs, in order."""
        rules: list[Rule] = []
        if self.troff:  # first: troff's \(em and .B lines must be decoded before generic rules see them
            rules.append(python_rule("troff", TROFF_PREFILTER_RE2, strip_troff))
        if self.html:
            rules += [regex_rule(n, p, r, HTML_GATE_RE2) for n, p, r in HTML_RULES]
            rules.append(python_rule("html_entity", HTML_ENTITY_RE2, unescape_html_entities))
        if self.wiki:  # before Markdown: __TOC__ is a wiki magic word, not Markdown bold
            rules += [regex_rule(n, p, r, WIKI_GATE_RE2) for n, p, r in WIKI_RULES]
        if self.markdown:
            rules += [regex_rule(n, p, r, MARKDOWN_GATE_RE2) for n, p, r in MARKDOWN_RULES]
        return rules

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        return apply_rules(live, self.rules(), self.op_id, stats)


# ---------------------------------------------------------------------------------------------
# remove_boilerplate_lines@1
# ---------------------------------------------------------------------------------------------

# Each pattern must match a WHOLE line (leading/trailing blanks aside); bounded repeats keep a
# prose line that merely mentions 版权 or "share" from matching.
DEFAULT_BOILERPLATE_RULES: dict[str, str] = {
    "click_more": (
        r"(?:点击|點擊|点此|點此|请点击|請點擊)(?:查看|阅读|閱讀|进入|進入|这里|這裡|此处|此處|下载|下載|展开|展開|更多)[^\n]{0,20}"
        r"|(?:阅读原文|閱讀原文|展开全文|展開全文|查看更多|查看全文|查看详情|查看詳情|加载更多|載入更多|更多>>|更多»)[^\n]{0,10}"
        r"|(?i:read more|show more|load more|click here)[^\n]{0,30}"
    ),
    "back_to_top": r"(?:返回顶部|返回頂部|回到顶部|回到頂部|返回首页|返回首頁|返回列表|(?i:back to top))[ \t↑^]*",
    "navigation": (
        r"(?:首页|首頁|主页|主頁|(?i:home))(?:[ \t]*[|/>»›·][ \t]*[^\n|/>»›·]{1,12}){1,8}"
        r"|(?:上一篇|下一篇|上一页|下一页|上一頁|下一頁|上一章|下一章)[：:]?[^\n]{0,60}"
        r"|(?:(?:首页|首頁|上一页|上一頁|下一页|下一頁|尾页|尾頁)[ \t|]*){2,}"
    ),
    "share": (
        r"(?:分享到|分享至|一键分享|一鍵分享|(?i:share(?: this| on)?)[ \t]*[:：])[^\n]{0,40}"
        r"|(?:扫一扫|掃一掃|扫码|掃碼|长按识别|長按識別|关注我们|關注我們|关注公众号|關注公眾號|(?i:follow us))[^\n]{0,40}"
    ),
    "copyright": (
        r"(?:(?i:copyright)|©|\((?i:c)\)|版权所有|版權所有)[^\n]{0,100}"
        r"|[^\n]{0,60}(?:(?i:all rights reserved)|版权所有|版權所有|保留所有权利|保留所有權利)[ \t.。]*"
    ),
    "cookie_notice": r"(?:本网站使用|本網站使用|我们使用|我們使用|(?i:we use|this (?:site|website) uses))[^\n]{0,30}(?i:cookie)[^\n]{0,100}",
    "icp_record": r"[^\n]{0,30}(?:ICP备|ICP備|ICP证|ICP證|公网安备|公網安備)[^\n]{0,60}",
}


def boilerplate_line_pattern(rule_pattern: str) -> str:
    """Return the RE2 pattern that removes whole lines matching `rule_pattern`, with their newline."""
    return rf"(?m)^[ \t]*(?:{rule_pattern})[ \t]*(?:\n|$)"


def _check_re2(pattern: str) -> None:
    pc.count_substring_regex(pa.array([""], pa.string()), pattern=pattern)  # raises ArrowInvalid on bad RE2


@register_op
class RemoveBoilerplateLines(Mapper):
    """Remove whole lines matching named boilerplate rules (navigation, share, copyright, 点击查看...), counting lines per rule."""

    name: ClassVar[str] = "remove_boilerplate_lines"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "drop navigation / share / copyright / click-more / cookie / ICP lines; lines removed counted per rule"

    rules: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_BOILERPLATE_RULES),
        description="rule name -> RE2 pattern matching a whole line; replaces the defaults",
    )
    extra_rules: dict[str, str] = Field(default_factory=dict, description="rule name -> RE2 pattern, added to `rules`")
    disable: tuple[str, ...] = Field((), description="rule names to switch off")

    @field_validator("rules", "extra_rules")
    @classmethod
    def _valid_re2(cls, rules: dict[str, str]) -> dict[str, str]:
        for name, pattern in rules.items():
            try:
                _check_re2(boilerplate_line_pattern(pattern))
            except pa.ArrowInvalid as e:
                raise ValueError(f"boilerplate rule {name!r}: invalid RE2 pattern: {e}") from e
        return rules

    def active_rules(self) -> dict[str, str]:
        """Return the rules that run, in order."""
        merged = {**self.rules, **self.extra_rules}
        unknown = set(self.disable) - set(merged)
        if unknown:
            raise ValueError(f"{self.op_id}: disable names unknown rules {sorted(unknown)}; known: {sorted(merged)}")
        return {k: v for k, v in merged.items() if k not in self.disable}

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        full = live.column("text").combine_chunks()
        rules = self.active_rules()
        notes: list[list[str]] = [[] for _ in range(live.num_rows)]
        if not rules:
            return live
        # One RE2 pass over all rules picks the few rows with boilerplate; per-rule counting runs on those only.
        any_rule = boilerplate_line_pattern("|".join(f"(?:{p})" for p in rules.values()))
        has = pc.fill_null(pc.match_substring_regex(full, pattern=any_rule), False)
        rows = pc.indices_nonzero(has).to_pylist()
        if not rows:
            return add_trace(live, [None] * live.num_rows)
        text = full.filter(has)
        for rule, pattern in rules.items():
            line_re = boilerplate_line_pattern(pattern)
            counts = pc.count_substring_regex(text, pattern=line_re)
            hit = pc.greater(counts, 0)
            if not pc.any(hit).as_py():
                continue
            stats.add(f"lines_removed:{rule}", pc.sum(counts).as_py())
            stats.add(f"changed:{rule}", pc.sum(hit.cast(pa.int64())).as_py())
            for j in pc.indices_nonzero(hit).to_pylist():
                notes[rows[j]].append(f"{rule}x{counts[j].as_py()}")
            text = pc.replace_substring_regex(text, pattern=line_re, replacement="")
        live = set_column(live, "text", pc.replace_with_mask(full, has, text))
        return add_trace(live, [f"{self.op_id}: removed lines {','.join(n)}" if n else None for n in notes])


# ---------------------------------------------------------------------------------------------
# convert_script@1
# ---------------------------------------------------------------------------------------------

OpenCCConfig = Literal[
    "s2t", "t2s", "s2tw", "tw2s", "s2hk", "hk2s", "s2twp", "tw2sp", "t2tw", "tw2t", "t2hk", "hk2t", "t2jp", "jp2t"
]
HAN_RE2 = r"[\x{3400}-\x{4dbf}\x{4e00}-\x{9fff}\x{f900}-\x{faff}\x{20000}-\x{3134f}]"
# Script tag a conversion produces (ISO 15924), for the `script` column.
TARGET_SCRIPT: dict[str, str] = {
    "s2t": "Hant", "s2tw": "Hant", "s2hk": "Hant", "s2twp": "Hant", "t2tw": "Hant", "tw2t": "Hant",
    "t2hk": "Hant", "hk2t": "Hant", "jp2t": "Hant", "t2s": "Hans", "tw2s": "Hans", "hk2s": "Hans",
    "tw2sp": "Hans", "t2jp": "Jpan",
}


@build_once
def opencc_converter(config: str) -> opencc.OpenCC:
    """Return a cached OpenCC converter for a config name (its dictionaries ship in the package)."""
    return opencc.OpenCC(f"{config}.json")


@register_op
class ConvertScript(Mapper):
    """Convert Chinese script with OpenCC (s2t, t2s, s2hk, s2tw, ...), in place or into another column, traced per row."""

    name: ClassVar[str] = "convert_script"
    version: ClassVar[int] = 1
    summary: ClassVar[str] = "OpenCC script conversion, explicit config, traced per row; can write a separate key column"

    config: OpenCCConfig = Field(..., description="OpenCC conversion, e.g. t2s (Traditional->Simplified), s2hk, s2tw")
    output_column: str = Field("text", description="column to write; e.g. text_t2s for a dedup key leaves `text` untouched")
    only_scripts: tuple[str, ...] = Field((), description="convert only rows whose `script` column is one of these (empty = all)")
    set_script: bool = Field(True, description="when converting `text` in place, set `script` of changed rows to the target")

    def process(self, live: pa.Table, stats: OpStats) -> pa.Table:
        text = live.column("text").combine_chunks()
        mask = pc.match_substring_regex(text, pattern=HAN_RE2)
        if self.only_scripts:
            if "script" not in live.column_names:
                raise ValueError(f"{self.op_id}: only_scripts={list(self.only_scripts)} needs a `script` column (run language/script id first)")
            in_scripts = pc.is_in(live.column("script").combine_chunks(), value_set=pa.array(list(self.only_scripts), pa.string()))
            mask = pc.and_(mask, pc.fill_null(in_scripts, False))
        conv = opencc_converter(self.config)
        new = map_where(text, mask, conv.convert)
        diff = pc.fill_null(pc.not_equal(new, text), False)
        changed = pc.indices_nonzero(diff).to_pylist()
        stats.add(f"converted:{self.config}", len(changed))
        live = set_column(live, self.output_column, new)
        if self.output_column == "text" and self.set_script and changed and "script" in live.column_names:
            target = pa.scalar(TARGET_SCRIPT[self.config], pa.string())
            live = set_column(live, "script", pc.if_else(diff, target, live.column("script").combine_chunks()))
        where = "text" if self.output_column == "text" else f"-> {self.output_column}"
        changed_set = set(changed)
        return add_trace(live, [f"{self.op_id}: {self.config} {where}" if i in changed_set else None for i in range(live.num_rows)])

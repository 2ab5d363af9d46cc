"""Build the held-out language-id sets (issue 17) from sources the model was never built from.

    .venv/bin/python scripts/build_langid_eval.py            # -> .yuliao/langid-eval/sets/{tune,eval}.jsonl

Sources (Debian bookworm packages fetched with `apt-get download`, the pycantonese 5.0.0 wheel with
`pip download`; both cached under .yuliao/langid-eval, nothing is committed):

* register `ui`: gettext catalogues (.mo) of Debian packages; the translation's locale gives the
  label (zh_CN -> zh-Hans, zh_TW and zh_HK -> zh-Hant, ja, ko) and the msgid is the English (en).
  `also_as` lists the other labels under which any package's translators wrote the very same
  string (削除 only ja; 印刷 ja and zh-Hant): those strings are undecidable from their text alone.
* register `docs`: Debian Reference (HTML; en, ja, zh-cn, zh-tw). TUNING only.
* register `faq`: the Debian FAQ (HTML; en, ja, ko, zh-cn).
* register `man`: manual pages (manpages: en, manpages-ja: ja), troff stripped.
* register `man-l10n`: manual pages translated into European languages (manpages-l10n: de, fr, es,
  it, pl, ru, nl, pt_BR, cs, da, fi, hu, ro, sv, uk, vi) for the general detector (issue 24).
  Translated pages keep some paragraphs in English; a paragraph found in the pages of two or
  more locales (or in the English manpages) is untranslated and left out. Evaluation only.
  (manpages-zh is downloaded for bench/bench_langid_speed.py's Chinese documents only: its
  pages mix whole English paragraphs into zh_CN/zh_TW folders, so its lines carry no clean label.)
* register `transcripts`: Cantonese conversation transcripts (CHAT files in the pycantonese wheel):
  CantoMap (GPL-3.0) for tuning, HKCanCor (CC BY 4.0) for evaluation.

The split is by SOURCE (package / corpus), never by line: TUNE_SOURCES below tune thresholds,
everything else only evaluates. docs/language.md lists build vs tune vs evaluation sources.
"""

from __future__ import annotations

import argparse
import gettext
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.clean import strip_troff  # noqa: E402

CACHE = ROOT / ".yuliao" / "langid-eval"
OUT = CACHE / "sets"
UI_TUNE = ("apt", "aptitude-common", "coreutils", "debconf-i18n", "dpkg", "evince-common", "gedit-common",
           "libglib2.0-data", "nautilus-data", "thunar-data", "tar", "sudo")
UI_EVAL = ("diffutils", "file-roller", "findutils", "gimp-data", "gnome-terminal-data", "gnome-text-editor", "grep",
           "libgtk-3-common", "mousepad", "nano", "network-manager", "sed", "synaptic", "tasksel-data",
           "util-linux-locales", "wget", "xdg-user-dirs", "xfce4-panel", "psmisc", "procps", "libgphoto2-l10n")
DOC_PACKAGES = {"docs": ("debian-reference-en", "debian-reference-ja", "debian-reference-zh-cn", "debian-reference-zh-tw"),
                "faq": ("debian-faq", "debian-faq-ja", "debian-faq-ko", "debian-faq-zh-cn"),
                "man": ("manpages", "manpages-ja")}
MAN_L10N = ("manpages-de", "manpages-fr", "manpages-es", "manpages-it", "manpages-pl", "manpages-ru", "manpages-nl",
            "manpages-pt-br", "manpages-cs", "manpages-da", "manpages-fi", "manpages-hu", "manpages-ro", "manpages-sv",
            "manpages-uk", "manpages-vi")
SPEED_ONLY = ("manpages-zh",)  # documents for the throughput bench, no labelled lines
MAN_LOCALE_LABEL = {"ja": "ja", "zh_CN": "zh-Hans", "zh_TW": "zh-Hant", "pt_BR": "pt"}
TUNE_SOURCES = frozenset({*UI_TUNE, *DOC_PACKAGES["docs"], "cantomap"})
PYCANTONESE = "pycantonese==5.0.0"
LOCALE_LABEL = {"zh_CN": "zh-Hans", "zh_TW": "zh-Hant", "zh_HK": "zh-Hant", "ja": "ja", "ko": "ko"}
DOC_LABEL = {"en": "en", "ja": "ja", "ko": "ko", "zh-cn": "zh-Hans", "zh-tw": "zh-Hant"}
PER_CELL = 500  # texts per (split, register, class, source) at most

_ACCEL = re.compile(r"\(_?[A-Za-z0-9]\)|_(?=\w)|&(?=\w)")  # 保存(_S), _Save, &File
_PLACEHOLDER = re.compile(r"%(\d+\$)?[-+ #0]*\d*(\.\d+)?[hlLqjzt]*[sdiufFeEgGxXoc%]|%\([a-z_]+\)[sd]|\{[a-z_0-9]*\}|<[^>]{1,40}>")


def download(packages: list[str], cache: Path = CACHE) -> Path:
    """Fetch and unpack the Debian packages (once) under `cache`; return the folder of unpacked trees."""
    debs, tree = cache / "debs", cache / "x"
    debs.mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", "-q", pkg], cwd=debs, check=True, capture_output=True)
        if not (tree / pkg).is_dir():
            (tree / pkg).mkdir(parents=True)
            subprocess.run(["dpkg-deb", "-x", str(next(debs.glob(f"{pkg}_*.deb"))), str(tree / pkg)], check=True)
    return tree


def clean_ui(text: str) -> str:
    """Return a UI string without accelerators, printf/format placeholders, markup and line breaks."""
    text = _PLACEHOLDER.sub(" ", _ACCEL.sub("", text))
    return " ".join(text.split())


def ui_rows(tree: Path, pkg: str) -> list[dict]:
    """Return labelled rows (translations per locale, msgids as en) from one package's .mo files."""
    rows = []
    for mo in sorted((tree / pkg).rglob("*.mo")):
        locale = mo.parts[mo.parts.index("locale") + 1] if "locale" in mo.parts else ""
        label = LOCALE_LABEL.get(locale)
        if label is None and locale != "ja":
            continue
        with mo.open("rb") as fp:
            try:
                catalog = gettext.GNUTranslations(fp)._catalog  # noqa: SLF001 (the stdlib has no public reader)
            except OSError:
                continue
        for key, msgstr in catalog.items():
            msgid = key[0] if isinstance(key, tuple) else key
            if not msgid or "\x04" in msgid and not msgid.split("\x04", 1)[1]:
                continue
            msgid = msgid.split("\x04", 1)[-1]  # drop a msgctxt
            src, dst = clean_ui(msgid), clean_ui(msgstr)
            if dst and dst != src:
                rows.append({"text": dst, "label": label, "source": pkg})
            if src:
                rows.append({"text": src, "label": "en", "source": pkg})
    return rows


def html_rows(tree: Path, pkg: str) -> list[dict]:
    """Return headings, paragraphs and list items of a package's HTML documentation."""
    import lxml.html

    rows = []
    for page in sorted((tree / pkg).rglob("*.html")):
        lang = page.suffixes[-2].lstrip(".") if len(page.suffixes) >= 2 else "en"
        label = DOC_LABEL.get(lang, "en" if pkg.endswith("-en") or pkg == "debian-faq" else None)
        if label is None:
            continue
        doc = lxml.html.fromstring(page.read_bytes())
        for el in doc.iter("p", "li", "h1", "h2", "h3", "h4", "dt", "td"):
            if el.tag in ("li", "td") and el.find(".//p") is not None:
                continue  # its paragraphs come on their own
            text = " ".join(el.text_content().split())
            if text:
                rows.append({"text": text, "label": label, "source": pkg})
    return rows


def man_locale(page: Path) -> str | None:
    """Return the label of a manual page from its folder (man/man1 -> en, man/de/man1 -> de), None if unknown."""
    parts = page.parts[page.parts.index("man") + 1:] if "man" in page.parts else ()
    if not parts:
        return None
    if parts[0].startswith("man") and parts[0][3:4].isdigit():
        return "en"
    return MAN_LOCALE_LABEL.get(parts[0], parts[0] if re.fullmatch(r"[a-z]{2}", parts[0]) else None)


def man_pages(tree: Path, pkg: str) -> list[tuple[str, str]]:
    """Return (label, whole page text, troff stripped) for each manual page of a package."""
    pages = []
    for page in sorted((tree / pkg).rglob("*.gz")):
        label = man_locale(page)
        if label is None or "/man/" not in page.as_posix():
            continue
        try:
            pages.append((label, strip_troff(gzip.decompress(page.read_bytes()).decode("utf-8"))))
        except (UnicodeDecodeError, OSError):
            continue
    return pages


def man_rows(tree: Path, pkg: str) -> list[dict]:
    """Return paragraphs of a package's manual pages (troff stripped), labelled by the page's locale folder."""
    rows = []
    for label, text in man_pages(tree, pkg):
        for para in re.split(r"\n\s*\n", text):
            para = " ".join(para.split())
            if para:
                rows.append({"text": para, "label": label, "source": pkg})
    return rows


def untranslated_paragraphs(rows: list[dict]) -> set[str]:
    """Return paragraph texts that occur under two or more labels (left in English by translators, or code)."""
    labels: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        labels[r["text"]].add(r["label"])
    return {text for text, seen in labels.items() if len(seen) > 1}


def chat_rows(wheel: Path, corpus: str) -> list[dict]:
    """Return utterances of a CHAT corpus in the pycantonese wheel, words joined as written Cantonese."""
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(n for n in z.namelist() if n.startswith(f"pycantonese/data/{corpus}/") and n.endswith(".cha")):
            for line in z.read(name).decode("utf-8").splitlines():
                if not line.startswith("*"):
                    continue
                utt = re.sub(r"\x15[^\x15]*\x15|\[[^\]]*\]|&\S+|\bxxx\b|#", " ", line.split("\t", 1)[-1])
                tokens = [t for t in utt.split() if t not in ("-",)]
                text = ""
                for tok in tokens:
                    tok = {".": "。", "?": "？", ",": "，", "!": "！"}.get(tok, tok)
                    text += (" " if text and tok.isascii() and text[-1].isascii() and tok.isalnum() else "") + tok
                if text:
                    rows.append({"text": text, "label": "yue", "source": corpus})
    return rows


def pycantonese_wheel() -> Path:
    """Fetch the pycantonese wheel (once): its CantoMap and HKCanCor transcripts are the yue sets."""
    wheels = CACHE / "wheels"
    found = sorted(wheels.glob("pycantonese-*.whl"))
    if not found:
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels), PYCANTONESE], check=True)
        found = sorted(wheels.glob("pycantonese-*.whl"))
    return found[0]


_CODE_TOKEN = re.compile(r"[/_=\\|<>{}\[\]$@#~`*]|\w\.\w|^-|\(\d\)|\d")


def is_language_text(text: str, label: str) -> bool:
    """Keep texts identify_language is meant to decide, in the labelled language's script.

    Out: fewer than 4 weighted letters (und by design); for zh/yue/ja/ko, lines without Han, kana
    or Hangul (commands, package names and untranslated English inside a translated page); for
    every label, lines whose words are mostly code (paths, options, file names, identifiers).
    """
    from transforms.langid import count_scripts

    c = count_scripts(text)
    if (c.han + c.kana + c.hangul) * 3 + (c.letters - c.han - c.kana - c.hangul) < 4:
        return False
    if label in ("zh-Hans", "zh-Hant", "yue") and not c.han:
        return False
    if label == "ja" and not (c.kana or c.han) or label == "ko" and not (c.hangul or c.han):
        return False
    words = text.split()
    return sum(bool(_CODE_TOKEN.search(w)) for w in words) * 2 < len(words) or (c.han + c.kana + c.hangul) > 0


def sample(rows: list[dict], register: str) -> list[dict]:
    """Deduplicate, drop texts too short to decide, cap each (class, source) cell with a fixed seed."""
    cells: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if is_language_text(r["text"], r["label"]):
            cells[(r["label"], r["source"])].setdefault(r["text"], r)
    out = []
    for (label, source), by_text in sorted(cells.items()):
        picked = list(by_text.values())
        random.Random(f"{register}/{label}/{source}").shuffle(picked)
        for r in picked[:PER_CELL]:
            split = "tune" if source in TUNE_SOURCES else "eval"
            out.append({**r, "register": register, "split": split,
                        "key": hashlib.blake2b(r["text"].encode(), digest_size=6).hexdigest()})
    return out


def build() -> dict[str, int]:
    """Write sets/tune.jsonl and sets/eval.jsonl; return rows per split."""
    tree = download([*UI_TUNE, *UI_EVAL, *(p for ps in DOC_PACKAGES.values() for p in ps), *MAN_L10N, *SPEED_ONLY])
    rows: list[dict] = []
    ui = {pkg: ui_rows(tree, pkg) for pkg in (*UI_TUNE, *UI_EVAL)}
    labels_of = defaultdict(set)  # UI string -> every label translators wrote it under (any package)
    for r in (r for pkg_rows in ui.values() for r in pkg_rows):
        labels_of[r["text"]].add(r["label"])
    for pkg in (*UI_TUNE, *UI_EVAL):
        # also_as: the same string is a translation under another label too (印刷 is ja and zh-Hant):
        # no text-only identifier can tell those apart; the bench reports them separately
        rows += [{**r, "also_as": sorted(labels_of[r["text"]] - {r["label"]})} for r in sample(ui[pkg], "ui")]
    for register in ("docs", "faq"):
        for pkg in DOC_PACKAGES[register]:
            rows += sample(html_rows(tree, pkg), register)
    man = {pkg: man_rows(tree, pkg) for pkg in (*DOC_PACKAGES["man"], *MAN_L10N)}
    for pkg in DOC_PACKAGES["man"]:
        rows += sample(man[pkg], "man")
    untranslated = untranslated_paragraphs([r for pkg in (*DOC_PACKAGES["man"], *MAN_L10N) for r in man[pkg]])
    for pkg in MAN_L10N:
        rows += sample([r for r in man[pkg] if r["text"] not in untranslated], "man-l10n")
    wheel = pycantonese_wheel()
    for corpus in ("cantomap", "hkcancor"):
        rows += sample(chat_rows(wheel, corpus), "transcripts")
    OUT.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("tune", "eval"):
        part = [r for r in rows if r["split"] == split]
        (OUT / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        counts[split] = len(part)
    return counts


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print(build())

"""Measure non-space characters per word in the scripts written without spaces between words (issue 24).

quality.signals estimates the word count of a Thai, Lao, Khmer, Myanmar or Tibetan document as its
non-space characters divided by the constant this script measures for its script
(UNSPACED_CHARS_PER_WORD), so the Gopher word rules (too_few_words...) mean the same amount of text
there as in a spaced script. Words are ICU's dictionary word segmentation (BreakIterator, tokens
whose rule status is a letter/number/kana/ideograph word); ICU has no Tibetan dictionary, so
Tibetan "words" are tsheg-separated syllables (more than its words: a lenient estimate).

Tuning text (none of it is in the evaluation corpus, scripts/build_multilingual_corpus.py):
message catalogs (.mo) of Debian bookworm packages: the installed /usr/share/locale/<lang>
catalogs and libreoffice-l10n-{th,km,dz}, plus the Burmese Firefox language pack
(firefox-esr-l10n-my, Fluent .ftl strings). Fetch them with

    apt-get download libreoffice-l10n-th libreoffice-l10n-km libreoffice-l10n-dz firefox-esr-l10n-my
    for d in *.deb; do dpkg-deb -x "$d" x/"${d%%_*}"; done

ICU is not a yuliao dependency: run this with the system Python and Debian's python3-icu

    apt-get install python3-icu
    /usr/bin/python3 bench/tune_unspaced_word_length.py /usr/share/locale/{th,lo,km,my,dz,bo} x/

Only strings whose characters are at least 30 % of one of these scripts count (the share from
which quality.signals treats a document as unspaced), each distinct string once.

The same ratio on the evaluation corpus' documents (lingua th, LibreOffice help km and dz), as a
check the constants were not tuned on:

    /usr/bin/python3 bench/tune_unspaced_word_length.py --corpus .yuliao/multilingual-corpus
"""

from __future__ import annotations

import gettext
import json
import re
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import icu  # python3-icu (Debian), see above

SCRIPTS = {  # lang of the ICU locale -> Unicode block, as in quality.signals.UNSPACED_SCRIPT_RES
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "lo": re.compile(r"[\u0e80-\u0eff]"),
    "km": re.compile(r"[\u1780-\u17ff\u19e0-\u19ff]"),
    "my": re.compile(r"[\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff]"),
    "bo": re.compile(r"[\u0f00-\u0fff]"),
}
WORD_STATUS_MIN = 100  # UBRK_WORD_NUMBER; 0-99 is UBRK_WORD_NONE (spaces, punctuation)


def catalog_strings(root: Path) -> dict[str, set[str]]:
    """Return the translated strings of every .mo catalog and Firefox .ftl file under root, by script."""
    texts: list[str] = []
    for mo in root.rglob("*.mo"):
        with mo.open("rb") as f:
            try:
                texts += [v for v in gettext.GNUTranslations(f)._catalog.values() if isinstance(v, str)]
            except UnicodeDecodeError:  # a catalog in a legacy charset: none of these scripts
                continue
    for xpi in root.rglob("*.xpi"):
        with zipfile.ZipFile(xpi) as z:
            for name in z.namelist():
                if name.endswith(".ftl"):
                    for line in z.read(name).decode("utf-8").splitlines():
                        if "=" in line and not line.lstrip().startswith("#"):
                            texts.append(re.sub(r"\{[^}]*\}", " ", line.split("=", 1)[1]))
    out: dict[str, set[str]] = defaultdict(set)
    for t in texts:
        nonspace = sum(not ch.isspace() for ch in t)
        for lang, rx in SCRIPTS.items():
            if nonspace and len(rx.findall(t)) / nonspace >= 0.3:
                out[lang].add(t)
    return out


def icu_words(text: str, lang: str) -> int:
    """Return the number of ICU word tokens (letters/numbers) in text."""
    bi = icu.BreakIterator.createWordInstance(icu.Locale(lang))
    bi.setText(text)
    n = 0
    for _ in bi:
        n += bi.getRuleStatus() >= WORD_STATUS_MIN
    return n


def corpus_strings(corpus: Path) -> dict[str, set[str]]:
    """Return the documents of a multilingual corpus (part-*.jsonl, lang_truth) in these scripts, by script."""
    script_of = {"th": "th", "lo": "lo", "km": "km", "my": "my", "bo": "bo", "dz": "bo"}
    out: dict[str, set[str]] = defaultdict(set)
    for part in sorted(corpus.glob("part-*.jsonl")):
        for line in part.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["lang_truth"] in script_of:
                out[script_of[rec["lang_truth"]]].add(rec["text"])
    return out


def main(roots: list[str]) -> None:
    by_lang: dict[str, set[str]] = defaultdict(set)
    if roots[:1] == ["--corpus"]:  # evaluation: the same ratio on documents of scripts/build_multilingual_corpus.py
        by_lang = corpus_strings(Path(roots[1]))
        roots = []
    for r in roots:
        for lang, strings in catalog_strings(Path(r)).items():
            by_lang[lang] |= strings
    print("| script (ICU locale) | strings | non-space chars | ICU words | chars per word |")
    print("|---|---:|---:|---:|---:|")
    for lang in SCRIPTS:
        strings = by_lang.get(lang, set())
        chars = sum(sum(not ch.isspace() for ch in t) for t in strings)
        words = sum(icu_words(t, lang) for t in strings)
        ratio = f"{chars / words:.2f}" if words else "-"
        print(f"| {lang} | {len(strings):,} | {chars:,} | {words:,} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1:])

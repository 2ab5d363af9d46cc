"""Build transforms/langid_data/english_ui_words.txt: words of English UI strings other languages rarely write.

Run: .venv/bin/python scripts/build_english_ui_words.py   (fetches the build catalogues once with apt-get download)

One- and two-word UI strings (`Side Pane`, `unable to lock`, `InstSz`) carry too few n-grams for
langdetect's profiles or fastText, and came out de/fr/ca/it. identify_language@5 gives short
ASCII texts whose words are all English UI vocabulary an extra English prior (COMBINED_VOCAB_LOG_PRIOR).

Build sources only (scripts/langid_build_catalogues.py, never a tuning or evaluation source): a word
(lower-cased; CamelCase and snake_case split) is English UI vocabulary when it occurs at least
MIN_COUNT times in the build catalogues' msgids (English) and its rate there is at least RATE_RATIO
times its mean rate in the translations into 23 Latin-script languages (words translators keep,
such as `global` or `mono`, are left out). Chosen on the tuning sources (mean x4: English UI
strings 0.974 -> 0.990; "every language x4" gave 0.980, "mean x2" 0.992 with twice the cost);
the cost was measured on 20,000 short build-catalogue translations into those 23 languages: 2,257
called `en` against 2,251 without the vocabulary (the final 64-package build).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from langid_build_catalogues import build_rows, latin_translations  # noqa: E402
from transforms.langid import ENGLISH_UI_WORDS_PATH, ascii_words  # noqa: E402

MIN_COUNT = 2
RATE_RATIO = 4.0


def main() -> None:
    en = Counter(w for r in build_rows() if r["label"] == "en" for w in ascii_words(r["text"]))
    other: dict[str, Counter] = {}
    for r in latin_translations():
        other.setdefault(r["label"], Counter()).update(ascii_words(r["text"]))
    n_en = sum(en.values())
    totals = {lang: sum(c.values()) for lang, c in other.items()}

    def keep(w: str, c: int) -> bool:  # English rate >= RATE_RATIO x the mean rate over the other languages
        return c / n_en >= RATE_RATIO * sum(other[lang][w] / totals[lang] for lang in other) / len(other)

    words = sorted(w for w, c in en.items() if c >= MIN_COUNT and len(w) >= 2 and not re.search(r"\d", w) and keep(w, c))
    ENGLISH_UI_WORDS_PATH.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"wrote {ENGLISH_UI_WORDS_PATH.relative_to(ROOT)}: {len(words):,} words "
          f"({ENGLISH_UI_WORDS_PATH.stat().st_size / 1e3:.0f} kB) of {len(en):,} msgid words")


if __name__ == "__main__":
    main()

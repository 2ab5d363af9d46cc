"""Fit transforms.langid.CONF_CALIBRATION on the TUNING split of the held-out sets (never on eval).

    .venv/bin/python scripts/build_langid_eval.py && .venv/bin/python scripts/fit_langid_calibration.py

Prints the knots to paste into transforms/langid.py: an isotonic regression of "the tag is right"
(zh-Hani accepted for zh-Hans/zh-Hant) on the raw decision score, und and "zh, variety unsure"
decisions left out, thinned to knots where the fitted step function changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_langid import HELDOUT_SETS, _tag, heldout_correct, heldout_guesses, heldout_rows  # noqa: E402
from transforms.langid import (  # noqa: E402
    UND, YUE_MODEL_CONFIDENCE, ZH_UNSURE_CONFIDENCE, LangIdConfig, chinese_variety, count_scripts, reads_as_japanese_kanji)


def main() -> None:
    from sklearn.isotonic import IsotonicRegression

    rows = heldout_rows(HELDOUT_SETS / "tune.jsonl")
    guesses = heldout_guesses([r["text"] for r in rows], LangIdConfig(calibrate=False))
    x, y = [], []
    for r, g in zip(rows, guesses):
        if g.lang == UND:
            continue
        if g.lang in ("zh", "yue") and chinese_variety(r["text"], g.script, "model")[1] in (
                ZH_UNSURE_CONFIDENCE, YUE_MODEL_CONFIDENCE):
            continue  # capped at their own stated confidence
        counts = count_scripts(r["text"])
        if g.lang == "ja" and not counts.kana and not reads_as_japanese_kanji(counts):
            continue  # ja from the kanji model alone (@5): capped at JA_MODEL_CONFIDENCE
        x.append(g.conf)
        y.append(float(heldout_correct(r["label"], _tag(g))))
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(x, y)
    grid = np.round(np.linspace(0, 1, 21), 3)
    fitted = np.round(iso.predict(grid), 3)
    knots = [(float(a), float(b)) for a, b in zip(grid, fitted)]
    print(f"# {len(x)} tuning decisions")
    print("CONF_CALIBRATION: tuple[tuple[float, float], ...] = (" + ", ".join(f"({a}, {b})" for a, b in knots) + ")")


if __name__ == "__main__":
    main()

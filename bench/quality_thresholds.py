"""Measure quality-signal distributions on real text in ../shared/corpora to set preset thresholds.

Run: .venv/bin/python bench/quality_thresholds.py  (writes bench/results/quality_thresholds.md)

Corpora (all real, none written by this project):
  zh news   SOHU passages (sohu-sts/SOHU, sentence1+sentence2, deduplicated, >= 200 chars); the
            dataset flattened newlines into runs of spaces, so runs of >= 2 spaces are turned back
            into line breaks before scoring;
  zh poems  Tang poems (chinese-poetry/全唐诗, first 5 files), one line per verse line;
  yue       Cantonese Common Voice sentences, joined 8 to a document;
  en, ja    lingua-sentences, joined 8 to a document.
Printed: percentiles of every numeric signal per corpus. Presets take the 1st (for min-type
thresholds) or 99th (max-type) percentile of the zh news passages, rounded outward, so a preset
drops about 1% of clean news text per signal, and checks the others for collateral drops.
"""

from __future__ import annotations

import json
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from collections import Counter

import numpy as np
import pyarrow as pa
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quality.signals import score_all_signals  # noqa: E402
from transforms.ops import OpStats  # noqa: E402
from transforms.registry import get_op_class  # noqa: E402
from transforms.schema import docs_from_pylist  # noqa: E402

CORPORA = ROOT.parent / "shared" / "corpora"
QS = (1, 5, 50, 95, 99)


def sohu_passages(min_chars: int = 200) -> list[str]:
    """Return deduplicated SOHU passages with their paragraph breaks restored."""
    seen: dict[str, None] = {}
    for name in ("dc-test.jsonl", "dd-test.jsonl"):
        for line in (CORPORA / "sohu-sts" / "SOHU" / name).read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            for key in ("sentence1", "sentence2"):
                text = re.sub(r" {2,}", "\n", rec[key]).strip()
                if len(text) >= min_chars:
                    seen.setdefault(text, None)
    return list(seen)


def tang_poems(files: int = 5) -> list[str]:
    out = []
    for path in sorted((CORPORA / "chinese-poetry" / "全唐诗").glob("poet.tang.*.json"))[:files]:
        out += ["\n".join(p["paragraphs"]) for p in json.loads(path.read_text(encoding="utf-8"))]
    return out


def joined_lines(lines: list[str], k: int = 8) -> list[str]:
    return ["\n".join(lines[i : i + k]) for i in range(0, len(lines) - k + 1, k)]


def corpora() -> dict[str, tuple[list[str], str]]:
    yue = json.loads((CORPORA / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))
    lingua = CORPORA / "lingua-sentences"
    return {
        "zh news (SOHU)": (sohu_passages(), "zh"),
        "zh poems (Tang)": (tang_poems(), "zh"),
        "yue (Common Voice)": (joined_lines([s if isinstance(s, str) else str(s) for s in yue][:4000]), "yue"),
        "en (lingua)": (joined_lines((lingua / "en.txt").read_text(encoding="utf-8").splitlines()), "en"),
        "ja (lingua)": (joined_lines((lingua / "ja.txt").read_text(encoding="utf-8").splitlines()), "ja"),
    }


def score(texts: list[str], lang: str) -> pa.Table:
    rows = [dict(id=str(i), text=t, source="m", source_uri="m", raw_sha256="m", lang=lang) for i, t in enumerate(texts)]
    return score_all_signals(docs_from_pylist(rows))


def preset_ops(preset: str) -> list:
    """Instantiate a preset's ops through the registry, as a recipe would."""
    spec = yaml.safe_load((ROOT / "configs" / "recipes" / "presets" / f"{preset}.yaml").read_text(encoding="utf-8"))
    return [get_op_class(step["op"])(**{k: v for k, v in step.items() if k != "op"}) for step in spec["ops"]]


def apply_preset(preset: str, texts: list[str], lang: str) -> tuple[int, Counter]:
    """Return (kept rows, drops per reason) of a preset on the texts."""
    rows = [dict(id=str(i), text=t, source="m", source_uri="m", raw_sha256="m", lang=lang) for i, t in enumerate(texts)]
    batch, stats = docs_from_pylist(rows), OpStats()
    for op in preset_ops(preset):
        batch = op.apply(batch, stats)
    reasons = Counter({k.split(":", 1)[1]: v for k, v in stats.counts.items() if k.startswith("dropped:")})
    return batch.num_rows - sum(reasons.values()), reasons


def main() -> None:
    out = [
        "# Quality-signal distributions on real text (threshold measurements)",
        "",
        f"Command: `.venv/bin/python bench/quality_thresholds.py`; {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; "
        f"{platform.machine()}, Python {platform.python_version()}.",
        "",
    ]
    for name, (texts, lang) in corpora().items():
        table = score(texts, lang)
        out += [f"## {name}: {len(texts)} documents", "", "| signal | " + " | ".join(f"p{q}" for q in QS) + " |",
                "|---|" + "---:|" * len(QS)]
        for col in table.column_names:
            if not col.startswith("signal_") or col == "signal_ngram_unit":
                continue
            vals = np.array([float(v) for v in table.column(col).to_pylist() if v is not None])
            if vals.size == 0:
                continue
            out.append(f"| {col} | " + " | ".join(f"{np.percentile(vals, q):.3f}" for q in QS) + " |")
        out.append("")
    out += ["## What each preset drops", "", "| corpus | preset | kept | top drop reasons |", "|---|---|---:|---|"]
    for name, (texts, lang) in corpora().items():
        for preset in ("zh_web", "zh_longform", "en_web"):
            kept, reasons = apply_preset(preset, texts, lang)
            top = ", ".join(f"{r} {n}" for r, n in reasons.most_common(4))
            out.append(f"| {name} | {preset} | {kept}/{len(texts)} ({kept / len(texts):.1%}) | {top} |")
    out.append("")
    text = "\n".join(out)
    print(text)
    (ROOT / "bench" / "results" / "quality_thresholds.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

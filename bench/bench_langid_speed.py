"""Benchmark: identify_language's throughput per script, before/after a change and against langdetect, in one run.

Run (after scripts/build_langid_eval.py, which downloads the manual pages):

    .venv/bin/python bench/bench_langid_speed.py --before /path/to/older/checkout --out bench/results/langid_speed.md

Issue 24: the cost of language identification must not depend on the script mix. Groups:

* documents: whole manual pages (troff stripped) from Debian packages: 14 Latin-script European
  languages and ru/uk (manpages-l10n), English (manpages), Chinese (manpages-zh, zh_CN and zh_TW),
  Japanese (manpages-ja);
* lines: lingua sentences (../shared/corpora/lingua-sentences), grouped by script.

For every group, in this order and on the same texts: langdetect alone (seed 0, on a random
--langdetect-max of them: it is slow), identify_texts of the --before checkout and of this checkout,
each in a fresh interpreter (models loaded before the clock starts), batches of 1,024 texts as the
operator sees them, fastest of --rounds runs. Load averages are recorded next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared")) / "corpora"
CACHE = ROOT / ".yuliao" / "langid-eval"
BATCH = 1024
LATIN_L10N = ("de", "fr", "es", "it", "pl", "nl", "pt", "cs", "da", "fi", "hu", "ro", "sv", "vi")
CYRILLIC_L10N = ("ru", "uk")
CJK_LINGUA = ("zh", "ja", "ko")
OTHER_SCRIPT_LINGUA = ("ar", "be", "bg", "bn", "el", "fa", "gu", "he", "hi", "hy", "ka", "kk", "mk", "mn", "mr", "pa",
                       "ru", "sr", "ta", "te", "th", "uk", "ur")


def man_documents(pages_per_label: int) -> dict[str, list[str]]:
    """Return whole manual pages per group (needs the packages scripts/build_langid_eval.py unpacked)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT))
    from build_langid_eval import MAN_L10N, man_pages  # noqa: PLC0415

    tree = CACHE / "x"
    by_label: dict[str, list[str]] = {}
    for pkg in (*MAN_L10N, "manpages", "manpages-ja", "manpages-zh"):
        if not (tree / pkg).is_dir():
            raise SystemExit(f"{tree / pkg} missing: run scripts/build_langid_eval.py first")
        for label, text in man_pages(tree, pkg):
            by_label.setdefault(label, []).append(text)
    pick = {}
    for label, texts in by_label.items():
        random.Random(label).shuffle(texts)
        pick[label] = texts[:pages_per_label]
    return {
        "docs: Latin, 14 European languages (manpages-l10n)": [t for lab in LATIN_L10N for t in pick.get(lab, [])],
        "docs: Cyrillic, ru + uk (manpages-l10n)": [t for lab in CYRILLIC_L10N for t in pick.get(lab, [])],
        "docs: English (manpages)": pick["en"],
        "docs: Chinese, zh_CN + zh_TW (manpages-zh)": pick.get("zh-Hans", []) + pick.get("zh-Hant", []),
        "docs: Japanese (manpages-ja)": pick["ja"],
    }


def lingua_lines(per_language: int) -> dict[str, list[str]]:
    """Return lingua sentences per script group."""
    folder = SHARED / "lingua-sentences"
    langs = sorted(p.stem for p in folder.glob("*.txt") if p.stem != "LICENSE")
    lines = {lang: [x.strip() for x in (folder / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if x.strip()]
             [:per_language] for lang in langs}
    latin = [lang for lang in langs if lang not in CJK_LINGUA and lang not in OTHER_SCRIPT_LINGUA]
    return {
        f"lines: Latin script, {len(latin)} languages (lingua)": [t for lang in latin for t in lines[lang]],
        f"lines: other non-CJK scripts, {len(OTHER_SCRIPT_LINGUA)} languages (lingua)":
            [t for lang in OTHER_SCRIPT_LINGUA for t in lines.get(lang, [])],
        "lines: Chinese (lingua zh)": lines["zh"],
        "lines: Japanese (lingua ja)": lines["ja"],
        "lines: Korean (lingua ko)": lines["ko"],
    }


def worker(src: str, texts_file: str, rounds: int) -> None:
    """Time identify_texts of the checkout at `src` on the texts in `texts_file`; print JSON."""
    sys.path.insert(0, src)
    from transforms.langid import identify_texts  # noqa: PLC0415

    texts = json.loads(Path(texts_file).read_text(encoding="utf-8"))
    identify_texts(["warm up 你好 こんにちは 안녕 Привет", *texts[:50]])  # load every model before timing
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            identify_texts(texts[i:i + BATCH])
        best = min(best, time.perf_counter() - t0)
    import transforms.langid as mod  # noqa: PLC0415

    print(json.dumps({"seconds": best, "module": mod.__file__}))


def time_checkout(src: Path, texts_file: str, rounds: int) -> float:
    """Return the fastest seconds of `src`'s identify_texts over the texts (fresh interpreter)."""
    out = subprocess.run([sys.executable, __file__, "--worker", str(src), "--texts", texts_file, "--rounds", str(rounds)],
                         check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(src)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["module"].startswith(str(src)):
        raise SystemExit(f"{src}: imported {result['module']} instead")
    return result["seconds"]


def time_langdetect(texts: list[str], rounds: int) -> float:
    """Return the fastest seconds of `rounds` runs of langdetect (seeded, as the `langdetect` backend) over `texts`."""
    sys.path.insert(0, str(ROOT))
    from transforms.langid import langdetect_probabilities  # noqa: PLC0415

    langdetect_probabilities("warm up")
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for t in texts:
            langdetect_probabilities(t)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, default=None, help="an older checkout to time side by side (e.g. main)")
    ap.add_argument("--pages", type=int, default=40, help="manual pages per language")
    ap.add_argument("--lines", type=int, default=200, help="lingua sentences per language")
    ap.add_argument("--langdetect-max", type=int, default=150, help="texts per group langdetect is timed on")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--texts", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.texts, args.rounds)
        return
    groups = {**man_documents(args.pages), **lingua_lines(args.lines)}
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, texts in groups.items():
            if not texts:
                continue
            path = Path(tmp) / "texts.json"
            path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
            sample = random.Random(0).sample(texts, min(args.langdetect_max, len(texts)))  # across the group's languages
            ld = time_langdetect(sample, args.rounds) / len(sample) * len(texts)  # langdetect's time for all texts, extrapolated
            before = time_checkout(args.before, str(path), args.rounds) if args.before else None
            after = time_checkout(ROOT, str(path), args.rounds)
            chars = sum(map(len, texts))
            rows.append((name, len(texts), chars / len(texts), ld, before, after, chars))
            print(name, len(texts), f"langdetect {len(texts) / ld:,.0f}/s", f"before {len(texts) / before:,.0f}/s" if before else "",
                  f"after {len(texts) / after:,.0f}/s", flush=True)
    load_after = os.getloadavg()
    head = "| group | texts | mean chars | langdetect texts/s | before texts/s | after texts/s | after MB-chars/s | after / before | after / langdetect |"
    lines = [
        "# Language identification throughput per script (issue 24)", "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores shared "
        f"with other sessions; load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} before, "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} after; Python {platform.python_version()}",
        f"- command: `.venv/bin/python bench/bench_langid_speed.py{' --before ' + str(args.before) if args.before else ''} "
        f"--pages {args.pages} --lines {args.lines} --langdetect-max {args.langdetect_max} --rounds {args.rounds}`",
        "- before = identify_texts of the --before checkout, after = this checkout; each in its own interpreter, models "
        "loaded before the clock, batches of 1,024, fastest of the rounds; langdetect (seed 0, fastest of the rounds too) timed on a random "
        f"{args.langdetect_max} texts of each group and scaled to the group (it reads up to 10,000 characters a text).",
        "- one core per measurement; texts/s on a shared machine move with the load, ratios less so.", "",
        head, "|---" * 9 + "|",
    ]
    for name, n, mean_chars, ld, before, after, chars in rows:
        lines.append(f"| {name} | {n} | {mean_chars:,.0f} | {n / ld:,.0f} | {f'{n / before:,.0f}' if before else '-'} | "
                     f"{n / after:,.0f} | {chars / after / 1e6:.2f} | {f'{before / after:.1f}x' if before else '-'} | "
                     f"**{ld / after:.0f}x** |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

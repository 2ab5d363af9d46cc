"""Derive the small bundled sample corpus (data/sample/) from ../shared/corpora, deterministically.

Run from the repo root: `python scripts/make_sample.py [--shared ../shared]`. The output is
committed so a fresh clone needs nothing else; this script documents exactly how it was made.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from pathlib import Path

OUT = Path("data/sample")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    args = ap.parse_args()
    corp = Path(args.shared) / "corpora"
    rng = random.Random(20261126)
    OUT.mkdir(parents=True, exist_ok=True)

    # Tang poems (Traditional): two files of 全唐诗, which contain exact-duplicate bodies filed
    # under several authors, plus the same poems from the independent 御定全唐詩 digitisation.
    tang = []
    for name in ("poet.tang.0.json", "poet.tang.1000.json"):
        tang += json.loads((corp / "chinese-poetry/全唐诗" / name).read_text(encoding="utf-8"))
    write_jsonl(OUT / "tang_poems.jsonl", [
        {"text": "\n".join(p["paragraphs"]), "author": p["author"], "title": p["title"], "poem_id": p["id"]} for p in tang])

    # The same opening volumes from the second digitisation (御定全唐詩): near-duplicates of the
    # first file above, differing in variant characters and punctuation.
    yd = []
    for name in ("001.json", "002.json", "003.json"):
        yd += json.loads((corp / "chinese-poetry/御定全唐詩/json" / name).read_text(encoding="utf-8"))
    write_jsonl(OUT / "yuding_tang.jsonl", [
        {"text": "\n".join(p["paragraphs"]), "author": p["author"], "title": p["title"], "volume": p.get("volume")} for p in yd])

    # Song ci (Simplified).
    ci = json.loads((corp / "chinese-poetry/宋词/ci.song.0.json").read_text(encoding="utf-8"))
    write_jsonl(OUT / "song_ci.jsonl", [{"text": "\n".join(c["paragraphs"]), "author": c["author"], "rhythmic": c["rhythmic"]} for c in ci[:800]])

    # Written Cantonese sentences.
    sents = json.loads((corp / "cantonese-common-voice/sents.json").read_text(encoding="utf-8"))
    write_jsonl(OUT / "cantonese.jsonl", [{"text": s} for s in rng.sample(sents, 1000)])

    # One-sentence documents in several languages.
    rows = []
    for lang in ("zh", "en", "ja", "ko", "de", "ru"):
        lines = [l for l in (corp / "lingua-sentences" / f"{lang}.txt").read_text(encoding="utf-8").splitlines() if l.strip()]
        rows += [{"text": l, "label_lang": lang} for l in lines[:300]]
    write_jsonl(OUT / "sentences.jsonl", rows)

    # Chinese news passages (Sohu), first sentence of each pair.
    news = []
    for name in ("dc-test.jsonl",):
        for line in (corp / "sohu-sts/SOHU" / name).read_text(encoding="utf-8").splitlines()[:400]:
            rec = json.loads(line)
            news.append({"text": rec["sentence1"], "sohu_label": rec.get("label")})
    write_jsonl(OUT / "sohu_news.jsonl", news)

    # A deliberately damaged export: shows what quarantine looks like in the demo.
    (OUT / "damaged_export.jsonl").write_text(
        '{"text": "這一行是完好的記錄，會被保留。"}\n'
        '{"text": "这一行缺少右括号", \n'
        '{"body": "没有 text 字段的记录"}\n'
        '{"text": "最後一行也是完好的，損壞的行不會影響它。"}\n', encoding="utf-8")

    for src, dst in (("chinese-poetry/LICENSE", "LICENSE.chinese-poetry"), ("lingua-sentences/LICENSE.txt", "LICENSE.lingua-sentences"),
                     ("cantonese-common-voice/LICENSE.txt", "LICENSE.cantonese-common-voice"), ("sohu-sts/LICENSE", "LICENSE.sohu-sts")):
        shutil.copyfile(corp / src, OUT / dst)


if __name__ == "__main__":
    main()

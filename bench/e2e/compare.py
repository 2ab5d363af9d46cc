"""e2e bench: yuliao vs datatrove on the same corpus and machine, side by side; prints throughput, memory, ratio, recall, drops.

Runs each side under bench/e2e/measure.py (wall, CPU, peak RSS summed over the process tree), one
after the other, then scores both outputs against the corpus labels:
  .venv/bin/python bench/e2e/compare.py --tag full                       # whole corpus, both sides
  .venv/bin/python bench/e2e/compare.py --tag slice4 --slice 4         # a 1/4 slice, labelled pairs kept whole
  .venv/bin/python bench/e2e/compare.py --tag full --skip-run            # re-score existing outputs
Near-dup recall: over labelled pairs whose two documents both reached the dedup step (survived LID
and quality filtering on that side), the share that no longer has both documents in the output.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = REPO / "bench" / "out" / "e2e"
DT_PY = REPO / "bench" / ".venv-datatrove" / "bin" / "python"
CHINESE = ("zh-Hans", "zh-Hant", "yue")


def make_slice(corpus: Path, dest: Path, one_in: int) -> list[str]:
    """Deterministic 1/one_in slice that keeps labelled pairs whole: a document is in when a hash of its
    dup_group (or its id) falls in bucket 0; shard files and row order are kept."""
    import hashlib
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sorted(corpus.glob("part-*.jsonl")):
        target = dest / f.name
        with open(f, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as dst:
            for line in src:
                rec = json.loads(line)
                key = rec["dup_group"] or rec["id"]
                if int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % one_in == 0:
                    dst.write(line)
        out.append(str(target))
    return out


def run_side(tool: str, inputs: list[str], tag: str, profile: bool) -> dict:
    out = OUT / f"{tool}-{tag}"
    meas = OUT / "measure" / f"{tool}-{tag}.json"
    meas.parent.mkdir(parents=True, exist_ok=True)
    if tool == "yuliao":
        cmd = [sys.executable, str(HERE / "run_yuliao.py"), "--out", str(out)] + (["--profile"] if profile else [])
    else:
        cmd = [str(DT_PY), str(HERE / "run_datatrove.py"), "--out", str(out)]
    for i in inputs:
        cmd += ["--input", i]
    subprocess.run([sys.executable, str(HERE / "measure.py"), str(meas), "--"] + cmd, cwd=REPO, check=True)
    return json.loads(meas.read_text())


def read_truth(files: list[str]) -> tuple[dict[str, str], int]:
    """Original id -> language label for every input document; total JSONL bytes."""
    truth, size = {}, 0
    for f in files:
        size += os.path.getsize(f)
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                truth[rec["id"]] = rec["lang_truth"]
    return truth, size


def yuliao_sets(out: Path) -> tuple[set[str], set[str], Counter]:
    """(ids that reached dedup_near, ids kept, drop reasons) from a yuliao run, by original corpus id."""
    run = out / "ws" / "runs" / "e2e"
    kept, entered, reasons = set(), set(), Counter()
    for f in sorted((run / "kept").glob("*.parquet")):
        for m in pq.read_table(f, columns=["meta"]).column("meta").to_pylist():
            kept.add(json.loads(m)["id"])
    for f in sorted((run / "dropped").glob("*.parquet")):
        t = pq.read_table(f, columns=["meta", "dropped_by", "drop_reason"]).to_pydict()
        for m, by, why in zip(t["meta"], t["dropped_by"], t["drop_reason"]):
            if by and by.startswith("dedup_near"):
                entered.add(json.loads(m)["id"])
            reasons[why] += 1
    return entered | kept, kept, reasons


def datatrove_sets(out: Path) -> tuple[set[str], set[str], Counter]:
    """(ids written after LID + Gopher filters, ids in the final Parquet, filter drop reasons from the stage logs)."""
    entered = set()
    for f in sorted((out / "filtered").glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            entered.update(json.loads(line)["id"] for line in fh)
    kept = set()
    for f in sorted((out / "parquet").glob("*.parquet")):
        kept.update(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    reasons: Counter = Counter()
    stats = out / "logs" / "1" / "stats.json"
    if stats.exists():
        for step in json.loads(stats.read_text()):
            for k, v in step.get("stats", {}).items():
                if k.startswith("dropped_"):
                    reasons[k[len("dropped_"):]] += v["total"] if isinstance(v, dict) else v
    reasons["near_duplicate"] = len(entered - kept)
    return entered, kept, reasons


def score(truth: dict[str, str], labels: list[dict], entered: set[str], kept: set[str]) -> dict:
    inputs = set(truth)
    per_lang: dict[str, dict] = {}
    for i, lang in truth.items():
        d = per_lang.setdefault(lang, {"docs": 0, "filtered": 0, "dedup_removed": 0, "kept": 0})
        d["docs"] += 1
        d["filtered"] += i not in entered
        d["dedup_removed"] += i in entered and i not in kept
        d["kept"] += i in kept
    recall: dict[str, list[int]] = {}
    for lab in labels:
        a, b = lab["ids"]
        if a not in inputs or b not in inputs:
            continue
        key = f"{lab['kind']}:{lab['lang']}"
        if lab["kind"] == "natural":  # two editions: many pairs differ by far more than a repost does
            key += " (ref J>=0.7)" if lab["ref_jaccard"] >= 0.7 else " (ref J<0.7)"
        r = recall.setdefault(key, [0, 0, 0])  # pairs in input, pairs that reached dedup, pairs caught
        r[0] += 1
        if a in entered and b in entered:
            r[1] += 1
            # caught when the pair is no longer both in the output; both gone happens when a third,
            # kept document is a duplicate of both (exact copies inside the Debian packages)
            r[2] += not (a in kept and b in kept)
    labelled = {i for lab in labels for i in lab["ids"]}
    unlabelled_removed = sum(1 for i in entered - kept if i not in labelled)
    zh = [per_lang[l] for l in CHINESE if l in per_lang]
    zh_drop = sum(d["filtered"] for d in zh) / max(1, sum(d["docs"] for d in zh))
    return {"per_lang": per_lang, "recall": recall, "unlabelled_dedup_removed": unlabelled_removed,
            "chinese_filter_drop_rate": zh_drop}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="full")
    ap.add_argument("--input", action="append", default=None)
    ap.add_argument("--slice", type=int, default=None, help="run on a 1/N slice of the corpus (pairs kept whole)")
    ap.add_argument("--only", choices=["yuliao", "datatrove"], default=None)
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy the yuliao side (adds sampling overhead)")
    args = ap.parse_args()
    inputs = args.input or [str(OUT / "corpus" / "part-*.jsonl")]
    if args.slice:
        inputs = make_slice(OUT / "corpus", OUT / f"slice-1-in-{args.slice}", args.slice)
    files = sorted({f for g in inputs for f in glob.glob(g)})
    truth, size = read_truth(files)
    labels = [json.loads(x) for x in open(OUT / "corpus" / "labels.jsonl", encoding="utf-8")]
    tools = [args.only] if args.only else ["datatrove", "yuliao"]
    res: dict[str, dict] = {}
    for tool in tools:
        meas = run_side(tool, files, args.tag, args.profile) if not args.skip_run else \
            json.loads((OUT / "measure" / f"{tool}-{args.tag}.json").read_text())
        out = OUT / f"{tool}-{args.tag}"
        entered, kept, reasons = (yuliao_sets if tool == "yuliao" else datatrove_sets)(out)
        stats = json.loads((out / "stats.json").read_text())
        res[tool] = {"measure": meas, "stats": stats, "reasons": dict(reasons.most_common()),
                     **score(truth, labels, entered, kept)}
    docs, mb = len(truth), size / 1e6
    print(f"\n## e2e ({args.tag}): {len(files)} shard(s), {docs} docs, {mb:.1f} MB JSONL, 2 workers\n")
    print("| tool | wall s | docs/s | MB/s | CPU s | peak RSS MB (tree) | load avg before/after | Chinese filter drop | kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    for tool, r in res.items():
        m = r["measure"]
        kept_n = sum(d["kept"] for d in r["per_lang"].values())
        print(f"| {tool} | {m['wall_s']:.1f} | {docs / m['wall_s']:.1f} | {mb / m['wall_s']:.2f} | {max(m['cpu_s'], m['cpu_s_sampled']):.0f} | "
              f"{m['peak_rss_mb']:.0f} | {m['load_before']:.1f} / {m['load_after']:.1f} | "
              f"{100 * r['chinese_filter_drop_rate']:.1f}% | {kept_n} |")
    if len(res) == 2:
        ratio = res["datatrove"]["measure"]["wall_s"] / res["yuliao"]["measure"]["wall_s"]
        print(f"\n**yuliao / datatrove end-to-end throughput: {ratio:.2f}x** (target >= 10x)")
    print("\n### per language: docs in -> dropped by LID/quality -> removed as near-dup -> kept\n")
    print("| lang | docs | " + " | ".join(f"{t} filtered | {t} dedup | {t} kept" for t in res) + " |")
    print("|---|---|" + "---|---|---|" * len(res))
    for lang in sorted(truth and {l for l in truth.values()}):
        row = [f"{lang}", str(next(iter(res.values()))["per_lang"][lang]["docs"])]
        for t, r in res.items():
            d = r["per_lang"][lang]
            row += [f"{d['filtered']} ({100 * d['filtered'] / d['docs']:.1f}%)", str(d["dedup_removed"]), str(d["kept"])]
        print("| " + " | ".join(row) + " |")
    print("\n### near-dup recall (pairs caught / pairs whose both documents reached dedup; pairs in input)\n")
    print("| pairs | " + " | ".join(f"{t} recall | {t} reached" for t in res) + " |")
    print("|---|" + "---|---|" * len(res))
    for key in sorted({k for r in res.values() for k in r["recall"]}):
        row = [key]
        for t, r in res.items():
            n, reached, hit = r["recall"].get(key, [0, 0, 0])
            row += [f"{hit / reached:.3f}" if reached else "n/a", f"{reached}/{n}"]
        print("| " + " | ".join(row) + " |")
    print("\nunlabelled documents removed as near-duplicates: " +
          ", ".join(f"{t} {r['unlabelled_dedup_removed']}" for t, r in res.items()))
    for t, r in res.items():
        print(f"\n{t} drop reasons: " + ", ".join(f"{k}={v}" for k, v in list(r["reasons"].items())[:16]))
        if t == "yuliao":
            rec = r["stats"]["run_record"]
            print("yuliao per-op seconds (sum over shards, CPU-bound): " +
                  ", ".join(f"{o['op']}={o['seconds']:.1f}" for o in rec.get("ops", [])) +
                  f"; flow seconds {rec.get('seconds')}")
        else:
            print("datatrove per-stage wall seconds: " + ", ".join(f"{k}={v}" for k, v in r["stats"]["stage_seconds"].items()))
    (OUT / f"compare-{args.tag}.json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()

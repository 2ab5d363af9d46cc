"""Comparison harness: yuliao vs datatrove on ANY JSONL corpus and recipe, back to back; ratios and quality figures.

    .venv/bin/python bench/e2e/compare.py --tag full                                   # the project corpus (bench/out/e2e/corpus)
    .venv/bin/python bench/e2e/compare.py --tag s8 --slice 8                          # a 1/8 slice, truth groups kept whole
    .venv/bin/python bench/e2e/compare.py --tag ml --corpus '.yuliao/multilingual-corpus/part-*.jsonl' \\
        --recipe bench/e2e/recipe_multilingual.yaml --dt-configs default,tuned --dt-keep all
    .venv/bin/python bench/e2e/compare.py --tag ml --skip-run ...                     # re-score existing outputs

Each side runs under bench/e2e/measure.py: wall, CPU and peak RSS and PSS over the whole process tree and
session (datatrove's forkserver workers included), `uptime` before and after. Order: every datatrove
configuration, then yuliao. Ratios are datatrove / yuliao for wall and CPU, yuliao / datatrove for RSS and PSS (PSS splits pages shared between processes, e.g. a fork server's, among them).

Truth is optional and read from the corpus itself:
- language: a per-record field (--lang-field, default `lang_truth`) -> drop rate per language at the
  LID + quality stage (documents that never reached near-dedup);
- duplicates: a labels file (--labels, default `labels.jsonl` beside the shards: {ids: [a, b], kind,
  ref_jaccard}) or, without one, records sharing a `dup_group` value. Pairs of kind "natural" count
  as true duplicates only at ref_jaccard >= --truth-min-jaccard (0.7, the tools' threshold).
  Removal precision: of the documents a tool removed as near-duplicates, the share that has a true
  duplicate (transitively, through truth pairs) among the documents that reached its dedup step.
  Recall: of the truth pairs whose two documents both reached dedup, the share not both kept.
Without truth the harness prints the measurement table and the per-tool counts only.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = REPO / "bench" / "out" / "e2e"
DT_PY = REPO / "bench" / ".venv-datatrove" / "bin" / "python"
CJK_EN = {"en", "zh", "zh-Hans", "zh-Hant", "yue", "ja"}


# ------------------------------------------------------------------ corpus and truth
def expand(globs: list[str]) -> list[str]:
    return sorted({f for g in globs for f in glob.glob(g)})


def make_slice(files: list[str], dest: Path, one_in: int, id_field: str) -> list[str]:
    """Deterministic 1/one_in slice that keeps truth groups whole (hash of dup_group, else of the id)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        target = dest / Path(f).name
        with open(f, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as dst:
            for line in src:
                rec = json.loads(line)
                key = rec.get("dup_group") or str(rec[id_field])
                if int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) % one_in == 0:
                    dst.write(line)
        out.append(str(target))
    return out


def read_corpus(files: list[str], id_field: str, lang_field: str) -> tuple[dict[str, str | None], dict[str, str], int]:
    """(id -> language truth or None, id -> dup_group for grouped records, total JSONL bytes)."""
    langs, groups, size = {}, {}, 0
    for f in files:
        size += Path(f).stat().st_size
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                i = str(rec[id_field])
                langs[i] = rec.get(lang_field)
                if rec.get("dup_group"):
                    groups[i] = rec["dup_group"]
    return langs, groups, size


def truth_pairs(labels_path: Path | None, groups: dict[str, str], inputs: set[str], min_j: float) -> list[dict]:
    """Truth pairs inside the input: from labels.jsonl when present, else every dup_group member paired with its first."""
    pairs = []
    if labels_path and labels_path.exists():
        for line in open(labels_path, encoding="utf-8"):
            lab = json.loads(line)
            a, b = (str(x) for x in lab["ids"])
            if a in inputs and b in inputs and (lab.get("kind") != "natural" or lab.get("ref_jaccard", 1.0) >= min_j):
                pairs.append({"ids": (a, b), "kind": lab.get("kind", "pair"), "lang": lab.get("lang", "?"),
                              "ref_jaccard": lab.get("ref_jaccard")})
        return pairs
    members: dict[str, list[str]] = defaultdict(list)
    for i, g in groups.items():
        members[g].append(i)
    for g, ids in members.items():
        pairs += [{"ids": (ids[0], x), "kind": "group", "lang": "?", "ref_jaccard": None} for x in ids[1:]]
    return pairs


def clusters(pairs: list[dict]) -> dict[str, int]:
    """id -> truth cluster number (union-find over the pairs)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        a, b = p["ids"]
        parent[find(a)] = find(b)
    roots: dict[str, int] = {}
    return {x: roots.setdefault(find(x), len(roots)) for x in list(parent)}


# ------------------------------------------------------------------ running
def resident_api_pid() -> int:
    """Start (or find) the resident Prefect API that `yuliao run` reports to by default; return its pid.

    It runs in its own session, outside the measured tree, and outlives runs, as it does for users
    (its start-up is paid once per session of work, not per run); the measure attaches it, so its
    CPU during the run and its memory count on yuliao's side.
    """
    code = ("import json; from flows.server.resident_api import resident_api_url, read_state, state_dir; "
            "resident_api_url(); print(json.dumps(read_state(state_dir())))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    return int(json.loads(done.stdout.strip().splitlines()[-1])["pid"])


def run_side(tool: str, config: str, inputs: list[str], tag: str, args: argparse.Namespace) -> dict:
    out = OUT / f"{tool}-{config}-{tag}" if tool == "datatrove" else OUT / f"yuliao-{tag}"
    meas = OUT / "measure" / f"{out.name}.json"
    meas.parent.mkdir(parents=True, exist_ok=True)
    attach: list[str] = []
    if tool == "yuliao":
        cmd = [sys.executable, str(HERE / "run_yuliao.py"), "--out", str(out), "--recipe", args.recipe,
               "--workers", str(args.workers), "--runner", args.runner, "--prefect-api", args.prefect_api] + (["--profile"] if args.profile else [])
        if args.prefect_api == "resident":
            attach = ["--attach", str(resident_api_pid())]
    else:
        cmd = [str(DT_PY), str(HERE / "run_datatrove.py"), "--out", str(out), "--config", config,
               "--workers", str(args.workers)] + (["--keep", args.dt_keep] if args.dt_keep else [])
    for i in inputs:
        cmd += ["--input", i]
    print(f"[compare] {out.name}: {' '.join(cmd[1:3])} ...", flush=True)
    subprocess.run([sys.executable, str(HERE / "measure.py"), str(meas), *attach, "--"] + cmd, cwd=REPO, check=True)
    return json.loads(meas.read_text())


def yuliao_sets(out: Path, id_field: str) -> tuple[set[str], set[str], Counter]:
    """(ids that reached dedup_near, ids kept, drop reasons) from a yuliao run, by original corpus id."""
    run = out / "ws" / "runs" / "e2e"
    kept, entered, reasons = set(), set(), Counter()
    for f in sorted((run / "kept").glob("*.parquet")):
        for m in pq.read_table(f, columns=["meta"]).column("meta").to_pylist():
            kept.add(str(json.loads(m)[id_field]))
    for f in sorted((run / "dropped").glob("*.parquet")):
        t = pq.read_table(f, columns=["meta", "dropped_by", "drop_reason"]).to_pydict()
        for m, by, why in zip(t["meta"], t["dropped_by"], t["drop_reason"]):
            if by and by.startswith("dedup_near"):
                entered.add(str(json.loads(m)[id_field]))
            reasons[why] += 1
    return entered | kept, kept, reasons


def datatrove_sets(out: Path, id_field: str) -> tuple[set[str], set[str], Counter]:
    """(ids written after LID + Gopher filters, ids in the final Parquet, filter drop reasons from the stage logs)."""
    entered = set()
    for f in sorted((out / "filtered").glob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            entered.update(str(json.loads(line)["id"]) for line in fh)
    kept = set()
    for f in sorted((out / "parquet").glob("*.parquet")):
        kept.update(str(x) for x in pq.read_table(f, columns=["id"]).column("id").to_pylist())
    reasons: Counter = Counter()
    stats = out / "logs" / "1" / "stats.json"
    if stats.exists():
        for step in json.loads(stats.read_text()):
            for k, v in step.get("stats", {}).items():
                if k.startswith("dropped_"):
                    reasons[k[len("dropped_"):]] += v["total"] if isinstance(v, dict) else v
    reasons["near_duplicate"] = len(entered - kept)
    return entered, kept, reasons


# ------------------------------------------------------------------ scoring
def score(langs: dict[str, str | None], pairs: list[dict], entered: set[str], kept: set[str]) -> dict:
    """Per-language drops, removal precision/recall against the truth pairs (see module doc)."""
    per_lang: dict[str, dict] = {}
    for i, lang in langs.items():
        d = per_lang.setdefault(str(lang), {"docs": 0, "filtered": 0, "dedup_removed": 0, "kept": 0})
        d["docs"] += 1
        d["filtered"] += i not in entered
        d["dedup_removed"] += i in entered and i not in kept
        d["kept"] += i in kept
    res: dict = {"per_lang": per_lang, "removed": len(entered - kept)}
    if not pairs:
        return res
    cl = clusters(pairs)
    reached_per_cluster = Counter(cl[i] for i in entered if i in cl)
    removed = entered - kept
    good = {i for i in removed if i in cl and reached_per_cluster[cl[i]] >= 2}
    groups = {"en/zh/ja": lambda l: l in CJK_EN, "other languages": lambda l: l not in CJK_EN}
    prec = {"all": (len(good), len(removed))}
    for name, test in groups.items():
        rem = {i for i in removed if test(str(langs.get(i)))}
        prec[name] = (len(rem & good), len(rem))
    rec: dict[str, list[int]] = {}
    for p in pairs:
        a, b = p["ids"]
        hard = p["kind"] == "injected" and p["ref_jaccard"] is not None and p["ref_jaccard"] < 0.7
        keys = ["all", p["kind"], "injected ref J<0.7" if hard else "ref J>=0.7"] + (["en/zh/ja" if p["lang"] in CJK_EN else "other languages"] if p["lang"] != "?" else [])
        for key in keys:
            r = rec.setdefault(key, [0, 0, 0])  # pairs in input, both reached dedup, caught
            r[0] += 1
            if a in entered and b in entered:
                r[1] += 1
                r[2] += not (a in kept and b in kept)
    res.update(precision=prec, recall=rec, false_removals_by_lang=dict(Counter(str(langs.get(i)) for i in removed - good).most_common(12)))
    return res


# ------------------------------------------------------------------ report
def fmt_ratio(x: float) -> str:
    return f"{x:.2f}×"


def report(res: dict, docs: int, mb: float, tag: str, files: list[str], has_lang: bool, has_pairs: bool, n_pairs: int) -> str:
    L = [f"\n## {tag}: {len(files)} shard(s), {docs} docs, {mb:.1f} MB JSONL, truth pairs {n_pairs}\n",
         "| run | wall s | CPU s (tree) | peak RSS MB (tree) | peak PSS MB (tree) | procs | docs/s | kept | removed as near-dup | uptime before → after (1-min load) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in res.items():
        m = r["measure"]
        kept = sum(d["kept"] for d in r["per_lang"].values())
        L.append(f"| {name} | {m['wall_s']:.1f} | {m['cpu_s']:.0f} | {m['peak_rss_mb']:.0f} | {m.get('peak_pss_mb', float('nan')):.0f} | {m['max_procs']} | {docs / m['wall_s']:.0f} | "
                 f"{kept} | {r['removed']} | {m['load_before']:.2f} → {m['load_after']:.2f} |")
    y = res.get("yuliao")
    if y:
        L += ["", "| datatrove config / yuliao | wall ratio | CPU ratio (tree) | yuliao RSS / datatrove RSS | yuliao PSS / datatrove PSS |",
              "|---|---|---|---|---|"]
        for name, r in res.items():
            if name != "yuliao":
                L.append(f"| {name} | **{fmt_ratio(r['measure']['wall_s'] / y['measure']['wall_s'])}** | "
                         f"**{fmt_ratio(r['measure']['cpu_s'] / y['measure']['cpu_s'])}** | "
                         f"{fmt_ratio(y['measure']['peak_rss_mb'] / r['measure']['peak_rss_mb'])} | "
                         f"{fmt_ratio(y['measure'].get('peak_pss_mb', float('nan')) / r['measure'].get('peak_pss_mb', float('nan')))} |")
    if has_pairs:
        L += ["", "### near-duplicate removals against the truth", "",
              "| run | precision (all) | precision en/zh/ja | precision other | recall (all) | recall ref J ≥ 0.7 | recall injected | recall natural | recall injected J < 0.7 | pairs reached dedup |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in res.items():
            p, rc = r["precision"], r["recall"]

            def pr(k: str) -> str:
                g, n = p.get(k, (0, 0))
                return f"{g / n:.3f} ({g}/{n})" if n else "n/a"

            def rr(k: str) -> str:
                _, reached, hit = rc.get(k, [0, 0, 0])
                return f"{hit / reached:.3f}" if reached else "n/a"
            L.append(f"| {name} | {pr('all')} | {pr('en/zh/ja')} | {pr('other languages')} | {rr('all')} | {rr('ref J>=0.7')} | {rr('injected')} | "
                     f"{rr('natural')} | {rr('injected ref J<0.7')} | {rc['all'][1]}/{rc['all'][0]} |")
        for name, r in res.items():
            L.append(f"\n{name}: false removals by language: " + ", ".join(f"{k} {v}" for k, v in r["false_removals_by_lang"].items()))
    if has_lang:
        L += ["", "### dropped at LID + quality (share of each language's documents)", "",
              "| lang | docs | " + " | ".join(res) + " |", "|---|---|" + "---|" * len(res)]
        first = next(iter(res.values()))["per_lang"]
        for lang in sorted(first, key=lambda k: -first[k]["docs"]):
            d0 = first[lang]
            L.append(f"| {lang} | {d0['docs']} | " + " | ".join(
                f"{100 * r['per_lang'][lang]['filtered'] / d0['docs']:.1f}%" for r in res.values()) + " |")
        tot = {n: (sum(d["filtered"] for d in r["per_lang"].values()), sum(d["docs"] for d in r["per_lang"].values())) for n, r in res.items()}
        L.append("| **all** | " + str(next(iter(tot.values()))[1]) + " | " + " | ".join(f"**{100 * f / max(1, n):.1f}%**" for f, n in tot.values()) + " |")
    for name, r in res.items():
        L.append(f"\n{name} drop reasons: " + ", ".join(f"{k}={v}" for k, v in list(r["reasons"].items())[:14]))
        if name == "yuliao":
            rec = r["stats"]["run_record"]
            ops = rec.get("ops", [])
            ops = ops if isinstance(ops, list) else [{"op": k, **v} for k, v in ops.items()]
            L.append("yuliao per-op seconds (sum over shards): " +
                     ", ".join(f"{o['op']}={o['seconds']:.1f}" for o in sorted(ops, key=lambda o: -o["seconds"])) +
                     f"; flow seconds {rec.get('seconds')}")
        else:
            L.append(f"{name} per-stage wall seconds: " + ", ".join(f"{k}={v}" for k, v in r["stats"]["stage_seconds"].items()))
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", default="full")
    ap.add_argument("--corpus", action="append", default=None, help="JSONL files or globs (default: the project e2e corpus)")
    ap.add_argument("--input", action="append", default=None, help="alias of --corpus")
    ap.add_argument("--labels", default=None, help="truth pairs (default: labels.jsonl beside the first shard, if any)")
    ap.add_argument("--recipe", default=str(HERE / "recipe.yaml"))
    ap.add_argument("--id-field", default="id")
    ap.add_argument("--lang-field", default="lang_truth")
    ap.add_argument("--truth-min-jaccard", type=float, default=0.7)
    ap.add_argument("--slice", type=int, default=None, help="run on a 1/N slice (truth groups kept whole)")
    ap.add_argument("--dt-configs", default="cjk", help="comma list of run_datatrove.py --config values (default, cjk, tuned)")
    ap.add_argument("--dt-keep", default=None, help="run_datatrove.py --keep (e.g. all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runner", choices=["process", "thread"], default="process", help="yuliao's task runner")
    ap.add_argument("--only", choices=["yuliao", "datatrove"], default=None)
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--profile", action="store_true", help="py-spy the yuliao side (adds sampling overhead)")
    ap.add_argument("--prefect-api", choices=["per-command", "resident"], default="per-command",
                    help="per-command: the run starts its own Prefect API inside the measured tree (start-up included); "
                         "resident: the CLI's default, a warm API outside the run, attached to the measure (its CPU "
                         "during the run and its memory count)")
    ap.add_argument("--write", default=None, help="append the printed report to this markdown file")
    args = ap.parse_args()
    files = expand(args.corpus or args.input or [str(OUT / "corpus" / "part-*.jsonl")])
    if not files:
        sys.exit("no input files")
    labels_path = Path(args.labels) if args.labels else Path(files[0]).parent / "labels.jsonl"
    if args.slice:
        files = make_slice(files, OUT / f"slice-{args.tag}-1-in-{args.slice}", args.slice, args.id_field)
    langs, groups, size = read_corpus(files, args.id_field, args.lang_field)
    has_lang = any(v is not None for v in langs.values())
    pairs = truth_pairs(labels_path, groups, set(langs), args.truth_min_jaccard)
    runs = ([] if args.only == "yuliao" else [("datatrove", c) for c in args.dt_configs.split(",")]) + \
           ([] if args.only == "datatrove" else [("yuliao", "")])
    res: dict[str, dict] = {}
    for tool, config in runs:
        name = f"datatrove-{config}" if tool == "datatrove" else "yuliao"
        out = OUT / (f"{name}-{args.tag}")
        meas = run_side(tool, config, files, args.tag, args) if not args.skip_run else \
            json.loads((OUT / "measure" / f"{out.name}.json").read_text())
        entered, kept, reasons = (yuliao_sets if tool == "yuliao" else datatrove_sets)(out, args.id_field)
        stats = json.loads((out / "stats.json").read_text())
        res[name] = {"measure": {k: v for k, v in meas.items() if k != "command"}, "stats": stats,
                     "reasons": dict(reasons.most_common()), **score(langs, pairs, entered, kept)}
    text = report(res, len(langs), size / 1e6, args.tag, files, has_lang, bool(pairs), len(pairs))
    print(text)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as fh:
            fh.write(text)
    (OUT / f"compare-{args.tag}.json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()

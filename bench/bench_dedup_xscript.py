"""Cross-script near-duplicates: zh-CN / zh-TW parallel documentation from Debian, tuning vs held-out sources.

Data (rebuilt by this script, nothing large is committed):

* tuning sources  : manpages-zh 1.6.4.0 (zh_CN vs zh_TW man pages; the zh_TW pages are an OpenCC-style
                    localisation of zh_CN) and maint-guide 1.2.53 (Debian New Maintainers' Guide,
                    zh-cn vs zh-tw, human-edited); English distractors from maint-guide (en).
* held-out source : debian-reference 2.100 (Debian Reference, zh-cn vs zh-tw, one section per pair);
                    English distractors from debian-reference-en.
* both            : unrelated Chinese distractors: SOHU news passages (Simplified) and 全唐诗 poems
                    (Traditional) from ../shared/corpora, a different slice per set.

A pair is the same man page or the same DocBook section (same anchor id) in both scripts, both
sides with >= 100 non-space characters. Pairs whose zh-CN or zh-TW side is a same-script
near-duplicate (5-character-shingle Jaccard >= 0.7, exact) of an earlier kept pair are left out, so
every two documents in one cluster that are not a labelled pair are a false positive. One pair in
eight keeps only its zh-CN side and one only its zh-TW side (orphans, unlabelled): merging an orphan
with a sibling section of the same template is a false positive.

Scoring: documents of one output cluster (cluster_id) form predicted pairs; precision = labelled
pairs predicted / all pairs predicted; recall = labelled pairs predicted / labelled pairs.

    .venv/bin/python bench/bench_dedup_xscript.py build            # download + extract + pair (~1 min)
    .venv/bin/python bench/bench_dedup_xscript.py tune             # in-process sweep on the tuning set only
    .venv/bin/python bench/bench_dedup_xscript.py eval             # `yuliao run` per setting, both sets
    .venv/bin/python bench/bench_dedup_xscript.py ablate           # variants in process, after the defaults were fixed
"""

from __future__ import annotations

import argparse
import copy
import glob
import gzip
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.dedup import DedupNear, shingle_hashes  # noqa: E402
from transforms.schema import docs_from_pylist  # noqa: E402

DATA = ROOT / ".yuliao" / "xscript-zh"
CORPORA = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared")) / "corpora"
RESULTS = ROOT / "bench" / "results" / "dedup_xscript.md"
PACKAGES = {
    "tune": ["manpages-zh", "maint-guide-zh-cn", "maint-guide-zh-tw", "maint-guide"],
    "heldout": ["debian-reference-zh-cn", "debian-reference-zh-tw", "debian-reference-en"],
}
MIN_CHARS = 100


def download(packages: list[str], dest: Path) -> Path:
    """apt-get download + dpkg-deb -x the packages into dest/root; return the root."""
    debs = dest / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(debs.glob(f"{p}_*.deb"))]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debs, check=True, stdout=subprocess.DEVNULL)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest / "root")], check=True)
    return dest / "root"


def docbook_sections(path: Path) -> dict[str, str]:
    """Return {anchor id: text} for every DocBook section/chapter of an HTML file, without its subsections."""
    from lxml import html

    tree = html.parse(str(path)).getroot()
    out = {}
    xp = '//div[contains(concat(" ",@class," ")," section ") or contains(concat(" ",@class," ")," chapter ")]'
    for sec in tree.xpath(xp):
        ids = sec.xpath('./div[@class="titlepage"]//a/@id | ./div[@class="titlepage"]//a/@name | ./@id')
        if not ids:
            continue
        own = copy.deepcopy(sec)
        for sub in own.xpath('.//div[contains(concat(" ",@class," ")," section ")]'):
            sub.getparent().remove(sub)
        out[ids[0]] = "\n".join(s.strip() for s in own.itertext() if s.strip())
    return out


def docbook_pairs(files_cn: list[str], to_tw, to_en) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Return ([(key, zh-CN text, zh-TW text)], [English texts]) for DocBook HTML files named alike."""
    pairs, english = [], []
    for f in sorted(files_cn):
        tw, en = Path(to_tw(f)), Path(to_en(f))
        if not tw.exists():
            continue
        a, b = docbook_sections(Path(f)), docbook_sections(tw)
        pairs += [(f"{Path(f).name}#{k}", a[k], b[k]) for k in a if k in b]
        if en.exists():
            english += list(docbook_sections(en).values())
    return pairs, english


def manpage_pairs(root: Path) -> list[tuple[str, str, str]]:
    """Return (key, zh_CN text, zh_TW text) for every man page present in both, troff stripped."""
    from transforms.clean import strip_troff

    out = []
    for f in sorted(glob.glob(str(root / "usr/share/man/zh_CN/man*/*.gz"))):
        g = f.replace("/zh_CN/", "/zh_TW/")
        if os.path.exists(g):
            read = lambda p: strip_troff(gzip.open(p).read().decode("utf-8", "replace"))  # noqa: E731
            out.append((f"man:{Path(f).parent.name}/{Path(f).name}", read(f), read(g)))
    return out


def long_enough(text: str) -> bool:
    return sum(not c.isspace() for c in text) >= MIN_CHARS


def shingle_sets(texts: list[str]) -> list[set[int]]:
    h, o, _ = shingle_hashes(texts, 5, 5, "none")
    return [set(h[o[i] : o[i + 1]].tolist()) for i in range(len(texts))]


def drop_same_script_duplicates(pairs: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Keep pairs whose zh-CN and zh-TW sides are no same-script near-duplicate (exact J >= 0.7) of an earlier kept pair."""
    kept: list[tuple[str, str, str]] = []
    sets_cn, sets_tw = shingle_sets([p[1] for p in pairs]), shingle_sets([p[2] for p in pairs])
    kept_idx: list[int] = []
    for i in range(len(pairs)):
        dup = False
        for j in kept_idx:
            for s in (sets_cn, sets_tw):
                a, b = s[i], s[j]
                if not a or not b or min(len(a), len(b)) < 0.7 * max(len(a), len(b)):
                    continue  # J >= 0.7 needs sizes within 0.7 of each other
                if len(a & b) >= 0.7 * len(a | b):
                    dup = True
                    break
            if dup:
                break
        if not dup:
            kept_idx.append(i)
            kept.append(pairs[i])
    return kept


def distractors_chinese(which: str, n: int) -> list[str]:
    """Return n unrelated Chinese texts: SOHU news (Simplified) and Tang poems (Traditional), a slice per set."""
    if not CORPORA.is_dir():
        return []
    off = 0 if which == "tune" else n
    sohu = []
    for f in sorted((CORPORA / "sohu-sts/SOHU").glob("*.jsonl")):
        for line in f.read_text("utf-8").splitlines():
            r = json.loads(line)
            sohu += [r["sentence1"], r["sentence2"]]
    poems = json.loads((CORPORA / "chinese-poetry/全唐诗/poet.tang.3000.json").read_text("utf-8"))
    tang = ["\n".join(p["paragraphs"]) for p in poems]
    sohu = [t for t in dict.fromkeys(sohu) if long_enough(t)]
    tang = [t for t in tang if long_enough(t)]
    return sohu[off : off + n // 2] + tang[off : off + n // 2]


def build(args) -> None:
    """Download the Debian packages, pair the sections, write DATA/{tune,heldout}.jsonl."""
    root = download(PACKAGES["tune"] + PACKAGES["heldout"], DATA)
    man = manpage_pairs(root)
    mg, mg_en = docbook_pairs(
        glob.glob(str(root / "usr/share/doc/maint-guide-zh-cn/html/*.zh-cn.html")),
        lambda f: f.replace("zh-cn", "zh-tw"), lambda f: f.replace("maint-guide-zh-cn", "maint-guide").replace(".zh-cn.", ".en."),
    )
    dr, dr_en = docbook_pairs(
        glob.glob(str(root / "usr/share/debian-reference/*.zh-cn.html")),
        lambda f: f.replace(".zh-cn.", ".zh-tw."), lambda f: f.replace(".zh-cn.", ".en."),
    )
    sets = {"tune": (man + mg, mg_en), "heldout": (dr, dr_en)}
    for which, (pairs, english) in sets.items():
        pairs = [p for p in pairs if long_enough(p[1]) and long_enough(p[2])]
        pairs = drop_same_script_duplicates(pairs)
        rows = []
        for i, (key, cn, tw) in enumerate(pairs):
            # One pair in eight loses its zh-TW side and one its zh-CN side: an orphan must not be merged
            # with a sibling page of the same template (the cross-script stage's hardest negatives).
            if i % 8 != 5:
                rows.append({"id": f"{key}@zh-CN", "text": cn, "pair": key if i % 8 != 1 else None, "kind": "zh-CN"})
            if i % 8 != 1:
                rows.append({"id": f"{key}@zh-TW", "text": tw, "pair": key if i % 8 != 5 else None, "kind": "zh-TW"})
        english = [t for t in dict.fromkeys(english) if long_enough(t)][:300]
        rows += [{"id": f"en:{i}", "text": t, "pair": None, "kind": "en"} for i, t in enumerate(english)]
        rows += [{"id": f"zh-other:{i}", "text": t, "pair": None, "kind": "zh-other"}
                 for i, t in enumerate(distractors_chinese(which, 300))]
        out = DATA / f"{which}.jsonl"
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
        kinds = {k: sum(r["kind"] == k for r in rows) for k in ("zh-CN", "zh-TW", "en", "zh-other")}
        print(f"{which}: {len(pairs)} pairs ({sum(1 for r in rows if r['pair']) // 2} kept whole) -> {out} {kinds}")


def load_rows(which: str) -> list[dict]:
    path = DATA / f"{which}.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} missing: run `bench/bench_dedup_xscript.py build` first")
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def score(rows: list[dict], cluster_of: dict[str, str | None]) -> dict:
    """Return precision/recall/F1 of predicted same-cluster pairs against the labelled pairs."""
    gold = {}
    for r in rows:
        if r["pair"]:
            gold.setdefault(r["pair"], []).append(r["id"])
    gold_pairs = {tuple(sorted(v)) for v in gold.values() if len(v) == 2}
    clusters: dict[str, list[str]] = {}
    for r in rows:
        c = cluster_of.get(r["id"])
        if c is not None:
            clusters.setdefault(c, []).append(r["id"])
    predicted = {tuple(sorted(p)) for members in clusters.values() for p in itertools.combinations(members, 2)}
    tp = len(predicted & gold_pairs)
    fp = len(predicted) - tp
    fn = len(gold_pairs) - tp
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    fp_kinds: dict[str, int] = {}
    kind = {row["id"]: row["kind"] for row in rows}
    for a, b in predicted - gold_pairs:
        k = "/".join(sorted((kind[a], kind[b])))
        fp_kinds[k] = fp_kinds.get(k, 0) + 1
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "fp": fp, "fn": fn, "fp_kinds": fp_kinds}


def clusters_in_process(rows: list[dict], params: dict) -> dict[str, str | None]:
    """Run DedupNear map -> reduce in process (same functions `yuliao run` stages) and return cluster_id by id."""
    op = DedupNear(**params)
    table = docs_from_pylist([{"id": r["id"], "text": r["text"], "source": "xscript", "source_uri": r["id"], "raw_sha256": "0"}
                              for r in rows])
    decisions = op.reduce(op.signatures(table, 0))
    return dict(zip(decisions.column("id").to_pylist(), decisions.column("cluster_id").to_pylist()))


SETTINGS = {
    "yuliao@1 defaults (script none, no cross-script stage)": {"script": "none", "cross_script_threshold": None},
    "script t2s": {"script": "t2s", "cross_script_threshold": None},
    "script tw2sp": {"script": "tw2sp", "cross_script_threshold": None},
    "script fold, no cross-script stage": {"script": "fold", "cross_script_threshold": None},
    "new defaults (script fold + cross-script stage)": {},
}


def tune(args) -> None:
    """Sweep settings in process on the tuning set only (the held-out set is never read here)."""
    rows = load_rows("tune")
    grid = [dict(p) for p in SETTINGS.values()]
    for xt, lat, lr in itertools.product((0.2, 0.3, 0.4), (0.0, 0.5), (0.0, 0.6)):
        grid.append({"cross_script_threshold": xt, "cross_script_latin": lat, "cross_script_length_ratio": lr})
    for params in grid:
        t0 = time.process_time()
        s = score(rows, clusters_in_process(rows, params))
        print(f"{json.dumps(params)}\tP {s['precision']:.4f} R {s['recall']:.4f} F1 {s['f1']:.4f} "
              f"tp {s['tp']} fp {s['fp']} fn {s['fn']} {s['fp_kinds']} cpu {time.process_time() - t0:.1f}s", flush=True)


def run_cli(rows: list[dict], params: dict, work: Path) -> tuple[dict[str, str | None], float]:
    """Run `yuliao run` on the rows with one dedup_near op; return (cluster_id by id, wall seconds)."""
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    src = work / "input.jsonl"
    src.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    recipe = {"name": "xscript", "workspace": str(work / "ws"),
              "inputs": [{"source": "xscript", "paths": [str(src)], "licence": "GPL-2.0-or-later", "text_field": "text", "id_field": "id"}],
              "ops": [{"op": "dedup_near", **params}]}
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), "utf-8")
    # The shared machine runs at load ~10: give the temporary Prefect server more than its default 90 s to boot.
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="600")
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "flows.cli.main", "run", str(work / "recipe.yaml")], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"yuliao run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    kept_dir = Path(next(line.split(": ", 1)[1] for line in proc.stdout.splitlines() if line.startswith("kept: ")))
    out: dict[str, str | None] = {}
    for sub in ("kept", "dropped"):
        for f in sorted((kept_dir.parent / sub).glob("*.parquet")):
            t = pq.read_table(f, columns=["meta", "cluster_id"])
            ids = [json.loads(m)["id"] for m in t.column("meta").to_pylist()]  # the input's id (id_field)
            out.update(zip(ids, t.column("cluster_id").to_pylist()))
    missing = {r["id"] for r in rows} - set(out)
    if missing:
        raise RuntimeError(f"{len(missing)} input records are neither kept nor dropped")
    return out, wall


def evaluate(args) -> None:
    """Run every setting through `yuliao run` on both sets and write bench/results/dedup_xscript.md."""
    load_before = os.getloadavg()
    lines = []
    for which in ("heldout", "tune"):
        rows = load_rows(which)
        n_pairs = len({r["pair"] for r in rows if r["pair"]})
        kinds = {k: sum(r["kind"] == k for r in rows) for k in ("zh-CN", "zh-TW", "en", "zh-other")}
        lines.append(f"\n## {'held-out: debian-reference' if which == 'heldout' else 'tuning: manpages-zh + maint-guide (upper bound: thresholds were chosen here)'}\n")
        lines.append(f"{n_pairs} labelled zh-CN/zh-TW pairs; documents: {kinds}\n")
        lines.append("| setting | parameters | precision | recall | F1 | TP | FP | FN | FP kinds | wall s |")
        lines[-1] = lines[-1] if which == "heldout" else lines[-1].replace("wall s", "in-process s")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
        for k, (name, params) in enumerate(SETTINGS.items()):
            if which == "heldout":
                clusters, wall = run_cli(rows, params, ROOT / "bench" / "out" / "xscript" / f"{which}-{k}")
            else:  # tuning figures in process (the same map/reduce functions), to keep the bench within minutes
                t0 = time.time()
                clusters, wall = clusters_in_process(rows, params), time.time() - t0
            s = score(rows, clusters)
            print(which, name, s, f"{wall:.1f}s", flush=True)
            lines.append(f"| {name} | `{json.dumps(params) if params else 'defaults'}` | {s['precision']:.4f} | {s['recall']:.4f} | "
                         f"{s['f1']:.4f} | {s['tp']} | {s['fp']} | {s['fn']} | {s['fp_kinds'] or '-'} | {wall:.1f} |")
    load_after = os.getloadavg()
    head = [
        "# Cross-script near-duplicates: zh-CN vs zh-TW parallel documentation (issue 18)",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} shared cores",
        "- command: `.venv/bin/python bench/bench_dedup_xscript.py build && .venv/bin/python bench/bench_dedup_xscript.py eval`",
        "- held-out figures come from `yuliao run` on a recipe with one `dedup_near` op (parameters in the table; `defaults` = none",
        "  set; wall time includes the temporary Prefect server); tuning figures from the same map/reduce functions in process",
        f"- op: dedup_near@{DedupNear.version}; DedupNear defaults: script={DedupNear().script}, "
        f"cross_script_threshold={DedupNear().cross_script_threshold}, cross_script_latin={DedupNear().cross_script_latin}, "
        f"cross_script_length_ratio={DedupNear().cross_script_length_ratio}",
        "- scoring: every two documents in one output cluster are a predicted pair; precision = labelled pairs among them,",
        "  recall = labelled pairs predicted. Distractors (English sections of the same manuals, SOHU news, Tang poems) are in",
        "  the run, so a distractor merged with anything is a false positive.",
        "- sources: tuning = manpages-zh 1.6.4.0 + maint-guide 1.2.53 (zh-cn/zh-tw/en); held-out = debian-reference 2.100",
        "  (zh-cn/zh-tw/en); the cross-script thresholds and the regional vocabulary table were chosen on the tuning set only",
        f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in load_before)}; after: {' '.join(f'{x:.2f}' for x in load_after)}",
    ]
    RESULTS.write_text("\n".join(head + lines) + "\n", "utf-8")
    print(f"wrote {RESULTS}")


ABLATIONS = {
    "script hk2s (OpenCC Hong Kong -> Simplified), no cross-script stage": {"script": "hk2s", "cross_script_threshold": None},
    "script tw2sp + cross-script stage (no regional table)": {"script": "tw2sp"},
    "script t2s + cross-script stage": {"script": "t2s"},
    "defaults without the Latin and length checks (mutual best kept)": {"cross_script_latin": 0.0, "cross_script_length_ratio": 0.0},
    "defaults, cross_script_threshold 0.2": {"cross_script_threshold": 0.2},
    "defaults, cross_script_threshold 0.4": {"cross_script_threshold": 0.4},
    "defaults": {},
}


def ablate(args) -> None:
    """Variants in process on both sets (same map/reduce functions as `yuliao run`) -> bench/results/dedup_xscript_ablation.md."""
    load_before = os.getloadavg()
    lines = ["# Cross-script dedup: variants and ablations (in process)", "",
             f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; command: `.venv/bin/python bench/bench_dedup_xscript.py ablate`",
             "- same data and scoring as dedup_xscript.md; DedupNear map + reduce in process (the functions `yuliao run` stages);",
             "  the held-out rows were computed after the defaults were fixed and changed nothing", ""]
    for which in ("heldout", "tune"):
        rows = load_rows(which)
        lines += [f"## {'held-out: debian-reference' if which == 'heldout' else 'tuning: manpages-zh + maint-guide'}", "",
                  "| variant | parameters | precision | recall | F1 | TP | FP | FN |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, params in ABLATIONS.items():
            sc = score(rows, clusters_in_process(rows, params))
            print(which, name, sc, flush=True)
            lines.append(f"| {name} | `{json.dumps(params) if params else 'defaults'}` | {sc['precision']:.4f} | {sc['recall']:.4f} | "
                         f"{sc['f1']:.4f} | {sc['tp']} | {sc['fp']} | {sc['fn']} |")
        lines.append("")
    load_after = os.getloadavg()
    lines.append(f"- load average before: {' '.join(f'{x:.2f}' for x in load_before)}; after: {' '.join(f'{x:.2f}' for x in load_after)}")
    (RESULTS.parent / "dedup_xscript_ablation.md").write_text("\n".join(lines) + "\n", "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["build", "tune", "eval", "ablate"])
    args = ap.parse_args()
    {"build": build, "tune": tune, "eval": evaluate, "ablate": ablate}[args.step](args)


if __name__ == "__main__":
    main()

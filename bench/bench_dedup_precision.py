"""Near-dup removal precision and recall on multilingual Debian corpora; dedup throughput of each setting in the same run.

Two package sets, in 20+ languages each, that no other bench or tuning step reads (dedup_near's other
tuning sources are listed in docs/dedup.md):

* ``--set tune``: star clustering's candidate window and second hop were designed looking at its
  misses, and verify=borderline's margin and sample size chosen from its ``--extra`` rows, so its
  figures are upper bounds. Man pages (manpages-de, -fr,
-es, -it, -pl, -pt-br, -ru, -nl, -uk, -cs, -da, -fi, -hu, -id, -el, -ro, -sv, -tr, -vi, -mk, -nb, -sr, and the
-dev sections of de, fr, es, it, pl, pt-br, ru, nl, uk, cs, da: system-call pages, many alike in layout),
Debian Reference (de, es, fr, id, it, pt), the New Maintainers' Guide (ca, de, es, fr, it, ru, vi) and
the Debian FAQ (de, fr, it, ko, nl, pt, ru).
* ``--set eval``: held out, run only after the design was frozen: Debian Edu manuals (da, de, es,
  fr, it, nb-no, nl, pt-br), the Developers' Reference (de, fr, it, ru), the aptitude manual (cs,
  es, fi, fr, it, nl, ru), LilyPond's HTML manuals (ca, cs, de, es, fr, hu, it, nl, pt) and the GIMP
  help (el, hr, sl, lt, fa, uk, ko).

Packages are fetched with `apt-get download` into bench/.cache/dedup-precision.

Injected near-duplicates (labelled): per language a seeded sample of documents gets an edited copy
(words substituted, deleted or repeated at a rate drawn from 0.5-3 %, sometimes a repost header line,
sometimes the last few per cent cut), and a quarter of those copies get a copy of their own (a repost
of a repost: the truth group has three members, the second-generation copy being further from the
original). Unlabelled natural near-duplicates (one page shipped twice, an untranslated page in two
languages) are judged by an independent reference Jaccard (bench/e2e/build_corpus.ref_shingles:
NFKC, casefold, regex word tokens, 5-grams).

Scoring, for every removed document r and the document it names (duplicate_of, k):
* a removal is correct when r and k are in one labelled group, or their reference Jaccard is >= the
  operator's threshold; precision = correct / removals. The strict figure counts only labelled groups.
* recall, as bench/e2e/compare.py counts it: a labelled (original, copy) pair is caught when the two
  are no longer both kept; over all pairs and over pairs with reference Jaccard >= t.
* strict recall: caught only when both end at one kept document (following duplicate_of once): a copy
  kept because its original was removed for a third document it is not within t of counts as missed.

Usage:
  .venv/bin/python bench/bench_dedup_precision.py build --set tune --per-package 1000 --per-lang 150
  .venv/bin/python bench/bench_dedup_precision.py run --set tune      # -> bench/results/dedup_precision_tune.md
  (the same with --set eval)
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "bench" / "e2e"))

from bench_dedup_xscript import download  # noqa: E402
from build_corpus import chunks, html_text, ref_shingles, troff_text  # noqa: E402

from transforms import dedup as d  # noqa: E402
from transforms.schema import DUPLICATE_OF, docs_from_pylist  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "dedup-precision"
MAN_LANGS = ["de", "fr", "es", "it", "pl", "pt-br", "ru", "nl", "uk", "cs", "da", "fi", "hu", "id", "el", "ro", "sv", "tr", "vi", "mk", "nb", "sr"]
DEV_LANGS = ["de", "fr", "es", "it", "pl", "pt-br", "ru", "nl", "uk", "cs", "da"]
TUNE_PACKAGES = (
    [f"manpages-{x}" for x in MAN_LANGS]
    + [f"manpages-{x}-dev" for x in DEV_LANGS]
    + [f"debian-reference-{x}" for x in ("de", "es", "fr", "id", "it", "pt")]
    + [f"maint-guide-{x}" for x in ("ca", "de", "es", "fr", "it", "ru", "vi")]
    + [f"debian-faq-{x}" for x in ("de", "fr", "it", "ko", "nl", "pt", "ru")]
)
EVAL_PACKAGES = (
    [f"debian-edu-doc-{x}" for x in ("da", "de", "es", "fr", "it", "nb-no", "nl", "pt-br")]
    + [f"developers-reference-{x}" for x in ("de", "fr", "it", "ru")]
    + [f"aptitude-doc-{x}" for x in ("cs", "es", "fi", "fr", "it", "nl", "ru")]
    + [f"lilypond-doc-html-{x}" for x in ("ca", "cs", "de", "es", "fr", "hu", "it", "nl", "pt")]
    + [f"gimp-help-{x}" for x in ("el", "hr", "sl", "lt", "fa", "uk", "ko")]
)
PACKAGE_SETS = {"tune": TUNE_PACKAGES, "eval": EVAL_PACKAGES}
LANG_PREFIXES = ("manpages-", "debian-reference-", "maint-guide-", "debian-faq-", "debian-edu-doc-", "developers-reference-",
                 "aptitude-doc-", "lilypond-doc-html-", "gimp-help-")
HEADERS = ("Reposted from the original page", "Quelle: Originalseite", "Fuente: página original", "Источник: исходная страница", "")


def corpus_path(which: str) -> Path:
    return CACHE / f"corpus-{which}.jsonl"


def package_lang(package: str) -> str:
    """Return the language a documentation package is in, from its name (manpages-pt-br-dev -> pt-br, debian-edu-doc-nb-no -> nb)."""
    lang = next(package[len(p):] for p in LANG_PREFIXES if package.startswith(p)).removesuffix("-dev")
    return {"nb-no": "nb"}.get(lang, lang)


def fetch(package: str) -> Path:
    """Download (once) and unpack one held-out package under CACHE/<package>; return its root."""
    return download([package], CACHE / package)


def package_docs(package: str, pkg_root: Path, lang: str, limit: int, rng: random.Random) -> list[dict]:
    """Return up to `limit` documents (man pages and HTML pages, chunked) of one unpacked package, seeded sample."""
    files = sorted(p for p in pkg_root.rglob("*") if p.is_file() and not p.is_symlink())
    man = [p for p in files if "/man/" in str(p) and re.search(r"\.\d\w*(\.gz)?$", p.name)]
    html = [p for p in files if p.name.endswith((".html", ".htm"))]
    picked = rng.sample(man + html, min(len(man) + len(html), limit * 2))
    docs = []
    for p in picked:
        try:
            if p in man:
                raw = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
                if raw.startswith(b".so "):
                    continue
                text = troff_text(raw.decode("utf-8", errors="replace"))
            else:
                text = html_text(p.read_text("utf-8", errors="replace"))
        except (OSError, ValueError, EOFError):
            continue
        for i, part in enumerate(chunks(text, 8000)):
            if len(part) >= 100:
                docs.append({"text": part, "lang": lang, "source": f"{package}:{p.relative_to(pkg_root)}#{i}"})
    return docs[:limit]


def edit_copy(text: str, rng: random.Random) -> str:
    """Return a near-duplicate: 0.5-3 % of words substituted, deleted or repeated; maybe a header; maybe a cut tail."""
    words = text.split(" ")
    rate = rng.uniform(0.005, 0.03)
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        r = rng.random()
        words[i] = "" if r < 0.4 else (words[i] + " " + words[i] if r < 0.6 else words[rng.randrange(len(words))])
    out = " ".join(w for w in words if w)
    if rng.random() < 0.3:
        out = out[: int(len(out) * rng.uniform(0.95, 1.0))]
    if rng.random() < 0.4:
        out = rng.choice(HEADERS) + "\n" + out
    return out


def build(which: str, per_package: int, per_lang: int, seed: int) -> None:
    """Write the corpus of a package set: its documents plus labelled injected near-duplicates (JSONL, shuffled)."""
    rng = random.Random(seed)
    docs = []
    for pkg in PACKAGE_SETS[which]:
        docs += package_docs(pkg, fetch(pkg), package_lang(pkg), per_package, rng)
    for i, doc in enumerate(docs):
        doc["id"], doc["group"] = f"h{i:06d}", None
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(docs):
        if len(doc["text"]) >= 300:
            by_lang[doc["lang"]].append(i)
    copies = []
    for lang in sorted(by_lang):
        for i in rng.sample(by_lang[lang], min(per_lang, len(by_lang[lang]))):
            src = docs[i]
            src["group"] = src["id"]
            first = {"id": src["id"] + "-c1", "text": edit_copy(src["text"], rng), "lang": lang, "source": src["source"] + ":copy", "group": src["id"]}
            copies.append(first)
            if rng.random() < 0.25:
                copies.append({"id": src["id"] + "-c2", "text": edit_copy(first["text"], rng), "lang": lang,
                               "source": src["source"] + ":copy-of-copy", "group": src["id"]})
    rows = docs + copies
    rng.shuffle(rows)  # copies land before or after their original: keep=first must cope with both
    with corpus_path(which).open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    langs = Counter(r["lang"] for r in rows)
    print(f"{len(rows)} documents ({len(copies)} injected copies), {sum(len(r['text'].encode()) for r in rows) / 1e6:.1f} MB, "
          f"{len(langs)} languages: {dict(sorted(langs.items()))}")


# --------------------------------------------------------------------------- scoring


def ref_jaccard(a: str, b: str, cache: dict[str, set]) -> float:
    x = cache.setdefault(a, ref_shingles(a))
    y = cache.setdefault(b, ref_shingles(b))
    return len(x & y) / max(1, len(x | y))


def score(rows: list[dict], decisions: pa.Table, threshold: float) -> dict:
    """Return removal precision (with and without the reference-Jaccard judge), pair recall, cluster sizes, worst removals."""
    text = {r["id"]: r["text"] for r in rows}
    group = {r["id"]: r["group"] for r in rows}
    lang = {r["id"]: r["lang"] for r in rows}
    dec = decisions.to_pylist()
    dup_of = {x["id"]: x[DUPLICATE_OF] for x in dec if x[DUPLICATE_OF] is not None}
    cache: dict[str, set] = {}
    correct = strict = 0
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[tuple[float, str, str]] = []
    for r, k in dup_of.items():
        same_group = group[r] is not None and group[r] == group[k]
        ok = same_group or ref_jaccard(text[r], text[k], cache) >= threshold
        correct += ok
        strict += same_group
        by_lang[lang[r]][0] += ok
        by_lang[lang[r]][1] += 1
        if not ok:
            wrong.append((ref_jaccard(text[r], text[k], cache), r, k))
    members: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["group"] is not None:
            members[r["group"]].append(r["id"])
    canon = lambda x: dup_of.get(x, x)  # noqa: E731
    pairs = [(g, m) for g, ms in members.items() for m in ms if m != g]
    strict_caught = [canon(a) == canon(b) for a, b in pairs]
    caught = [a in dup_of or b in dup_of for a, b in pairs]
    js = [ref_jaccard(text[a], text[b], cache) for a, b in pairs]
    hard = [c for c, j in zip(caught, js) if j >= threshold]
    sizes = Counter(dup_of.values())
    n = len(dup_of)
    return {
        "removed": n, "precision": correct / n if n else 1.0, "strict_precision": strict / n if n else 1.0,
        "pairs": len(pairs), "recall": sum(caught) / len(pairs), "pairs_ge_t": len(hard), "recall_ge_t": sum(hard) / max(1, len(hard)),
        "strict_recall": sum(strict_caught) / len(pairs),
        "largest_cluster": 1 + max(sizes.values(), default=0), "min_removed_jaccard": min((ref_jaccard(text[r], text[k], cache) for r, k in dup_of.items()), default=1.0),
        "worst_langs": sorted(((v[0] / v[1], k, v[1]) for k, v in by_lang.items()), key=lambda x: x[0])[:3],
        "wrong": sorted(wrong)[:5],
    }


# --------------------------------------------------------------------------- run

ALL = {"verify_shingles": None}  # every shingle of every document: exact Jaccard
VARIANTS: list[tuple[str, dict]] = [
    ("components, verify=none (dedup_near@2 as the e2e recipe runs it)", {"clustering": "components", "verify": "none"}),
    ("components, verify=signature (dedup_near@2 default)", {"clustering": "components", "verify": "signature"}),
    ("components, verify=exact, all shingles", {"clustering": "components", "verify": "exact", **ALL}),
    ("star, verify=none", {"clustering": "star", "verify": "none"}),
    ("star, verify=signature (dedup_near@3 default)", {"clustering": "star", "verify": "signature"}),
    ("star, verify=exact, all shingles", {"clustering": "star", "verify": "exact", **ALL}),
    ("star, verify=borderline, margin 0.1, 256 shingles (dedup_near@4 default)", {"clustering": "star", "verify": "borderline"}),
]
# --extra: the borderline settings the default was chosen from (run on the tuning set).
EXTRA_VARIANTS: list[tuple[str, dict]] = [
    ("star, verify=borderline, margin 0.05, 256 shingles", {"verify": "borderline", "verify_margin": 0.05}),
    ("star, verify=borderline, margin 0.15, 256 shingles", {"verify": "borderline", "verify_margin": 0.15}),
    ("star, verify=borderline, margin 0.1, 1024 shingles", {"verify": "borderline", "verify_shingles": 1024}),
    ("star, verify=borderline, margin 0.1, 512 shingles", {"verify": "borderline", "verify_shingles": 512}),
    ("star, verify=borderline, margin 0.1, all shingles", {"verify": "borderline", **ALL}),
    ("star, verify=exact, 256 shingles", {"verify": "exact"}),
]


def signed(op: d.DedupNear, table: pa.Table, shards: int) -> tuple[pa.Table, float]:
    """Return the signature table of `table` split into `shards` shards, and the CPU seconds it took."""
    t0 = time.process_time()
    size = -(-table.num_rows // shards)
    sigs = pa.concat_tables([op.signatures(table.slice(s * size, size), s) for s in range(shards)])
    return sigs, time.process_time() - t0


def run(which: str, out: Path, repeat: int, shards: int, threshold: float, extra: bool = False) -> None:
    rows = [json.loads(line) for line in corpus_path(which).open(encoding="utf-8")]
    table = docs_from_pylist([{"id": r["id"], "text": r["text"], "source": "h", "source_uri": r["source"], "raw_sha256": "0"} for r in rows])
    mb = sum(len(r["text"].encode()) for r in rows) / 1e6
    load0 = os.getloadavg()
    results = []
    for name, params in VARIANTS + (EXTRA_VARIANTS if extra else []):
        op = d.DedupNear(threshold=threshold, **params)
        sign_s, reduce_s = [], []
        for _ in range(repeat):  # interleaved repeats would be fairer; the variants differ mostly in reduce
            sigs, s = signed(op, table, shards)
            t0 = time.process_time()
            decisions = op.reduce(sigs)
            reduce_s.append(time.process_time() - t0)
            sign_s.append(s)
        res = score(rows, decisions, threshold)
        res |= {"name": name, "sign_s": min(sign_s), "reduce_s": min(reduce_s), "sig_mb": sigs.nbytes / 1e6,
                "shingles_mb": sigs.column("shingles").nbytes / 1e6 if "shingles" in sigs.column_names else 0.0}
        results.append(res)
        print(json.dumps({k: v for k, v in res.items() if k != "wrong"}, ensure_ascii=False), flush=True)
    load1 = os.getloadavg()
    langs = Counter(r["lang"] for r in rows)
    lines = [
        f"# dedup precision: multilingual Debian corpus, set `{which}`, components vs star clustering",
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} shared cores; "
        f"load (1/5/15 min) before {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f}, after {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f}",
        f"- command: `.venv/bin/python bench/bench_dedup_precision.py run --set {which} --repeat {repeat} --shards {shards} --threshold {threshold}"
        + (" --extra" if extra else "") + "`",
        "- " + ("TUNING set: the star clustering's candidate window and second hop were designed on its misses, and dedup_near@4's "
                "borderline margin (0.1) and sample size (256) chosen from these rows; upper bounds"
                if which == "tune" else "HELD-OUT set: built and run once the design was frozen"),
        f"- corpus: {len(rows):,} documents, {mb:.1f} MB, {len(langs)} languages ({', '.join(sorted(langs))}); "
        f"{sum(1 for r in rows if r['id'].endswith(('-c1', '-c2'))):,} injected copies (packages: see the module docstring)",
        f"- threshold {threshold}, num_perm 128, 5-word / 5-character shingles; CPU seconds, best of {repeat}; "
        "sign = signatures of every shard, reduce = bands -> pairs -> verify -> clusters -> decisions; "
        "signature table = Arrow bytes of all shards' signatures (what the in-memory reduce holds), of which shingle samples",
        "",
        "| setting | removals | precision | precision, labels only | recall | recall, pairs with ref J >= t | strict recall | largest cluster | min ref J of a removal | sign s | reduce s | docs/s (sign+reduce) | signature table MB (shingles) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['removed']:,} | {r['precision']:.4f} | {r['strict_precision']:.4f} | {r['recall']:.4f} ({r['pairs']:,}) "
            f"| {r['recall_ge_t']:.4f} ({r['pairs_ge_t']:,}) | {r['strict_recall']:.4f} | {r['largest_cluster']} | {r['min_removed_jaccard']:.3f} | {r['sign_s']:.2f} "
            f"| {r['reduce_s']:.2f} | {len(rows) / (r['sign_s'] + r['reduce_s']):,.0f} | {r['sig_mb']:.1f} ({r['shingles_mb']:.1f}) |"
        )
    lines += ["", "Lowest per-language precision and wrong removals (reference Jaccard, removed id, named id) per setting:", ""]
    for r in results:
        worst = ", ".join(f"{lang} {p:.3f} of {n}" for p, lang, n in r["worst_langs"])
        ex = "; ".join(f"J={j:.2f} {a}->{b}" for j, a, b in r["wrong"])
        lines.append(f"- {r['name']}: {worst}. {ex or 'none wrong'}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--set", dest="which", choices=sorted(PACKAGE_SETS), default="eval")
    b.add_argument("--per-package", type=int, default=1000)
    b.add_argument("--per-lang", type=int, default=150)
    b.add_argument("--seed", type=int, default=24)
    r = sub.add_parser("run")
    r.add_argument("--set", dest="which", choices=sorted(PACKAGE_SETS), default="eval")
    r.add_argument("--out", default=None, help="default: bench/results/dedup_precision_<set>.md")
    r.add_argument("--repeat", type=int, default=2)
    r.add_argument("--shards", type=int, default=4)
    r.add_argument("--threshold", type=float, default=0.7)
    r.add_argument("--extra", action="store_true", help="also run the borderline margins and sample sizes the default was chosen from")
    args = ap.parse_args()
    if args.cmd == "build":
        build(args.which, args.per_package, args.per_lang, args.seed)
    else:
        out = Path(args.out or ROOT / "bench" / "results" / f"dedup_precision_{args.which}.md")
        run(args.which, out, args.repeat, args.shards, args.threshold, args.extra)


if __name__ == "__main__":
    main()

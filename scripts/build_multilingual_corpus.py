"""Build a ~80-language mixed JSONL corpus with injected and natural near-duplicates and recorded truth (issue 24).

    .venv/bin/python scripts/build_multilingual_corpus.py                  # -> .yuliao/multilingual-corpus/
    .venv/bin/python scripts/build_multilingual_corpus.py --per-lang-mb 0.6 --out .yuliao/ml-small

Sources: only text nobody on this project tuned a model or threshold on (docs/language.md and
bench/results/e2e.md name the tuning and e2e sources; none of them is used here). Debian bookworm
packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` into
.yuliao/multilingual-corpus-cache (gitignored); see SOURCES below and bench/results/e2e_multilingual.md.

Output (every row: id, text, lang_truth, source, dup_group, dup_kind):
  part-*.jsonl    shards; originals shuffled across shards, each injected copy in a seeded random shard
  labels.jsonl    one line per near-duplicate pair: {kind, lang, ids, ref_jaccard}
                  kind "injected": an edited copy (0.5-4 % of tokens substituted/deleted, punctuation
                  width flipped, a mirror-header line); kind "natural": two documents of the sources
                  whose reference Jaccard (5-shingles of CJK characters or words, NFKC + casefold,
                  punctuation removed) is >= 0.5 (untranslated help pages, pages shipped twice)
  manifest.json   counts per language and source, package versions, the seed

Deterministic: the same --seed and the same package versions give byte-identical output.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
import subprocess
import sys
import zlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "e2e"))

from build_corpus import MIN_DOC_CHARS, chunks, html_text, ref_shingles, troff_text  # noqa: E402

SHARED = ROOT.parent / "shared" / "corpora"
CACHE = ROOT / ".yuliao" / "multilingual-corpus-cache"

# package -> what it contributes. Single-language packages carry their language; the others take it from the path.
SOURCES: dict[str, str] = {
    "gnome-user-docs": "GNOME help (Mallard pages) in 43 locales; partly untranslated locales give natural cross-locale copies",
    "installation-guide-amd64": "Debian installation guide (HTML) in ~20 locales",
    **{f"manpages-{c}": f"manual pages in {c} (troff)" for c in
       ("cs", "da", "de", "el", "es", "fi", "fr", "hu", "id", "it", "mk", "nb", "nl", "pl", "pt-br", "ro", "ru", "sr",
        "sv", "uk", "vi", "tr")},
    **{f"maint-guide-{c}": f"Debian New Maintainers' Guide in {c} (HTML)" for c in ("ca", "de", "es", "fr", "it", "ru", "vi")},
    **{f"debian-faq-{c}": f"Debian FAQ in {c} (HTML)" for c in ("de", "fr", "it", "nl", "pt", "ru")},
    **{f"libreoffice-help-{c}": f"LibreOffice help in {c} (HTML)" for c in ("ko", "hi", "km", "dz", "et", "eu", "zh-cn", "zh-tw")},
}
LINGUA_NOTE = "lingua-sentences (../shared/corpora): Leipzig sentences in 75 languages, 8 a document"

_LOC_PATH = [re.compile(p) for p in (r"/usr/share/help/([^/]+)/", r"/installation-guide-amd64/([^/]+)/",
                                      r"/usr/share/man/([^/]+)/man", r"/libreoffice/help/([^/]+)/",
                                      r"/FAQ/([^/]+)/", r"maint-guide-([^/]+)/")]
_SPECIAL = {"c": "en", "en": "en", "zh_cn": "zh-Hans", "zh-cn": "zh-Hans", "zh_tw": "zh-Hant", "zh-tw": "zh-Hant",
            "pt_br": "pt", "pt-br": "pt", "sr@latin": "sr-Latn", "nb": "nb", "nn": "nn"}


def normalise_locale(loc: str) -> str:
    """Debian locale folder name -> the corpus language label (base ISO 639-1 code; zh split by script; sr@latin)."""
    low = loc.lower()
    return _SPECIAL.get(low, low.split("_")[0].split("@")[0])


def language_of(rel: str) -> str | None:
    """Language of an unpacked file from its path, or None when the path names no locale."""
    for pat in _LOC_PATH:
        m = pat.search("/" + rel)
        if m:
            return normalise_locale(m.group(1))
    return None


def fetch_packages(names: list[str]) -> tuple[Path, dict[str, str]]:
    """apt-get download + dpkg-deb -x each package once under CACHE; return the unpack root and package -> .deb name."""
    debs, root = CACHE / "deb", CACHE / "x"
    debs.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0]: p for p in debs.glob("*.deb")}
    missing = [n for n in names if n not in have]
    if missing:
        subprocess.run(["apt-get", "download", "-q", *missing], cwd=debs, check=True, capture_output=True)
    versions = {}
    for n in names:
        deb = next(debs.glob(f"{n}_*.deb"))
        versions[n] = deb.name
        dest = root / n
        if not (dest / ".unpacked").exists():
            dest.mkdir(parents=True, exist_ok=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
            (dest / ".unpacked").write_text(deb.name)
    return root, versions


def page_text(path: Path, rel: str) -> tuple[str, str] | None:
    """(kind, plain text) of an HTML/Mallard page or a man page; None for anything else."""
    name = path.name
    if name.endswith((".html", ".htm", ".page", ".xhtml")):
        return "html", html_text(path.read_text("utf-8", errors="replace"))
    if "/man/" in rel and re.search(r"\.\d\w*(\.gz)?$", name):
        raw = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        if raw.startswith(b".so "):
            return None  # alias page
        return "man", troff_text(raw.decode("utf-8", errors="replace"))
    return None


def debian_docs(root: Path, rng: random.Random, per_lang_bytes: int) -> list[dict]:
    """Documents per language from the unpacked packages: files in seeded order, until the language's byte cap."""
    by_lang: dict[str, list[tuple[str, Path]]] = defaultdict(list)
    for pkg_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for p in sorted(x for x in pkg_dir.rglob("*") if x.is_file()):
            rel = str(p.relative_to(pkg_dir))
            lang = language_of(rel)
            if lang and p.suffix != ".js":
                by_lang[lang].append((f"{pkg_dir.name}:{rel}", p))
    docs = []
    for lang in sorted(by_lang):
        files = by_lang[lang]
        rng.shuffle(files)
        size = 0
        for key, p in files:
            if size >= per_lang_bytes:
                break
            try:
                got = page_text(p, key)
            except (OSError, ValueError, EOFError, zlib.error):
                continue
            if not got:
                continue
            kind, text = got
            for i, part in enumerate(chunks(text)):
                if len(part) >= MIN_DOC_CHARS:
                    docs.append({"text": part, "lang": lang, "source": f"debian:{kind}:{key}#{i}"})
                    size += len(part.encode())
    return docs


def lingua_docs(per_lang_bytes: int) -> list[dict]:
    """lingua's Leipzig sentences grouped 8 a document (space-joined; no space for zh/ja), up to the byte cap."""
    docs = []
    for f in sorted((SHARED / "lingua-sentences").glob("*.txt")):
        if f.stem == "LICENSE":
            continue
        sents = [s.strip() for s in f.read_text(encoding="utf-8").splitlines() if s.strip()]
        sep = "" if f.stem in ("zh", "ja") else " "
        size = 0
        for j in range(0, len(sents), 8):
            if size >= per_lang_bytes:
                break
            text = sep.join(sents[j:j + 8])
            docs.append({"text": text, "lang": normalise_locale(f.stem), "source": f"lingua:{f.stem}:{j // 8}"})
            size += len(text.encode())
    return docs


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_PUNCT_FLIP = str.maketrans({"，": ",", "。": ".", "：": ":", "；": ";", "！": "!", "？": "?", "（": "(", "）": ")",
                             ",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"})


def edited_copy(text: str, rng: random.Random, rate: float, tag: str) -> str:
    """A near-duplicate: `rate` of CJK characters (or of words) substituted/deleted, some punctuation flipped, a header line."""
    if len(_CJK.findall(text)) > 0.3 * len(text):
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if _CJK.match(c)]
        pool = [chars[i] for i in pos]
        for i in rng.sample(pos, max(1, int(len(pos) * rate))):
            chars[i] = "" if rng.random() < 0.3 else rng.choice(pool)
        out = "".join(chars)
    else:
        words = text.split(" ")
        for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
            words[i] = "" if rng.random() < 0.5 else words[rng.randrange(len(words))]
        out = " ".join(w for w in words if w)
    out = "".join(c.translate(_PUNCT_FLIP) if rng.random() < 0.3 else c for c in out)
    return f"mirror-{tag}.example.org\n{out}"


def stable_hash(shingle: tuple) -> int:
    """Seed-free 32-bit hash of a shingle (Python's hash() is salted per process)."""
    return zlib.crc32("\x1f".join(shingle).encode())


def natural_pairs(docs: list[dict], min_jaccard: float, sample_mod: int = 8, max_posting: int = 64) -> list[tuple[int, int, float]]:
    """Pairs of documents whose reference Jaccard >= min_jaccard: candidates share sampled shingles, then exact Jaccard."""
    sets = [ref_shingles(d["text"]) for d in docs]
    posting: dict[int, list[int]] = defaultdict(list)
    samples = []
    for i, s in enumerate(sets):
        picked = {h for h in map(stable_hash, s) if h % sample_mod == 0}
        samples.append(picked)
        for h in picked:
            posting[h].append(i)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for ids in posting.values():
        if 1 < len(ids) <= max_posting:  # boilerplate shingles in hundreds of pages say nothing about a pair
            for x in range(len(ids)):
                for y in range(x + 1, len(ids)):
                    shared[(ids[x], ids[y])] += 1
    out = []
    for (a, b), n in sorted(shared.items()):
        if n < 0.3 * min(len(samples[a]), len(samples[b])):
            continue
        j = len(sets[a] & sets[b]) / max(1, len(sets[a] | sets[b]))
        if j >= min_jaccard:
            out.append((a, b, round(j, 4)))
    return out


def untranslated_copies(docs: list[dict], pairs: list[tuple[int, int, float]]) -> set[int]:
    """Indexes of pages filed under one locale but near-copies of a page of another (untranslated help pages).

    Their locale label is wrong (the text is the English original), so they cannot carry language truth: per
    cross-language cluster the English page stays, every other member goes; a cluster without one goes whole.
    """
    parent = list(range(len(docs)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    cross = [(a, b) for a, b, _ in pairs if docs[a]["lang"] != docs[b]["lang"]]
    for a, b in cross:
        parent[find(a)] = find(b)
    members: dict[int, list[int]] = defaultdict(list)
    for i in {x for ab in cross for x in ab}:
        members[find(i)].append(i)
    drop: set[int] = set()
    for group in members.values():
        drop.update(i for i in group if docs[i]["lang"] != "en")
        if not any(docs[i]["lang"] == "en" for i in group):
            drop.update(group)
    return drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / ".yuliao" / "multilingual-corpus"))
    ap.add_argument("--per-lang-mb", type=float, default=1.2, help="text cap per language for the Debian pages")
    ap.add_argument("--lingua-per-lang-mb", type=float, default=0.15)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--seed", type=int, default=24)
    ap.add_argument("--dup-share", type=float, default=0.07, help="share of documents (>= 200 chars) given an edited copy")
    ap.add_argument("--natural-min-jaccard", type=float, default=0.5)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root, versions = fetch_packages(sorted(SOURCES))
    docs = debian_docs(root, rng, int(args.per_lang_mb * 1e6)) + lingua_docs(int(args.lingua_per_lang_mb * 1e6))
    for i, d in enumerate(docs):
        d["id"] = "ml-" + hashlib.sha1(f"{i}:{d['source']}".encode()).hexdigest()[:16]
        d["dup_group"], d["dup_kind"] = None, None
    pairs = natural_pairs(docs, args.natural_min_jaccard)
    dropped = untranslated_copies(docs, pairs)
    labels = [{"kind": "natural", "lang": docs[a]["lang"], "ids": [docs[a]["id"], docs[b]["id"]], "ref_jaccard": j}
              for a, b, j in pairs if a not in dropped and b not in dropped]
    docs = [d for i, d in enumerate(docs) if i not in dropped]
    in_natural = {i for lab in labels for i in lab["ids"]}
    copies = []
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(docs):
        if len(d["text"]) >= 200:
            by_lang[d["lang"]].append(i)
    for lang in sorted(by_lang):
        pool = by_lang[lang]
        for i in sorted(rng.sample(pool, int(round(len(pool) * args.dup_share)))):
            src = docs[i]
            rate = rng.uniform(0.005, 0.04)
            cid = "ml-dup-" + hashlib.sha1(f"{src['id']}:copy".encode()).hexdigest()[:12]
            text = edited_copy(src["text"], rng, rate, cid[-4:])
            src["dup_group"], src["dup_kind"] = src["id"], "injected"
            copies.append({"id": cid, "text": text, "lang": lang, "source": src["source"] + ":near-copy",
                           "dup_group": src["id"], "dup_kind": "injected"})
            labels.append({"kind": "injected", "lang": lang, "ids": [src["id"], cid], "edit_rate": round(rate, 4),
                           "ref_jaccard": round(len(ref_shingles(src["text"]) & ref_shingles(text)) /
                                                max(1, len(ref_shingles(src["text"]) | ref_shingles(text))), 4)})
    for d in docs:
        if d["id"] in in_natural and d["dup_kind"] is None:
            d["dup_group"], d["dup_kind"] = d["id"], "natural"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.jsonl"):
        old.unlink()
    order = list(range(len(docs)))
    rng.shuffle(order)
    shards: list[list[dict]] = [[] for _ in range(args.shards)]
    for n, i in enumerate(order):
        shards[n % args.shards].append(docs[i])
    for c in copies:
        rows = shards[rng.randrange(args.shards)]
        rows.insert(rng.randrange(len(rows) + 1), c)
    total, by = 0, defaultdict(lambda: {"docs": 0, "text_bytes": 0})
    for s, rows in enumerate(shards):
        with open(out / f"part-{s:05d}.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                line = json.dumps({"id": r["id"], "text": r["text"], "lang_truth": r["lang"], "source": r["source"],
                                   "dup_group": r["dup_group"], "dup_kind": r["dup_kind"]}, ensure_ascii=False) + "\n"
                fh.write(line)
                total += len(line.encode())
                by[r["lang"]]["docs"] += 1
                by[r["lang"]]["text_bytes"] += len(r["text"].encode())
    with open(out / "labels.jsonl", "w", encoding="utf-8") as fh:
        for lab in labels:
            fh.write(json.dumps(lab, ensure_ascii=False) + "\n")
    per_source = defaultdict(int)
    for d in docs:
        per_source[d["source"].split(":")[0] if d["source"].startswith("lingua") else d["source"].split(":")[2]] += 1
    manifest = {"seed": args.seed, "shards": args.shards, "jsonl_bytes": total, "docs": len(docs) + len(copies),
                "languages": len(by), "injected_pairs": len(copies),
                "untranslated_pages_dropped": len(dropped),
                "natural_pairs": sum(1 for lab in labels if lab["kind"] == "natural"),
                "natural_pairs_j_ge_0.7": sum(1 for lab in labels if lab["kind"] == "natural" and lab["ref_jaccard"] >= 0.7),
                "per_lang_mb": args.per_lang_mb, "lingua_per_lang_mb": args.lingua_per_lang_mb, "dup_share": args.dup_share,
                "docs_per_source": dict(sorted(per_source.items())), "by_lang": dict(sorted(by.items())),
                "packages": versions, "sources": {**SOURCES, "lingua-sentences": LINGUA_NOTE}}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    print(json.dumps({k: manifest[k] for k in ("jsonl_bytes", "docs", "languages", "injected_pairs", "natural_pairs", "untranslated_pages_dropped",
                                               "natural_pairs_j_ge_0.7")}))


if __name__ == "__main__":
    main()

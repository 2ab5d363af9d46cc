"""Build the e2e bench corpus: >= 200 MB of real mixed JSONL (zh-Hans, zh-Hant, yue, en, ja) with labelled near-duplicates.

Sources (all real text, nobody on this project wrote it):
  ../shared/corpora  Tang poems (全唐诗) and the independent 御定全唐詩 edition (natural near-dup pairs),
                     Song ci, Cantonese Common Voice sentences, lingua sentences (zh/en/ja) grouped
                     into multi-sentence documents, SOHU news passages.
  Debian packages    Chinese, Japanese and English documentation (man pages, Debian Reference,
                     Debian Handbook, maint-guide, Debian Edu, GIMP/KiCad/LinuxCNC/LilyPond help,
                     Python docs, fortunes-zh), fetched with `apt-get download` into bench/.cache.

Near-duplicates, labelled in `dup_group` / `dup_kind` (every other row has null there):
  injected  per language, a seeded sample of documents gets one edited copy placed in another shard:
            ~1% of tokens substituted/deleted, punctuation width flipped at random, a repost header
            line. The reference Jaccard of each pair (5-shingles of CJK chars or words after NFKC,
            casefold, punctuation removed) is written to labels.jsonl so difficulty is visible.
  natural   Tang poem groups present in both digitisations (variant characters, punctuation, notes).

Volume: all unique documents are written once. If they fall short of --target-mb, further
"regrouped" passes draw new anthologies (8 random poems / sentences each) from the Tang, Song and
Cantonese pools; the manifest counts them (regrouped_docs, regrouped_text_bytes), so the share
of re-used text is on record.

Deterministic: same --seed and the same Debian package versions give byte-identical output.
Usage: .venv/bin/python bench/e2e/build_corpus.py --out bench/out/e2e/corpus [--target-mb 200]
"""
from __future__ import annotations

import argparse
import glob
import gzip
import hashlib
import json
import random
import re
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "bench" / ".cache"
SHARED = REPO.parent / "shared" / "corpora"

DEBS = ["manpages-zh", "fortunes-zh", "debian-reference-zh-cn", "debian-reference-zh-tw", "maint-guide-zh-cn",
        "maint-guide-zh-tw", "debian-edu-doc-zh-cn", "debian-edu-doc-legacy-zh-cn", "gimp-help-zh-cn", "kicad-doc-zh",
        "linuxcnc-doc-zh-cn", "lilypond-doc-html-zh", "manpages-ja", "manpages-ja-dev", "debian-reference-ja",
        "debian-edu-doc-ja", "kicad-doc-ja", "lilypond-doc-html-ja", "aptitude-doc-ja", "debian-reference-en",
        "debian-handbook", "manpages", "manpages-dev", "python3.11-doc"]

# Path fragment -> language label of a Debian document (first match wins; order matters).
PATH_LANG = [("zh_TW", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh-tw", "zh-Hant"), ("zh_tw", "zh-Hant"),
             ("zh_CN", "zh-Hans"), ("zh-CN", "zh-Hans"), ("zh-cn", "zh-Hans"), ("zh_cn", "zh-Hans"),
             ("/zh/", "zh-Hans"), ("kicad/help/zh", "zh-Hans"), ("fortunes-zh", "zh-Hans"), ("games/fortunes/zh", "zh-Hans"),
             (".zh.html", "zh-Hans"), (".ja.html", "ja"), ("/ja/", "ja"), ("ja-JP", "ja"), ("/ja.", "ja"), ("_ja", "ja"), ("-ja", "ja"), ("/man/ja", "ja"),
             ("en-US", "en"), ("debian-reference/en", "en"), ("python3.11", "en"), ("/man/man", "en")]

MAX_DOC_CHARS = 20_000
MIN_DOC_CHARS = 40


# ------------------------------------------------------------------ Debian extraction
class _Text(HTMLParser):
    """Visible text of an HTML page, one block element per line."""

    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "table", "section",
             "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "nav", "head"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "nav", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_text(raw: str) -> str:
    p = _Text()
    p.feed(raw)
    return tidy("".join(p.out))


_TROFF_ESC = re.compile(r"\\f[BIRPC]|\\f\(..|\\f\[[^\]]*\]|\\s[+-]?\d|\\[&|^~%c]|\\\*\(..|\\\*.|\\\(..|\\\[[^\]]*\]")


def troff_text(raw: str) -> str:
    """Plain text of a man page: comments dropped, request lines reduced to their arguments, escapes removed."""
    out = []
    for line in raw.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\}', ".ig", ".de", ".TH")):
            continue
        if line.startswith((".", "'")):
            parts = line[1:].split(None, 1)
            line = parts[1] if len(parts) == 2 and parts[0] in {"SH", "SS", "B", "I", "BI", "BR", "IB", "IR", "RB", "RI", "TP", "IP", "HP", "Nm", "Nd", "Sh", "It", "Fl", "Ar"} else ""
            line = line.replace('"', "")
        line = _TROFF_ESC.sub("", line).replace("\\-", "-").replace("\\e", "\\").replace("\\ ", " ")
        out.append(line)
    return tidy("\n".join(out))


def tidy(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def chunks(text: str, limit: int = MAX_DOC_CHARS) -> list[str]:
    """Split a long page at paragraph boundaries into documents of at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    out, cur, size = [], [], 0
    for para in text.split("\n\n"):
        if size + len(para) > limit and cur:
            out.append("\n\n".join(cur))
            cur, size = [], 0
        cur.append(para[:limit])
        size += len(para) + 2
    if cur:
        out.append("\n\n".join(cur))
    return out


def lang_of(path: str) -> str | None:
    for frag, lang in PATH_LANG:
        if frag in path:
            return lang
    return None


def fetch_debs() -> Path:
    """Download (once) and unpack the Debian documentation packages under bench/.cache."""
    debdir, root = CACHE / "deb", CACHE / "x"
    debdir.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0] for p in debdir.glob("*.deb")}
    missing = [d for d in DEBS if d not in have]
    if missing:
        subprocess.run(["apt-get", "download", *missing], cwd=debdir, check=True)
    stamp = root / ".unpacked"
    if not stamp.exists():
        root.mkdir(parents=True, exist_ok=True)
        for deb in sorted(debdir.glob("*.deb")):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        stamp.write_text("\n".join(sorted(p.name for p in debdir.glob("*.deb"))))
    return root


def debian_docs(root: Path) -> list[dict]:
    """Every HTML page, man page and fortune file of the unpacked packages as documents (sorted paths)."""
    docs = []
    files = sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        rel = str(p.relative_to(root))
        lang = lang_of("/" + rel)
        if lang is None:
            continue
        name = p.name
        try:
            if name.endswith((".html", ".htm")):
                text = html_text(p.read_text("utf-8", errors="replace"))
                kind = "html"
            elif "/man/" in rel and re.search(r"\.\d\w*(\.gz)?$", name):
                raw = gzip.decompress(p.read_bytes()) if name.endswith(".gz") else p.read_bytes()
                if raw.startswith(b".so "):
                    continue  # alias page
                text = troff_text(raw.decode("utf-8", errors="replace"))
                kind = "man"
            elif "games/fortunes" in rel and "." not in name:
                raw = p.read_bytes().decode("utf-8", errors="replace")
                # fortunes-zh keeps ANSI colour escapes inside: real dirt the cleaners are meant for
                for i, item in enumerate(raw.split("\n%\n")):
                    if len(item.strip()) >= MIN_DOC_CHARS:
                        docs.append({"text": item.strip(), "lang": lang, "source": f"debian:{rel}#{i}"})
                continue
            else:
                continue
        except (OSError, ValueError, EOFError):
            continue
        for i, part in enumerate(chunks(text)):
            if len(part) >= MIN_DOC_CHARS:
                docs.append({"text": part, "lang": lang, "source": f"debian:{kind}:{rel}#{i}"})
    return docs


# ------------------------------------------------------------------ shared corpora
def poems(pattern: str) -> list[dict]:
    out = []
    for f in sorted(glob.glob(str(SHARED / "chinese-poetry" / pattern)), key=lambda s: (len(s), s)):
        for p in json.load(open(f, encoding="utf-8")):
            out.append(p)
    return out


def poem_text(p: dict) -> str:
    head = p.get("title") or p.get("rhythmic") or ""
    return f"{head}\n{p.get('author', '')}\n" + "\n".join(p.get("paragraphs", []))


def grouped(items: list[str], k: int) -> list[str]:
    return ["\n\n".join(items[i:i + k]) for i in range(0, len(items), k)]


def shared_docs() -> tuple[list[dict], list[tuple[int, int]], dict]:
    """Documents from ../shared plus natural Tang near-dup pairs (indexes into the returned list)."""
    docs: list[dict] = []
    pools: dict[str, list[str]] = {}
    tang = poems("全唐诗/poet.tang.*.json")
    yuding = poems("御定全唐詩/json/*.json")
    by_key = {}
    for p in yuding:
        by_key.setdefault((p.get("author", ""), p.get("title", "")), p)
    pairs = []
    k = 8  # poems per anthology document
    for i in range(0, len(tang), k):
        group = tang[i:i + k]
        docs.append({"text": "\n\n".join(poem_text(p) for p in group), "lang": "zh-Hant", "source": f"tang:{i}"})
        twins = [by_key.get((p.get("author", ""), p.get("title", ""))) for p in group]
        if all(twins):
            # the other edition of the same anthology: variant characters, punctuation, editorial notes
            body = "\n\n".join(poem_text(t) + ("\n" + "".join(t.get("notes", [])) if any(t.get("notes", [])) else "")
                               for t in twins)
            docs.append({"text": body, "lang": "zh-Hant", "source": f"yuding:{i}"})
            pairs.append((len(docs) - 2, len(docs) - 1))
    pools["zh-Hant"] = [poem_text(p) for p in tang]
    used = {(p.get("author", ""), p.get("title", "")) for p in tang}
    rest = [poem_text(p) for p in yuding if (p.get("author", ""), p.get("title", "")) not in used]
    for j, text in enumerate(grouped(rest, k)):
        docs.append({"text": text, "lang": "zh-Hant", "source": f"yuding-only:{j}"})
    song = [poem_text(p) for p in poems("宋词/ci.song.*.json")]
    pools["zh-Hans"] = song
    for j, text in enumerate(grouped(song, k)):
        docs.append({"text": text, "lang": "zh-Hans", "source": f"songci:{j}"})
    yue = json.load(open(SHARED / "cantonese-common-voice" / "sents.json", encoding="utf-8"))
    pools["yue"] = yue
    for j, text in enumerate(grouped(yue, 20)):
        docs.append({"text": text.replace("\n\n", "\n"), "lang": "yue", "source": f"cantonese-cv:{j}"})
    for code, lang in (("zh", "zh-Hans"), ("en", "en"), ("ja", "ja")):
        sents = [s.strip() for s in open(SHARED / "lingua-sentences" / f"{code}.txt", encoding="utf-8") if s.strip()]
        pools[lang + ":sent"] = sents
        for j, text in enumerate(grouped(sents, 8)):
            docs.append({"text": text.replace("\n\n", " " if lang == "en" else ""), "lang": lang, "source": f"lingua-{code}:{j}"})
    seen = set()
    for f in sorted(glob.glob(str(SHARED / "sohu-sts" / "SOHU" / "*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            rec = json.loads(line)
            for key in ("sentence1", "sentence2"):
                t = rec.get(key, "").strip()
                if len(t) >= MIN_DOC_CHARS and t not in seen:
                    seen.add(t)
                    docs.append({"text": t, "lang": "zh-Hans", "source": f"sohu:{Path(f).stem}:{len(seen)}"})
    return docs, pairs, pools


# ------------------------------------------------------------------ near-dup injection
_PUNCT_FLIP = str.maketrans({"，": ",", "。": ".", "：": ":", "；": ";", "！": "!", "？": "?", "（": "(", "）": ")",
                             ",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"})
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
HEADERS = {"zh-Hans": "转载自网络，版权归原作者所有", "zh-Hant": "轉載自網路，版權歸原作者所有", "yue": "轉載自網上，版權屬原作者",
           "en": "Reposted from the original article, all rights reserved", "ja": "元記事より転載しています"}


def edit_copy(text: str, lang: str, rng: random.Random, rate: float) -> str:
    """A near-duplicate: ~rate of tokens substituted or deleted, some punctuation width-flipped, a repost header."""
    cjk = lang in ("zh-Hans", "zh-Hant", "yue", "ja") and len(_CJK.findall(text)) > len(text) * 0.3
    if cjk:
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if _CJK.match(c)]
        pool = [chars[i] for i in pos]
        for i in rng.sample(pos, max(1, int(len(pos) * rate))):
            chars[i] = "" if rng.random() < 0.3 else rng.choice(pool)
        out = "".join(chars)
    else:
        words = text.split(" ")
        idx = rng.sample(range(len(words)), max(1, int(len(words) * rate)))
        for i in idx:
            words[i] = "" if rng.random() < 0.5 else words[rng.randrange(len(words))]
        out = " ".join(w for w in words if w)
    out = "".join(c.translate(_PUNCT_FLIP) if rng.random() < 0.3 else c for c in out)
    return HEADERS[lang] + "\n" + out


def ref_shingles(text: str, n: int = 5) -> set:
    """Reference shingles for labelling: NFKC+casefold, punctuation removed; CJK chars or words."""
    t = unicodedata.normalize("NFKC", text).casefold()
    toks = re.findall(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", t)
    cjk = sum(1 for x in toks if len(x) == 1 and _CJK.match(x))
    if cjk < len(toks) * 0.5:
        toks = [x for x in toks if not (len(x) == 1 and _CJK.match(x))] or toks
    return {tuple(toks[i:i + n]) for i in range(max(1, len(toks) - n + 1))}


def jaccard(a: str, b: str) -> float:
    x, y = ref_shingles(a), ref_shingles(b)
    return len(x & y) / max(1, len(x | y))


# ------------------------------------------------------------------ main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "bench" / "out" / "e2e" / "corpus"))
    ap.add_argument("--target-mb", type=float, default=200.0)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dups-per-lang", type=int, default=300)
    ap.add_argument("--edit-rate", type=float, default=0.01)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    docs, natural, pools = shared_docs()
    deb = debian_docs(fetch_debs())
    docs += deb
    # exact duplicate pages inside the packages (same HTML shipped twice) are kept: dedup must handle them
    base_bytes = sum(len(d["text"].encode()) for d in docs)

    # regrouped anthology passes, only if unique text falls short of the target
    regrouped = regrouped_bytes = 0
    target = int(args.target_mb * 1e6)
    est_dups = args.dups_per_lang * 5 * 3000
    pass_no = 0
    while base_bytes + est_dups < target:
        pass_no += 1
        # only the large pools (Tang 57k poems, Song 21k ci, 9.4k Cantonese sentences): each unit is re-used
        # a few times, never dozens (the lingua pools hold 412-1000 sentences and are not regrouped)
        for lang, pool in sorted((k, v) for k, v in pools.items() if len(v) > 5000):
            k = 8
            order = list(range(len(pool)))
            rng.shuffle(order)
            sep = " " if lang == "en:sent" else ("" if lang.endswith(":sent") else "\n\n")
            for j in range(0, len(order) - k + 1, k):
                text = sep.join(pool[i] for i in order[j:j + k])
                docs.append({"text": text, "lang": lang.split(":")[0], "source": f"regrouped{pass_no}:{lang}:{j}"})
                base_bytes += len(text.encode())
                regrouped += 1
                regrouped_bytes += len(text.encode())
                if base_bytes + est_dups >= target:
                    break
            if base_bytes + est_dups >= target:
                break

    for i, d in enumerate(docs):
        d["id"] = "e2e-" + hashlib.sha1(f"{i}:{d['source']}".encode()).hexdigest()[:16]
        d["dup_group"], d["dup_kind"] = None, None
    labels = []
    for a, b in natural:
        g = docs[a]["id"]
        for i in (a, b):
            docs[i]["dup_group"], docs[i]["dup_kind"] = g, "natural"
        labels.append({"group": g, "kind": "natural", "lang": "zh-Hant", "ids": [docs[a]["id"], docs[b]["id"]],
                       "ref_jaccard": round(jaccard(docs[a]["text"], docs[b]["text"]), 4)})
    copies = []
    by_lang: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        if d["dup_group"] is None and len(d["text"]) >= 200:
            by_lang.setdefault(d["lang"], []).append(i)
    for lang in sorted(by_lang):
        for i in rng.sample(by_lang[lang], min(args.dups_per_lang, len(by_lang[lang]))):
            src = docs[i]
            text = edit_copy(src["text"], lang, rng, args.edit_rate)
            cid = "e2e-dup-" + hashlib.sha1(f"{src['id']}:copy".encode()).hexdigest()[:12]
            src["dup_group"], src["dup_kind"] = src["id"], "injected"
            copies.append({"id": cid, "text": text, "lang": lang, "source": src["source"] + ":near-copy",
                           "dup_group": src["id"], "dup_kind": "injected"})
            labels.append({"group": src["id"], "kind": "injected", "lang": lang, "ids": [src["id"], cid],
                           "ref_jaccard": round(jaccard(src["text"], text), 4)})
    # originals stay in corpus order; every copy lands in a shard chosen by the seeded rng
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.jsonl"):
        old.unlink()
    order = list(range(len(docs)))
    rng.shuffle(order)  # mix sources across shards so every shard has every language
    shards: list[list[dict]] = [[] for _ in range(args.shards)]
    for n, i in enumerate(order):
        shards[n % args.shards].append(docs[i])
    for c in copies:
        rows = shards[rng.randrange(args.shards)]
        rows.insert(rng.randrange(len(rows) + 1), c)
    total_bytes, stats = 0, {}
    for s, rows in enumerate(shards):
        with open(out / f"part-{s:05d}.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                line = json.dumps({"id": r["id"], "text": r["text"], "lang_truth": r["lang"], "source": r["source"],
                                   "dup_group": r["dup_group"], "dup_kind": r["dup_kind"]}, ensure_ascii=False)
                fh.write(line + "\n")
                total_bytes += len(line.encode()) + 1
                st = stats.setdefault(r["lang"], {"docs": 0, "text_bytes": 0})
                st["docs"] += 1
                st["text_bytes"] += len(r["text"].encode())
    with open(out / "labels.jsonl", "w", encoding="utf-8") as fh:
        for lab in labels:
            fh.write(json.dumps(lab, ensure_ascii=False) + "\n")
    js = {}
    for lab in labels:
        js.setdefault(f"{lab['kind']}:{lab['lang']}", []).append(lab["ref_jaccard"])
    manifest = {"seed": args.seed, "shards": args.shards, "jsonl_bytes": total_bytes,
                "docs": sum(v["docs"] for v in stats.values()), "by_lang": stats,
                "debian_docs": len(deb), "regrouped_docs": regrouped, "regrouped_text_bytes": regrouped_bytes, "natural_pairs": len(natural),
                "injected_pairs": len(copies), "edit_rate": args.edit_rate,
                "ref_jaccard": {k: {"n": len(v), "min": min(v), "median": sorted(v)[len(v) // 2]} for k, v in sorted(js.items())},
                "debs": (CACHE / "x" / ".unpacked").read_text().split()}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    print(json.dumps({k: v for k, v in manifest.items() if k != "debs"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

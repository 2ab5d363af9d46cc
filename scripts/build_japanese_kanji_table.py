"""Build transforms/langid_data/japanese_only_kanji.json: Han characters Japanese writes and Chinese does not.

Run: .venv/bin/python scripts/build_japanese_kanji_table.py   (needs ../shared/corpora and the `opencc` wheel)

Kanji-only Japanese strings (検索, 実行, 総数) carry no kana, so identify_language read them as
Chinese. Japanese simplified some characters differently from Chinese (shinjitai: 検 vs 檢/检,
実 vs 實/实) and coined others (kokuji: 働, 込, 枠); one of those is evidence of Japanese.

A character is *Japanese-only* when it is
* a shinjitai form in OpenCC's JPShinjitaiCharacters (a key that is not its own candidate) or a
  Han character of the lingua-sentences Japanese file, that OpenCC's Chinese tables
  (STCharacters, TSCharacters) do not list, and
* seen at most MAX_CHINESE_COUNT times in the Chinese build corpora of ../shared/corpora (all Tang
  poems and Song ci, lingua zh, Common Voice yue, SOHU/STS-B): glyph variants turn up in old poems.
Sources are build data only (docs/language.md); no held-out register was read.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

from build_han_script_tables import read_opencc_dict

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "transforms" / "langid_data" / "japanese_only_kanji.json"
SHARED = Path(os.environ.get("YULIAO_SHARED", ROOT.parent / "shared")) / "corpora"
MAX_CHINESE_COUNT = 5
# Modern Chinese writes these exactly as Japanese does (妊娠 pregnancy, 肛门, 器皿, 尻 in names);
# the build corpora (poems, news, short sentences) just happen to lack them.
SHARED_BUT_RARE_IN_CORPORA = frozenset("妊娠肛皿尻")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def chinese_character_counts() -> Counter:
    """Return character counts over the Chinese build corpora."""
    counts: Counter = Counter()
    for pattern in ("chinese-poetry/全唐诗/poet.tang.*.json", "chinese-poetry/宋词/ci.song.*.json"):
        for path in sorted(SHARED.glob(pattern)):
            for poem in json.loads(path.read_text(encoding="utf-8")):
                counts.update("".join(poem.get("paragraphs", [])))
    counts.update((SHARED / "lingua-sentences" / "zh.txt").read_text(encoding="utf-8"))
    counts.update("".join(json.loads((SHARED / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))))
    for path in sorted(SHARED.glob("sohu-sts/**/*.jsonl")):
        counts.update(path.read_text(encoding="utf-8"))
    return counts


def japanese_only() -> str:
    """Return the Japanese-only characters, sorted."""
    shinjitai = read_opencc_dict("JPShinjitaiCharacters")
    chinese_tables = set()
    for name in ("STCharacters", "TSCharacters"):
        for key, cands in read_opencc_dict(name).items():
            chinese_tables.update(key, *cands)
    forms = {k for k, cands in shinjitai.items() if len(k) == 1 and k not in cands}
    forms |= set(_HAN.findall((SHARED / "lingua-sentences" / "ja.txt").read_text(encoding="utf-8")))
    forms -= chinese_tables | SHARED_BUT_RARE_IN_CORPORA
    chinese = chinese_character_counts()
    return "".join(sorted(c for c in forms if chinese[c] <= MAX_CHINESE_COUNT))


def japanese_also(script_specific: set[str]) -> str:
    """Return the Simplified- or Traditional-only characters Japanese writes too (数 参 as shinjitai, 結 係 as is).

    Japanese simplified some characters exactly as Chinese did (shinjitai keys of OpenCC's
    JPShinjitaiCharacters that are Simplified-only) and kept many in their Traditional form (Han
    characters of the lingua Japanese file): one of those is no evidence against Japanese.
    """
    shinjitai = {k for k, cands in read_opencc_dict("JPShinjitaiCharacters").items() if len(k) == 1}
    lingua = set(_HAN.findall((SHARED / "lingua-sentences" / "ja.txt").read_text(encoding="utf-8")))
    return "".join(sorted((shinjitai | lingua) & script_specific))


def main() -> None:
    chars = japanese_only()
    tables = json.loads((ROOT / "transforms" / "langid_data" / "han_script_chars.json").read_text(encoding="utf-8"))
    also = japanese_also(set(tables["simplified_only"]) | set(tables["traditional_only"]))
    OUT.write_text(json.dumps({"source": "OpenCC JPShinjitaiCharacters minus STCharacters/TSCharacters, plus lingua "
                               f"ja Han; at most {MAX_CHINESE_COUNT} uses in the Chinese corpora of ../shared/corpora",
                               "japanese_only": chars, "japanese_also": also}, ensure_ascii=False, indent=0) + "\n",
                   encoding="utf-8")
    print(f"wrote {OUT}: {len(chars)} Japanese-only characters, {len(also)} script-specific ones Japanese writes too")


if __name__ == "__main__":
    main()

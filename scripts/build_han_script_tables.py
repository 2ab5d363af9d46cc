"""Build transforms/langid_data/han_script_chars.json from OpenCC's own character dictionaries.

Run: .venv/bin/python scripts/build_han_script_tables.py   (needs the `opencc` wheel's opencc_dict tool)

A character is *Simplified-only* when OpenCC's STCharacters maps it to something other than itself
and it is not itself a Traditional character (not a key of TSCharacters); *Traditional-only* is the
mirror image. Characters OpenCC lists as their own candidate (干 -> 幹 乾 干, 乾 -> 干 乾) are valid
in both scripts and are in neither set, so they never count as evidence.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import opencc

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "transforms" / "langid_data" / "han_script_chars.json"


def read_opencc_dict(name: str) -> dict[str, list[str]]:
    """Return an OpenCC .ocd2 dictionary of the installed wheel as {key: candidates}."""
    clib = Path(opencc.__file__).parent / "clib"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{name}.txt"
        subprocess.run([str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"),
                        "-o", str(out), "-f", "ocd2", "-t", "text"], check=True)
        rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines() if line]
    return {k: v.split(" ") for k, v in rows}


def main() -> None:
    st = read_opencc_dict("STCharacters")
    ts = read_opencc_dict("TSCharacters")
    simp_only = sorted(c for c, cands in st.items() if len(c) == 1 and c not in cands and c not in ts)
    trad_only = sorted(c for c, cands in ts.items() if len(c) == 1 and c not in cands and c not in st)
    OUT.write_text(json.dumps({"source": f"OpenCC {opencc.__version__} STCharacters/TSCharacters",
                               "simplified_only": "".join(simp_only), "traditional_only": "".join(trad_only)},
                              ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(simp_only)} Simplified-only, {len(trad_only)} Traditional-only characters")


if __name__ == "__main__":
    main()

"""Build the independent PII evaluation sets: ``pii_eval_{tune,dev,dev2,dev3,dev4,heldout}.jsonl``.

Six splits from different template banks (eval_templates.TUNE / DEV / DEV2 / DEV3 / DEV4 / HELDOUT),
different written-form styles (eval_values.*_STYLE) and different seeds. ``tune`` and ``dev`` to
``dev4`` are tuning sources: the dev splits were each written as a held-out split, run once, and
then informed fixes. ``heldout`` was written after the last detector change and only evaluates; its figures are
the reported ones (see docs/cleaning.md, "PII evaluation sets").

Usage: .venv/bin/python tests/data/pii/make_pii_eval.py [--out-dir tests/data/pii]

Each JSONL record: ``id``, ``split``, ``kind`` (positive | lookalike), ``lang``, ``register``,
``template`` (index in its bank), ``subkind`` (e.g. hk, id18_before_district, version), ``text``,
``spans`` (type, start, end, value; code-point offsets; empty for look-alikes) and for look-alikes
``decoy`` (the look-alike value).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import eval_templates as T  # noqa: E402
import eval_values as V  # noqa: E402

SPLITS = {
    "tune": (20261201, T.TUNE, T.LOOKALIKE_TUNE, V.TUNE_STYLE),
    "dev": (7_340_093, T.DEV, T.LOOKALIKE_DEV, V.DEV_STYLE),
    "dev2": (991_2026, T.DEV2, T.LOOKALIKE_DEV2, V.DEV2_STYLE),
    "dev3": (31_337_2026, T.DEV3, T.LOOKALIKE_DEV3, V.DEV3_STYLE),
    "dev4": (4_242_2027, T.DEV4, T.LOOKALIKE_DEV4, V.DEV4_STYLE),
    "heldout": (5_555_2028, T.HELDOUT, T.LOOKALIKE_HELDOUT, V.HELDOUT_STYLE),
}
POSITIVES = {"ID_CARD": 150, "PHONE": 325, "EMAIL": 60, "BANK_CARD": 80, "USCC": 60, "HK_ID": 80, "IP": 80, "PASSPORT": 60,
             "MO_ID": 60, "PLATE": 60}
LOOKALIKES_PER_KIND = 30


def lookalike(r: random.Random, kind: str, style: V.Style) -> str:
    """Return one look-alike value of `kind`."""
    if kind in ("id_bad_check", "card_bad_luhn", "uscc_bad"):
        return getattr(V, f"la_{kind}")(r, style)
    return getattr(V, f"la_{kind}")(r)


def build_split(split: str) -> list[dict]:
    """Return the records of one split, deterministically."""
    seed, bank, la_bank, style = SPLITS[split]
    r = random.Random(seed)
    records: list[dict] = []
    for pii_type, n in POSITIVES.items():
        gens = [g for g, w in V.PII_GENERATORS[pii_type] for _ in range(w)]
        templates = bank[pii_type]
        for i in range(n):
            value, subkind = r.choice(gens)(r, style)
            ti = i % len(templates) if i < len(templates) else r.randrange(len(templates))
            lang, register, tpl = templates[ti]
            text = tpl.replace("{v}", value)
            assert text.count(value) == 1, (text, value)
            start = text.index(value)
            records.append({"id": f"{split}-pos-{len(records):05d}", "split": split, "kind": "positive", "lang": lang, "register": register,
                            "template": ti, "subkind": subkind, "text": text,
                            "spans": [{"type": pii_type, "start": start, "end": start + len(value), "value": value}]})
    for kind, templates in la_bank.items():
        for i in range(LOOKALIKES_PER_KIND):
            value = lookalike(r, kind, style)
            ti = i % len(templates)
            lang, register, tpl = templates[ti]
            records.append({"id": f"{split}-la-{len(records):05d}", "split": split, "kind": "lookalike", "lang": lang, "register": register,
                            "template": ti, "subkind": kind, "text": tpl.replace("{v}", value), "spans": [], "decoy": value})
    return records


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=HERE)
    args = ap.parse_args()
    for split in SPLITS:
        recs = build_split(split)
        out = args.out_dir / f"pii_eval_{split}.jsonl"
        out.write_text("".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in recs), encoding="utf-8")
        n_pos = sum(len(x["spans"]) for x in recs)
        print(f"wrote {out}: {n_pos} PII values, {sum(x['kind'] == 'lookalike' for x in recs)} look-alikes")


if __name__ == "__main__":
    main()

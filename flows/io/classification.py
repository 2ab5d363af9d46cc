"""Data classification of a release: one data class and one level, derived from what it contains.

The level is the highest of: each contained row's level (its `sensitivity` from redact_pii mapped
through `row_levels`, or `unredacted_row_levels` when the recipe only detected PII, or
`unscanned_level` for rows no PII scan saw), each source's declared level, each source licence's
minimum level, and the level the publisher declares. A declared level below what the rows need is
refused, never silently raised: the operator must see and decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flows.io.recipe import Classification


class ClassificationError(ValueError):
    """The declared level is below what the release's rows or sources need."""


@dataclass(frozen=True)
class Reason:
    """One thing that raised the level: rows of a sensitivity, a source, or a licence."""

    what: str
    name: str
    level: str
    rows: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "name": self.name, "level": self.level, **({"rows": self.rows} if self.rows is not None else {})}


def pii_mode_of(ops: list[dict[str, Any]]) -> str | None:
    """Return 'redact' or 'detect' for the run's redact_pii op, or None when the recipe has none."""
    for op in ops:
        if str(op.get("op", "")).split("@")[0] == "redact_pii":
            return str(op.get("params", {}).get("mode", "redact"))
    return None


def row_level_reasons(cfg: Classification, rows_by_sensitivity: dict[str | None, int], pii_mode: str | None) -> list[Reason]:
    """Return the level each group of contained rows needs (None = rows no PII scan looked at)."""
    mapping = cfg.unredacted_row_levels if pii_mode == "detect" else cfg.row_levels
    out = []
    for sensitivity, n in sorted(rows_by_sensitivity.items(), key=lambda kv: str(kv[0])):
        if not n:
            continue
        if sensitivity is None or pii_mode is None:
            out.append(Reason("rows", "unscanned for PII", cfg.unscanned_level, n))
        else:
            out.append(Reason("rows", f"sensitivity={sensitivity}", mapping.get(sensitivity, cfg.levels[-1]), n))
    return out


def source_level_reasons(cfg: Classification, sources: list[dict[str, Any]]) -> list[Reason]:
    """Return the levels sources declare and their licences require."""
    licence_levels = {k.lower(): v for k, v in cfg.licence_levels.items()}
    out = []
    for s in sources:
        if s.get("level"):
            out.append(Reason("source", s["source"], s["level"]))
        lic = str(s.get("licence") or "unknown").lower()
        if lic in licence_levels:
            out.append(Reason("licence", f"{s['source']}: {s.get('licence')}", licence_levels[lic]))
    return out


def classify_release(cfg: Classification, rows_by_sensitivity: dict[str | None, int], pii_mode: str | None,
                     sources: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the release's classification (data class, level, what raised it); raise when the declared level is too low."""
    rank = {name: i for i, name in enumerate(cfg.levels)}
    reasons = row_level_reasons(cfg, rows_by_sensitivity, pii_mode) + source_level_reasons(cfg, sources)
    required = max((r.level for r in reasons), key=rank.__getitem__, default=cfg.levels[0])
    if cfg.level is not None and rank[cfg.level] < rank[required]:
        raising = [r for r in reasons if rank[r.level] > rank[cfg.level]]
        said = "; ".join(f"{r.what} {r.name}" + (f" ({r.rows} rows)" if r.rows else "") + f" need {r.level}" for r in raising)
        raise ClassificationError(
            f"release.classification.level is {cfg.level!r} but the release contains data that needs {required!r}: {said}. "
            f"Declare level {required!r} (or higher), or keep those rows out (release.gates.exclude_sensitivity, "
            f"keep_history: false for unscanned history)")
    level = cfg.level or required
    return {"data_class": cfg.data_class, "level": level, "levels": list(cfg.levels), "declared": cfg.level,
            "required": required, "pii_mode": pii_mode,
            "rows_by_sensitivity": {str(k) if k is not None else "(unscanned)": v for k, v in rows_by_sensitivity.items() if v},
            "raised_by": [r.to_json() for r in reasons if r.level != cfg.levels[0]]}


def level_rank(levels: list[str], level: str) -> int:
    """Return a level's position in `levels` (ValueError naming both when unknown)."""
    try:
        return levels.index(level)
    except ValueError:
        raise ValueError(f"level {level!r} is not one of {levels}") from None

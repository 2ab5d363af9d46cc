"""Adapter for the learned quality scorer: train from Parquet files, store versioned artifacts, load and bind.

Layout: ``<workspace>/models/quality/v<N>/{model.skops, model.json}``. A version is written to a
temporary directory and renamed into place, so a crash never leaves half a model; versions are
never rewritten. ``model.json`` is the card (lineage: annotation file and its sha256, documents
file; held-out AUC, precision/recall at the threshold; single-signal baselines).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.io.store import file_sha256
from quality.learned import (
    FeatureSpec,
    QualityModel,
    ScoreQuality,
    binary_labels,
    model_from_parts,
    model_to_parts,
    oriented_auc,
    train_quality_model,
    with_baselines,
)
from quality.signals import score_all_signals
from transforms.ops import Operator
from transforms.schema import docs_from_pylist

MODELS_SUBDIR = Path("models") / "quality"
_VERSION_RE = re.compile(r"^v(\d+)$")


def models_root(workspace: Path) -> Path:
    """Return <workspace>/models/quality."""
    return Path(workspace) / MODELS_SUBDIR


def model_versions(workspace: Path) -> list[int]:
    """Return the stored model version numbers, ascending."""
    root = models_root(workspace)
    if not root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if p.is_dir() and (m := _VERSION_RE.match(p.name)))


def resolve_model_dir(workspace: Path, ref: str) -> Path:
    """Return the directory of model `ref`: 'latest', 'v<N>', or a path to a model directory."""
    if ref == "latest":
        versions = model_versions(workspace)
        if not versions:
            raise FileNotFoundError(f"no quality model under {models_root(workspace)}; train one with `yuliao quality train`")
        return models_root(workspace) / f"v{versions[-1]}"
    if _VERSION_RE.match(ref):
        path = models_root(workspace) / ref
    else:
        path = Path(ref)
    if not (path / "model.skops").is_file() or not (path / "model.json").is_file():
        raise FileNotFoundError(f"quality model {ref!r}: {path} has no model.skops/model.json (known: {[f'v{v}' for v in model_versions(workspace)]})")
    return path


def load_quality_model(model_dir: Path) -> QualityModel:
    """Load model.skops + model.json from a model directory (the sha256 in the card is checked)."""
    model_dir = Path(model_dir)
    return model_from_parts((model_dir / "model.skops").read_bytes(), (model_dir / "model.json").read_text(encoding="utf-8"))


def bind_op_resources(op: Operator, workspace: Path) -> Operator:
    """Return `op` ready to run: a score_quality op gets its model loaded; other ops are returned as they are."""
    if isinstance(op, ScoreQuality) and op.bound_model is None:
        return op.bind(load_quality_model(resolve_model_dir(Path(workspace), op.model)))
    return op


def save_quality_model(model: QualityModel, workspace: Path) -> Path:
    """Store `model` as the next version under <workspace>/models/quality and return its directory."""
    root = models_root(workspace)
    root.mkdir(parents=True, exist_ok=True)
    versions = model_versions(workspace)
    version = f"v{(versions[-1] + 1) if versions else 1}"
    blob, card_json = model_to_parts(model, version=version)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{version}."))
    try:
        (tmp / "model.skops").write_bytes(blob)
        (tmp / "model.json").write_text(card_json + "\n", encoding="utf-8")
        final = root / version
        os.rename(tmp, final)  # fails if a concurrent trainer took the same version: never overwrite
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final



def labelled_documents(annotations: pa.Table, documents: pa.Table, label_column: str) -> pa.Table:
    """Join annotation labels onto documents by id; keep documents that have a label (annotation order)."""
    if label_column not in annotations.column_names:
        labels = [c for c in annotations.column_names if c.startswith("label_")]
        raise ValueError(f"annotations have no column {label_column!r}; label columns present: {labels}")
    ann = annotations.filter(pc.is_valid(annotations.column(label_column)))
    pos = pc.index_in(ann.column("id"), value_set=documents.column("id"))
    found = pc.is_valid(pos)
    missing = ann.num_rows - (pc.sum(found.cast(pa.int64())).as_py() or 0)
    if missing:
        raise ValueError(f"{missing} annotated ids are not in the documents file; pass the documents the annotations were made on")
    docs = documents.take(pos)
    keep = [c for c in ann.column_names if c != "id" and c not in docs.column_names]
    for c in keep:
        docs = docs.append_column(c, ann.column(c))
    return docs


def heuristic_baselines(texts: list[str], langs: list[str | None], y: np.ndarray) -> dict[str, float]:
    """Return the held-out AUC of every numeric heuristic signal, each in its better direction."""
    rows = [dict(id=str(i), text=t, source="heldout", source_uri="-", raw_sha256="-", lang=lang) for i, (t, lang) in enumerate(zip(texts, langs))]
    scored = score_all_signals(docs_from_pylist(rows))
    out = {}
    for name in scored.column_names:
        col = scored.column(name)
        if not name.startswith("signal_") or not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type)):
            continue
        vals = np.array([np.nan if v is None else float(v) for v in col.to_pylist()])
        out[name] = round(oriented_auc(y, vals), 4)
    return out


def train_from_files(
    annotations_path: Path,
    documents_path: Path,
    workspace: Path,
    *,
    label_column: str = "label_quality",
    positive: tuple[str, ...] = ("good",),
    negative: tuple[str, ...] | None = None,
    group_column: str | None = None,
    annotation_set: str | None = None,
    target_precision: float = 0.9,
    seed: int = 0,
    spec: FeatureSpec = FeatureSpec(),
) -> tuple[Path, QualityModel]:
    """Train the quality scorer from an aggregated-annotations Parquet and the documents it labels; store it."""
    annotations = pq.read_table(annotations_path)
    documents = pq.read_table(documents_path)
    docs = labelled_documents(annotations, documents, label_column)
    y = binary_labels(docs.column(label_column).to_pylist(), positive, negative)
    used = np.nonzero(y >= 0)[0]
    docs = docs.take(pa.array(used))
    y = y[used]
    texts = docs.column("text").to_pylist()
    groups = None
    if group_column:
        groups = np.array([str(g) for g in docs.column(group_column).to_pylist()])
    ann_sha = file_sha256(Path(annotations_path))
    name = annotation_set or f"{Path(annotations_path).stem}@{ann_sha[:12]}"
    neg = negative if negative is not None else tuple(sorted({str(v) for v in docs.column(label_column).to_pylist()} - set(positive)))
    model, heldout = train_quality_model(
        texts, y, annotation_set=name, label_column=label_column, positive_labels=positive, negative_labels=neg,
        groups=groups, target_precision=target_precision, spec=spec, seed=seed,
    )
    langs = docs.column("lang").to_pylist() if "lang" in docs.column_names else [None] * docs.num_rows
    baselines = heuristic_baselines([texts[i] for i in heldout], [langs[i] for i in heldout], y[heldout])
    model = with_baselines(model, baselines)
    card = model.card.model_copy(update={"extra": {
        "annotations_path": str(annotations_path), "annotations_sha256": ann_sha,
        "documents_path": str(documents_path), "documents_sha256": file_sha256(Path(documents_path)),
        "group_column": group_column, "n_labelled": int(len(y)),
    }})
    model = QualityModel(model.pipeline, card)
    path = save_quality_model(model, workspace)
    return path, load_quality_model(path)


def bind_recipe_resources(recipe, workspace: Path):
    """Return `recipe` with every op that needs a stored resource bound to it (unchanged if none does)."""
    if not any(isinstance(op, ScoreQuality) for op in recipe.ops):
        return recipe
    return recipe.model_copy(update={"ops": [bind_op_resources(op, workspace) for op in recipe.ops]})

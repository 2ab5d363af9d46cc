"""Where the annotation loop keeps its files in a workspace: the one layout collect writes and lineage/report read.

  <workspace>/annotation/label_studio.sqlite                 task<->record map, gold answers, watermarks
  <workspace>/annotation/project-<id>/annotations.parquet    one row per annotation (collect)
  <workspace>/annotation/project-<id>/labels.parquet         aggregated ``label_*`` columns per record
  <workspace>/annotation/project-<id>/agreement.json         kappa/alpha, annotators, gold accuracy
  <workspace>/annotation/project-<id>/adjudication.parquet   items sent to adjudication
  <workspace>/annotation/project-<id>/pushes/<push_id>.json  what each push sent (and from which run)

No third-party imports: lineage and the report read these paths without loading the Label Studio SDK.
"""

from __future__ import annotations

from pathlib import Path

ANNOTATION_DIR = "annotation"
MAPPING_DB = "label_studio.sqlite"
PROJECT_PREFIX = "project-"
ANNOTATIONS_FILE = "annotations.parquet"
LABELS_FILE = "labels.parquet"
AGREEMENT_FILE = "agreement.json"
ADJUDICATION_FILE = "adjudication.parquet"
PUSHES_DIR = "pushes"


def annotation_root(workspace: Path) -> Path:
    """Return the workspace's annotation directory."""
    return Path(workspace) / ANNOTATION_DIR


def project_dir(workspace: Path, project_id: int) -> Path:
    """Return the directory of one project's collected files."""
    return annotation_root(workspace) / f"{PROJECT_PREFIX}{project_id}"


def project_dirs(workspace: Path) -> list[Path]:
    """Return every collected project directory of the workspace, by project id."""
    found = [d for d in annotation_root(workspace).glob(f"{PROJECT_PREFIX}*") if d.is_dir()]
    return sorted(found, key=lambda d: int(d.name[len(PROJECT_PREFIX):]) if d.name[len(PROJECT_PREFIX):].isdigit() else -1)


def annotation_files(workspace: Path) -> list[Path]:
    """Return every project's annotations.parquet in the workspace (collect's output)."""
    return [d / ANNOTATIONS_FILE for d in project_dirs(workspace) if (d / ANNOTATIONS_FILE).is_file()]

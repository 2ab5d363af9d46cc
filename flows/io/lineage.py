"""Record-level lineage from the release files alone: where a record came from and why it is (not) there.

`record_story(ref, id)` reads only `releases/<dataset>/v<N>/` (data, `_dropped/`, `_quarantine/`,
`manifest.json`) plus, when present, collect's `<workspace>/annotation/project-<id>/` files. It never
needs the run directory or the catalog, so it still answers after runs are cleaned up.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from flows.io.annotation_layout import AGREEMENT_FILE, ANNOTATION_DIR, ANNOTATIONS_FILE, LABELS_FILE
from flows.io.release_store import ReleaseRef, files_of_role, list_versions, read_manifest, releases_root
from transforms.lazy import build_once
from transforms.registry import declared_rule
from transforms.schema import CLUSTER_ID, DROP_REASON, DROPPED_BY, DUPLICATE_OF, TRACE

ANNOTATIONS_GLOB = f"{ANNOTATION_DIR}/**/{ANNOTATIONS_FILE}"
_CLUSTER_MEMBER_LIMIT = 50


@build_once
def _duck():
    """Return the process's in-memory DuckDB (connection set-up costs more than a point lookup); callers take a cursor."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    return con


def _find_rows(files: list[str], column: str, value: str, columns: list[str] | None = None) -> list[tuple[str, dict]]:
    """Return (file, row) pairs where `column == value` across Parquet files (one DuckDB scan)."""
    files = [f for f in files if column in pq.read_schema(f).names]
    if not files:
        return []
    names = set().union(*(pq.read_schema(f).names for f in files))
    select = ", ".join(f'"{c}"' for c in columns if c in names) if columns else "*"
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con = _duck().cursor()
    try:
        cur = con.execute(f'SELECT {select}, filename AS "__file" FROM read_parquet({listing}, union_by_name=true, '
                          f'filename=true) WHERE "{column}" = ? ORDER BY "__file"', [value])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    return [(row.pop("__file"), row) for row in rows]


def check_raw_record(source_uri: str, raw_sha256: str, base: Path | None = None) -> str:
    """Re-read a line-addressed raw record (`path:line`) and compare its sha256: match, mismatch or why unchecked."""
    path_s, _, line_s = source_uri.rpartition(":")
    if not line_s.isdigit() or not path_s:
        return "not checked: source_uri is not file:line"
    path = Path(path_s)
    if not path.is_absolute() and base is not None and not path.exists():
        path = base / path
    if not path.is_file():
        return f"not checked: raw file {path_s} is not here"
    if not any(path.name.lower().endswith(ext) for ext in (".jsonl", ".ndjson", ".jsonl.gz", ".jsonl.bz2", ".jsonl.xz",
                                                            ".jsonl.zst", ".json.gz")):
        return "not checked: only line-addressed JSONL/text records are re-read"
    target = int(line_s)
    with _open_raw(path) as stream:
        for lineno, raw in enumerate(stream, start=1):
            if lineno == target:
                digest = hashlib.sha256(raw.rstrip(b"\n").rstrip(b"\r")).hexdigest()
                return "match: the raw bytes are unchanged" if digest == raw_sha256 else \
                    (f"MISMATCH: {path_s} line {target} now hashes to {digest}: the raw file changed since the run "
                     "(or it is UTF-16/32, whose lines this check does not split)")
    return f"MISMATCH: {path_s} has no line {target} any more"


def _open_raw(path: Path):
    """Open a raw file for binary line iteration, decompressing by extension."""
    import bz2
    import gzip
    import io
    import lzma

    low = path.name.lower()
    if low.endswith(".gz"):
        return gzip.open(path, "rb")
    if low.endswith(".bz2"):
        return bz2.open(path, "rb")
    if low.endswith(".xz"):
        return lzma.open(path, "rb")
    if low.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(open(path, "rb"), read_across_frames=True))
    return open(path, "rb")


def _parse_meta(meta: Any) -> Any:
    if isinstance(meta, str):
        try:
            return json.loads(meta)
        except json.JSONDecodeError:
            return meta
    return meta


def op_steps(manifest: dict[str, Any], row: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """Return, per recipe op in order, what it did to this record (from `trace`, decisions and params)."""
    trace = row.get(TRACE) or []
    notes: dict[str, list[str]] = {}
    for note in trace:
        op_id, _, what = note.partition(": ")
        notes.setdefault(op_id, []).append(what or note)
    dropped_by = row.get(DROPPED_BY)
    gone = False
    steps = []
    for op in manifest["ops"]:
        op_id = op["op"]
        kind = op.get("kind", "?")  # recorded at publish time: no operator imports needed to explain a record
        step: dict[str, Any] = {"op": op_id, "kind": kind, "params": op.get("params", {})}
        if gone:
            step["did"] = "not applied: the record was already dropped"
        elif dropped_by == op_id:
            gone = True
            what = f"dropped it: {row.get(DROP_REASON)}"
            if row.get(DUPLICATE_OF):
                what += f" (duplicate of {row[DUPLICATE_OF]}, cluster {row.get(CLUSTER_ID)})"
            step["did"] = what
        elif op_id in notes:
            step["did"] = "changed it: " + "; ".join(notes[op_id])
        elif kind == "corpus" and row.get(CLUSTER_ID):
            step["did"] = f"kept it as the representative of duplicate cluster {row[CLUSTER_ID]}"
        else:
            step["did"] = "ran; no change recorded"
        steps.append(step)
    for op_id in notes:  # trace notes from ops not in the manifest's op list (should not happen; shown, not hidden)
        if not any(s["op"] == op_id for s in steps):
            steps.append({"op": op_id, "kind": "?", "params": {}, "did": "changed it: " + "; ".join(notes[op_id])})
    if status == "dropped" and str(row.get(DROP_REASON, "")).startswith("gate:"):
        steps.append({"op": "release gates", "kind": "gate", "params": {g["gate"]: g["rule"] for g in manifest["gates"]},
                      "did": f"dropped it at publish time: {row.get(DROP_REASON)} ({row.get(DROPPED_BY)})"})
    elif status == "released" and manifest["gates"]:
        steps.append({"op": "release gates", "kind": "gate", "params": {g["gate"]: g["rule"] for g in manifest["gates"]},
                      "did": "passed every gate"})
    return steps


def drop_rule(manifest: dict[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    """Return the declared rule that dropped `row` with its value and the recorded threshold, or None.

    None when the dropping op is not a Filter of this code's version (dedup, release gates, an older
    version) or the row lacks the rule's column; the rule is the operator's declaration, the value
    the row's own, the threshold the one the run recorded.
    """
    op_id, reason = row.get(DROPPED_BY), row.get(DROP_REASON)
    rule = declared_rule(op_id, reason) if op_id and reason else None
    params = next((op.get("params", {}) for op in manifest["ops"] if op["op"] == op_id), {})
    if rule is None or rule.column not in row or rule.param not in params:
        return None
    value = rule.values(pa.array([row[rule.column]])).to_pylist()[0]
    threshold = params[rule.param]
    return {"op": op_id, "reason": reason, "param": rule.param, "column": rule.column, "metric": rule.metric,
            "comparison": rule.comparison, "value": value, "threshold": threshold, "text": rule.describe(value, threshold)}


def cluster_members(release_dir: Path, manifest: dict[str, Any], cluster_id: str) -> list[dict[str, Any]]:
    """Return the members of a dedup cluster across released and dropped rows, with their status."""
    cols = ["id", "source", "source_uri", CLUSTER_ID, DROP_REASON, DROPPED_BY, DUPLICATE_OF]
    members = []
    for role, status in (("data", "released"), ("dropped", "dropped")):
        for _f, row in _find_rows(files_of_role(release_dir, manifest, role), CLUSTER_ID, cluster_id, cols):
            members.append({"id": row["id"], "status": status, "source_uri": row["source_uri"],
                            "drop_reason": row.get(DROP_REASON), "duplicate_of": row.get(DUPLICATE_OF)})
    members.sort(key=lambda m: (m["status"] != "released", m["id"]))
    return members


def find_annotations(workspace: Path, record_id: str) -> list[dict[str, Any]]:
    """Return annotation rows for a record from collect's `<workspace>/annotation/**/annotations.parquet` (if any), answers read out."""
    from quality.aggregate import answers_from_result

    rows = []
    for f in sorted(Path(workspace).glob(ANNOTATIONS_GLOB)):
        try:
            found = _find_rows([str(f)], "record_id", record_id)
        except (OSError, pa.ArrowInvalid) as exc:
            rows.append({"file": str(f), "error": f"unreadable: {exc}"})
            continue
        for _f, row in found:
            # The raw result is left out: a span's text may be personal data an annotator marked (redact_pii
            # can miss it); the answers carry every control's answer, spans as TYPE@start-end. The file has the rest.
            result = row.pop("result", None)
            answers = {"answers": answers_from_result(result)} if result is not None else {}
            rows.append({"file": str(f), **row, **answers})
    return rows


def find_aggregated_labels(workspace: Path, record_id: str) -> list[dict[str, Any]]:
    """Return, per collected project, the record's aggregated ``label_*`` values and the project's agreement figures."""
    from quality.aggregate import is_label_value_column

    out = []
    for f in sorted(Path(workspace).glob(f"{ANNOTATION_DIR}/**/{LABELS_FILE}")):
        try:
            found = _find_rows([str(f)], "id", record_id)
        except (OSError, pa.ArrowInvalid) as exc:
            out.append({"file": str(f), "error": f"unreadable: {exc}"})
            continue
        report_file = f.parent / AGREEMENT_FILE
        report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.is_file() else {}
        for _f, row in found:
            out.append({"project": f.parent.name, "file": str(f), "method": report.get("method"),
                        "labels": {k: v for k, v in row.items() if is_label_value_column(k) or k.endswith("_confidence")},
                        "agreement": report.get("summary") or {}, "gold_accuracy": report.get("gold_accuracy")})
    return out


def record_story(ref: ReleaseRef, record_id: str, verify_raw: bool = False) -> dict[str, Any]:
    """Return the full story of one record in one release; `status` is released/dropped/quarantined/absent."""
    manifest = read_manifest(ref.path)
    workspace = ref.path.parents[2]
    story: dict[str, Any] = {"release": ref.name, "id": record_id, "run_id": manifest["run"]["run_id"],
                             "recipe_sha256": manifest["recipe"]["sha256"]}
    hits = _find_rows(files_of_role(ref.path, manifest, "data"), "id", record_id)
    status = "released" if hits else None
    if not hits:
        hits = _find_rows(files_of_role(ref.path, manifest, "dropped"), "id", record_id)
        status = "dropped" if hits else None
    if not hits:
        q = _find_rows(files_of_role(ref.path, manifest, "quarantine"), "source_uri", record_id)
        if q:
            f, row = q[0]
            story.update(status="quarantined", file=str(Path(f).relative_to(ref.path)),
                         source={"source": row["source"], "source_uri": row["source_uri"], "raw_sha256": row.get("raw_sha256"),
                                 "licence": _licence(manifest, row["source"])},
                         why_not=f"quarantined before it became a document: {row['error']}: {row.get('detail')}",
                         raw_excerpt=(row.get("raw_excerpt") or b"").decode("utf-8", "replace"))
            return story
        why = f"{record_id} is not in {ref.name}'s run: neither released, dropped nor quarantined"
        if manifest.get("history", {}).get("kept") is False and manifest["run"]["totals"].get("dropped"):
            why = (f"{record_id} is not in {ref.name}; this release kept no dropped-row history "
                   "(release.keep_history: false), so whether the run dropped it cannot be told from the files")
        story.update(status="absent", why_not=why, other_versions=_versions_with(ref, record_id))
        return story
    f, row = hits[0]
    story["status"] = status
    story["file"] = str(Path(f).relative_to(ref.path))
    story["source"] = {"source": row["source"], "source_uri": row["source_uri"], "raw_sha256": row["raw_sha256"],
                       "licence": _licence(manifest, row["source"]), "meta": _parse_meta(row.get("meta"))}
    if verify_raw:
        story["source"]["raw_check"] = check_raw_record(row["source_uri"], row["raw_sha256"])
    story["record"] = {k: v for k, v in row.items() if k not in ("meta", TRACE) and not isinstance(v, (bytes, list))}
    story["trace"] = row.get(TRACE) or []
    story["ops"] = op_steps(manifest, row, status)
    if status == "released":
        split = next((e.get("split") for e in manifest["files"] if str(ref.path / e["path"]) == f), None)
        story["in_release"] = f"yes: split {split}, file {story['file']}"
    else:
        reason, by = row.get(DROP_REASON), row.get(DROPPED_BY)
        why = f"dropped by {by}: {reason}"
        if row.get(DUPLICATE_OF):
            why += f"; duplicate of {row[DUPLICATE_OF]}"
        story["why_not"] = why
        rule = drop_rule(manifest, row)
        if rule:
            story["rule"] = rule
    cid = row.get(CLUSTER_ID)
    if cid:
        members = cluster_members(ref.path, manifest, cid)
        story["cluster"] = {"cluster_id": cid, "duplicate_of": row.get(DUPLICATE_OF), "size": len(members),
                            "members": members[:_CLUSTER_MEMBER_LIMIT]}
    story["annotations"] = find_annotations(workspace, record_id)
    story["labels"] = find_aggregated_labels(workspace, record_id)
    return story


def _licence(manifest: dict[str, Any], source: str) -> str | None:
    return next((s["licence"] for s in manifest["sources"] if s["source"] == source), None)


def _versions_with(ref: ReleaseRef, record_id: str) -> list[str]:
    """Return the other versions of the dataset that released or dropped this id (for a helpful 'absent')."""
    out = []
    for v in list_versions(ref.path.parents[2], ref.dataset):
        if v == ref.version:
            continue
        d = releases_root(ref.path.parents[2]) / ref.dataset / f"v{v}"
        m = read_manifest(d)
        for role in ("data", "dropped"):
            if _find_rows(files_of_role(d, m, role), "id", record_id, ["id"]):
                out.append(f"v{v} ({'released' if role == 'data' else 'dropped'})")
                break
    return out


def render_story(story: dict[str, Any]) -> str:
    """Return the story as readable text (the CLI's default output)."""
    lines = [f"{story['id']} in {story['release']} (run {story['run_id']})"]
    status = story["status"]
    if status == "released":
        lines.append(f"  in the release: {story['in_release']}")
    else:
        lines.append(f"  NOT in the release: {story.get('why_not')}")
        if story.get("rule"):
            lines.append(f"  rule: {story['rule']['text']}")
    src = story.get("source")
    if src:
        lines.append(f"  raw source: {src['source']} (licence {src.get('licence')}) at {src['source_uri']}")
        lines.append(f"  raw sha256: {src.get('raw_sha256')}")
        if src.get("raw_check"):
            lines.append(f"  raw re-check: {src['raw_check']}")
        if src.get("meta") not in (None, {}, ""):
            lines.append(f"  meta: {json.dumps(src['meta'], ensure_ascii=False)}")
    if story.get("raw_excerpt"):
        lines.append(f"  raw excerpt: {story['raw_excerpt']!r}")
    if story.get("other_versions"):
        lines.append(f"  found in: {', '.join(story['other_versions'])}")
    if story.get("ops"):
        lines.append("  ops, in order:")
        for i, s in enumerate(story["ops"], 1):
            lines.append(f"    {i}. {s['op']} {json.dumps(s['params'], ensure_ascii=False)}: {s['did']}")
    if story.get("cluster"):
        c = story["cluster"]
        lines.append(f"  dedup cluster {c['cluster_id']} ({c['size']} members):")
        for m in c["members"]:
            mark = " <- this record" if m["id"] == story["id"] else ""
            extra = f" ({m['drop_reason']}, duplicate of {m['duplicate_of']})" if m["status"] == "dropped" else ""
            lines.append(f"    {m['id']} {m['status']}{extra} at {m['source_uri']}{mark}")
    if "annotations" in story:
        if story["annotations"]:
            lines.append(f"  annotations ({len(story['annotations'])}):")
            for a in story["annotations"]:
                if "answers" in a:
                    skipped = " (skipped)" if a.get("was_cancelled") else ""
                    lines.append(f"    {a.get('annotator')}{skipped}: {json.dumps(a['answers'], ensure_ascii=False)}"
                                 f" (task {a.get('task_id')}, lead time {a.get('lead_time')} s, updated {a.get('updated_at')})")
                else:
                    shown = {k: v for k, v in a.items() if k not in ("record_id",)}
                    lines.append(f"    {json.dumps(shown, ensure_ascii=False, default=str)}")
        else:
            lines.append("  annotations: none")
    for agg in story.get("labels") or []:
        if "error" in agg:
            lines.append(f"  aggregated labels: {agg['file']} {agg['error']}")
            continue
        ag = agg["agreement"]
        figures = ", ".join(f"{k}={v:.3f}" for k, v in ag.items() if k in ("fleiss_kappa", "alpha_nominal", "alpha_ordinal") and v is not None)
        lines.append(f"  aggregated labels ({agg['project']}, {agg['method']}): "
                     + ", ".join(f"{k}={v}" for k, v in agg["labels"].items() if v is not None))
        lines.append(f"    project agreement: {figures or 'n/a'}; gold accuracy of aggregated labels: {agg.get('gold_accuracy')}")
    return "\n".join(lines)

"""The DuckDB catalog: a query layer over runs, releases, files and decisions, rebuilt from the files.

The files are the truth. `rebuild_catalog` scans `<workspace>/runs/*/run.json` and every complete
release (`releases/<dataset>/v<N>/manifest.json`), builds a fresh database in a temporary file and
renames it over `<workspace>/catalog.duckdb`, so readers (opened read-only) never see a half-built
catalog and never block a publisher; a publisher's hidden staging directory is never indexed.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from flows.io.release_store import ReleaseError, list_datasets, list_versions, read_manifest, release_status, releases_root

CATALOG_FILE = "catalog.duckdb"

_DDL = """
CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, dataset VARCHAR, recipe_name VARCHAR, recipe_sha256 VARCHAR,
    status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, read BIGINT, kept BIGINT, dropped BIGINT,
    quarantined BIGINT, yuliao_version VARCHAR, git_commit VARCHAR, run_dir VARCHAR);
CREATE TABLE releases (dataset VARCHAR, version INTEGER, name VARCHAR, parent VARCHAR, created_at TIMESTAMPTZ,
    rows BIGINT, run_id VARCHAR, recipe_sha256 VARCHAR, path VARCHAR, status VARCHAR, PRIMARY KEY (dataset, version));
CREATE TABLE release_files (dataset VARCHAR, version INTEGER, path VARCHAR, role VARCHAR, split VARCHAR,
    rows BIGINT, bytes BIGINT, sha256 VARCHAR);
CREATE TABLE decisions (dataset VARCHAR, version INTEGER, id VARCHAR, status VARCHAR, split VARCHAR,
    drop_reason VARCHAR, dropped_by VARCHAR, duplicate_of VARCHAR, cluster_id VARCHAR, source VARCHAR,
    source_uri VARCHAR, raw_sha256 VARCHAR, file VARCHAR);
CREATE TABLE quarantine (dataset VARCHAR, version INTEGER, source VARCHAR, source_uri VARCHAR, error VARCHAR,
    detail VARCHAR, raw_sha256 VARCHAR);
CREATE TABLE run_decisions (run_id VARCHAR, id VARCHAR, status VARCHAR, drop_reason VARCHAR, dropped_by VARCHAR,
    duplicate_of VARCHAR, cluster_id VARCHAR, source VARCHAR, source_uri VARCHAR);
CREATE TABLE catalog_info (built_at TIMESTAMPTZ, workspace VARCHAR, fingerprint VARCHAR);
"""


def catalog_path(workspace: Path) -> Path:
    """Return where the workspace's catalog lives."""
    return Path(workspace) / CATALOG_FILE


def _run_files(workspace: Path) -> list[Path]:
    return sorted((Path(workspace) / "runs").glob("*/run.json"))


def fingerprint(workspace: Path) -> str:
    """Return a cheap summary of the files the catalog indexes (run records and release manifests)."""
    items = []
    for f in _run_files(workspace):
        items.append(f"{f.parent.name}:{f.stat().st_mtime_ns}")
    for ds in list_datasets(workspace):
        items.extend(f"{ds}@v{v}" for v in list_versions(workspace, ds))
    return json.dumps(items)


def _col(schema_names: list[str], name: str) -> str:
    return f'"{name}"' if name in schema_names else "NULL"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _index_parquet(con: duckdb.DuckDBPyConnection, table: str, path: Path, select: dict[str, str], consts: dict[str, Any]) -> None:
    """Insert one Parquet file's rows into `table`: `select` maps target column -> source column."""
    names = pq.read_schema(path).names
    exprs = [f"? AS {k}" for k in consts] + [f"{_col(names, src)} AS {dst}" for dst, src in select.items()]
    cols = list(consts) + list(select)
    con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM read_parquet({_sql_str(str(path))})",
                list(consts.values()))


def _index_run(con: duckdb.DuckDBPyConnection, run_json: Path) -> None:
    rec = json.loads(run_json.read_text(encoding="utf-8"))
    t = rec.get("totals", {})
    con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [rec["run_id"], rec.get("recipe", {}).get("dataset"), rec.get("recipe", {}).get("name"),
                 rec.get("recipe", {}).get("sha256"), rec.get("status"), rec.get("started_at"), rec.get("finished_at"),
                 t.get("read"), t.get("kept"), t.get("dropped"), t.get("quarantined"), rec.get("yuliao_version"),
                 rec.get("git_commit"), str(run_json.parent)])
    cols = {"id": "id", "drop_reason": "drop_reason", "dropped_by": "dropped_by", "duplicate_of": "duplicate_of",
            "cluster_id": "cluster_id", "source": "source", "source_uri": "source_uri"}
    for sub, status in (("kept", "kept"), ("dropped", "dropped")):
        for f in sorted((run_json.parent / sub).glob("part-*.parquet")):
            _index_parquet(con, "run_decisions", f, cols, {"run_id": rec["run_id"], "status": status})


def _index_release(con: duckdb.DuckDBPyConnection, release_dir: Path, dataset: str, version: int) -> None:
    m = read_manifest(release_dir)
    con.execute("INSERT INTO releases VALUES (?,?,?,?,?,?,?,?,?,?)",
                [dataset, version, m["name"], m.get("parent"), m["created_at"], m["rows"], m["run"]["run_id"],
                 m["recipe"]["sha256"], str(release_dir), release_status(release_dir)])
    for e in m["files"]:
        con.execute("INSERT INTO release_files VALUES (?,?,?,?,?,?,?,?)",
                    [dataset, version, e["path"], e["role"], e.get("split"), e["rows"], e["bytes"], e["sha256"]])
        p = release_dir / e["path"]
        if not p.is_file():
            continue
        consts = {"dataset": dataset, "version": version, "file": e["path"]}
        if e["role"] in ("data", "dropped"):
            consts |= {"status": "released" if e["role"] == "data" else "dropped", "split": e.get("split")}
            _index_parquet(con, "decisions", p, {
                "id": "id", "drop_reason": "drop_reason", "dropped_by": "dropped_by", "duplicate_of": "duplicate_of",
                "cluster_id": "cluster_id", "source": "source", "source_uri": "source_uri", "raw_sha256": "raw_sha256"}, consts)
        elif e["role"] == "quarantine":
            _index_parquet(con, "quarantine", p, {"source": "source", "source_uri": "source_uri", "error": "error",
                                                  "detail": "detail", "raw_sha256": "raw_sha256"},
                           {"dataset": dataset, "version": version})


def rebuild_catalog(workspace: Path) -> Path:
    """Rebuild the catalog from the files into a temp db and rename it into place; return its path."""
    ws = Path(workspace)
    ws.mkdir(parents=True, exist_ok=True)
    final = catalog_path(ws)
    tmp = ws / f".{CATALOG_FILE}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp"
    fp = fingerprint(ws)
    try:
        con = duckdb.connect(str(tmp))
        try:
            con.execute(_DDL)
            for run_json in _run_files(ws):
                try:
                    _index_run(con, run_json)
                except (OSError, ValueError, KeyError, duckdb.Error):
                    continue  # a run still being written has no complete record yet; it is indexed next time
            for ds in list_datasets(ws):
                for v in list_versions(ws, ds):
                    try:
                        _index_release(con, releases_root(ws) / ds / f"v{v}", ds, v)
                    except (ReleaseError, OSError, duckdb.Error) as exc:
                        con.execute("INSERT INTO releases (dataset, version, name, status) VALUES (?,?,?,?)",
                                    [ds, v, f"{ds}@v{v}", f"damaged ({exc})"])
            con.execute("INSERT INTO catalog_info VALUES (?,?,?)", [datetime.now(timezone.utc), str(ws), fp])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return final


def is_stale(workspace: Path) -> bool:
    """Return True when the catalog is missing or indexes a different set of runs/releases than the files."""
    path = catalog_path(workspace)
    if not path.is_file():
        return True
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            row = con.execute("SELECT fingerprint FROM catalog_info").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return True
    return row is None or row[0] != fingerprint(workspace)


def open_catalog(workspace: Path, refresh: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the catalog read-only, rebuilding it first when it is missing or stale (if `refresh`)."""
    if refresh and is_stale(workspace):
        rebuild_catalog(workspace)
    path = catalog_path(workspace)
    if not path.is_file():
        raise ReleaseError(f"no catalog at {path}; run `yuliao catalog rebuild`")
    return duckdb.connect(str(path), read_only=True)


def query_catalog(workspace: Path, sql: str, refresh: bool = True) -> tuple[list[str], list[tuple]]:
    """Run a read-only SQL query on the catalog; return (column names, rows)."""
    con = open_catalog(workspace, refresh)
    try:
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description] if cur.description else []
        return cols, cur.fetchall()
    finally:
        con.close()

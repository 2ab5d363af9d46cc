"""Read side of releases (no Prefect): `DATASET@VERSION` refs, manifests, verification, pull, diff.

A release is the directory `<workspace>/releases/<dataset>/v<N>/`. Only directories named `v<N>`
holding a `manifest.json` are versions; `.tmp-*` staging directories of publishers at work (or
killed ones) are never listed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.io.store import file_sha256

RELEASE_FORMAT = "yuliao.release/1"
MANIFEST = "manifest.json"
CARD = "README.md"
CHECKSUMS = "SHA256SUMS"
REGISTRATION = "registration.json"
SIGNATURE = "manifest.sig"  # written by flows.io.signing; named here so verify knows it belongs
DATA_DIR = "data"
DROPPED_DIR = "_dropped"
QUARANTINE_DIR = "_quarantine"
DEFAULT_WORKSPACE = ".yuliao/workspace"
_VERSION_DIR = re.compile(r"^v([1-9][0-9]*)$")
_REF = re.compile(r"^(?P<dataset>[A-Za-z0-9][A-Za-z0-9_.-]*?)(?:@(?P<version>latest|v?[0-9]+))?$")


class ReleaseError(RuntimeError):
    """A release that cannot be found, read or trusted; the message says which and what to do."""


class IntegrityError(ReleaseError):
    """A release file whose bytes do not match its manifest (corrupted, truncated or missing)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True)
class ReleaseRef:
    """One published version of a dataset."""

    dataset: str
    version: int
    path: Path

    @property
    def name(self) -> str:
        """Return the `dataset@vN` spelling."""
        return f"{self.dataset}@v{self.version}"


def default_workspace() -> Path:
    """Return $YULIAO_WORKSPACE or the recipes' default workspace."""
    return Path(os.environ.get("YULIAO_WORKSPACE", DEFAULT_WORKSPACE))


def releases_root(workspace: Path) -> Path:
    """Return the directory holding every dataset's versions."""
    return Path(workspace) / "releases"


def list_datasets(workspace: Path) -> list[str]:
    """Return the names of datasets with at least one published version."""
    root = releases_root(workspace)
    if not root.is_dir():
        return []
    return sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and list_versions(workspace, d.name))


def list_versions(workspace: Path, dataset: str) -> list[int]:
    """Return the published version numbers of a dataset, ascending (complete versions only)."""
    root = releases_root(workspace) / dataset
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        m = _VERSION_DIR.match(d.name)
        if m and (d / MANIFEST).is_file():
            out.append(int(m.group(1)))
    return sorted(out)


def parse_ref(text: str) -> tuple[str, str]:
    """Split `dataset@v3` / `dataset@3` / `dataset@latest` / `dataset` into (dataset, version spec)."""
    m = _REF.match(text.strip())
    if not m:
        raise ReleaseError(f"{text!r} is not a release reference; write DATASET@VERSION, e.g. demo@v2 or demo@latest")
    return m.group("dataset"), (m.group("version") or "latest")


def resolve_ref(workspace: Path, text: str) -> ReleaseRef:
    """Resolve a `DATASET@VERSION` reference (with `@latest`) to a published release."""
    dataset, spec = parse_ref(text)
    versions = list_versions(workspace, dataset)
    if not versions:
        known = ", ".join(list_datasets(workspace)) or "none"
        raise ReleaseError(f"no published releases of {dataset!r} under {releases_root(workspace)} (datasets: {known})")
    n = versions[-1] if spec == "latest" else int(spec.lstrip("v"))
    if n not in versions:
        raise ReleaseError(f"{dataset}@v{n} does not exist; versions: {', '.join(f'v{v}' for v in versions)}")
    return ReleaseRef(dataset, n, releases_root(workspace) / dataset / f"v{n}")


def read_manifest(release_dir: Path) -> dict[str, Any]:
    """Read a release's manifest, with a clear error when it is missing or damaged."""
    path = Path(release_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"{path}: no manifest; this is not a release directory") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IntegrityError(str(path), f"manifest is not valid JSON ({exc}); the release copy is damaged") from None
    if data.get("format") != RELEASE_FORMAT:
        raise ReleaseError(f"{path}: unknown release format {data.get('format')!r} (expected {RELEASE_FORMAT})")
    return data



def manifest_files(manifest: dict[str, Any], with_history: bool = True) -> list[dict[str, Any]]:
    """Return the manifest's file entries (data, card, and optionally dropped/quarantine history)."""
    return [f for f in manifest["files"] if with_history or f["role"] in ("data", "card")]


def check_file(path: Path, entry: dict[str, Any]) -> None:
    """Raise IntegrityError unless `path` has the size and sha256 its manifest entry records."""
    if not path.is_file():
        raise IntegrityError(entry["path"], "missing")
    size = path.stat().st_size
    if size != entry["bytes"]:
        kind = "truncated" if size < entry["bytes"] else "too long"
        raise IntegrityError(entry["path"], f"{kind}: {size} bytes, manifest says {entry['bytes']}")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise IntegrityError(entry["path"], f"sha256 mismatch: file has {digest}, manifest says {entry['sha256']} (corrupted)")
    if "sm3" in entry:
        from flows.io.signing import file_sm3

        if file_sm3(path) != entry["sm3"]:
            raise IntegrityError(entry["path"], f"SM3 mismatch: manifest says {entry['sm3']} (corrupted)")


def check_checksums_file(release_dir: Path) -> None:
    """Check `manifest.json` against the release's SHA256SUMS (the manifest cannot hash itself)."""
    sums = Path(release_dir) / CHECKSUMS
    if not sums.is_file():
        raise IntegrityError(CHECKSUMS, "missing")
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        if name == MANIFEST and file_sha256(Path(release_dir) / MANIFEST) != digest:
            raise IntegrityError(MANIFEST, "sha256 does not match SHA256SUMS (corrupted or edited)")


def workspace_of_release(release_dir: Path) -> Path | None:
    """Return the workspace a release directory lives in (`<ws>/releases/<dataset>/v<N>`), or None for a copy."""
    p = Path(release_dir).resolve()
    return p.parents[2] if len(p.parents) > 2 and p.parents[1].name == "releases" else None


def check_release_signature(release_dir: Path, trusted: dict | None = None) -> dict[str, Any]:
    """Return the signature record when a trusted key signed the manifest; raise SignatureError otherwise.

    `trusted` None: the keys named by $YULIAO_TRUSTED_KEYS plus `<workspace>/keys/trusted/` of the
    workspace the release lives in.
    """
    from flows.io.signing import check_signature

    return check_signature(Path(release_dir), trusted if trusted is not None else _trusted_for(release_dir), MANIFEST)


def _trusted_for(release_dir: Path) -> dict:
    from flows.io.signing import load_trusted_keys, trusted_key_sources

    return load_trusted_keys(trusted_key_sources(workspace_of_release(release_dir)))


def unexpected_files(release_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Return the files (and links) in a release directory that its manifest does not list, as relative paths."""
    root = Path(release_dir)
    known = {f["path"] for f in manifest["files"]} | {MANIFEST, CHECKSUMS, SIGNATURE, REGISTRATION}
    found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_symlink() or not p.is_dir())
    return sorted(p for p in found if p not in known)


def verify_release(release_dir: Path, with_history: bool = True, trusted: dict | None = None) -> list[dict[str, Any]]:
    """Check a release's signature, every file against its manifest, and that no other file is there; return the entries checked.

    An extra file is an error too: `load_dataset` on the folder (or a glob over `data/`) would read it.
    """
    check_checksums_file(release_dir)
    check_release_signature(release_dir, trusted)
    manifest = read_manifest(release_dir)
    entries = manifest_files(manifest, with_history)
    for entry in entries:
        check_file(Path(release_dir) / entry["path"], entry)
    extra = unexpected_files(release_dir, manifest)
    if extra:
        listed = ", ".join(extra[:10]) + (f" and {len(extra) - 10} more" if len(extra) > 10 else "")
        raise IntegrityError(extra[0], f"not in the manifest: {len(extra)} unexpected file(s) in the release ({listed}); "
                                       "loaders would read them as part of the dataset: remove them, or pull the release again")
    return entries


def _copy_verified(src: Path, dst: Path, entry: dict[str, Any]) -> None:
    """Copy src to dst hashing the bytes as they pass; raise IntegrityError naming the file on mismatch."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    n = 0
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
                fout.write(chunk)
    except FileNotFoundError:
        raise IntegrityError(entry["path"], "missing from the release") from None
    if n != entry["bytes"]:
        kind = "truncated" if n < entry["bytes"] else "too long"
        raise IntegrityError(entry["path"], f"{kind}: {n} bytes, manifest says {entry['bytes']}")
    if h.hexdigest() != entry["sha256"]:
        raise IntegrityError(entry["path"], f"sha256 mismatch: file has {h.hexdigest()}, manifest says {entry['sha256']} (corrupted)")
    if "sm3" in entry:
        from flows.io.signing import file_sm3

        if file_sm3(dst) != entry["sm3"]:
            raise IntegrityError(entry["path"], f"SM3 mismatch: manifest says {entry['sm3']} (corrupted)")


def pull_release(ref: ReleaseRef, to: Path, with_history: bool = False, trusted: dict | None = None) -> dict[str, Any]:
    """Copy a release to `to`, verifying every byte against the manifest; nothing is left on failure.

    The copy is assembled in a temporary directory beside `to` and renamed into place only when
    every file checked out, so `to` is either a complete verified release or absent.
    """
    to = Path(to)
    if to.exists() and (not to.is_dir() or any(to.iterdir())):
        raise ReleaseError(f"{to} exists and is not empty; pull into a new directory")
    check_checksums_file(ref.path)
    to.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{to.name}.pull-", dir=to.parent))
    try:
        # The signature is checked on the copied manifest, and that copy drives every file copy: a
        # manifest swapped in the source after the check cannot slip through.
        for name in (MANIFEST, SIGNATURE, REGISTRATION):
            if (ref.path / name).is_file():
                shutil.copyfile(ref.path / name, tmp / name)
        check_release_signature(tmp, trusted if trusted is not None else _trusted_for(ref.path))
        manifest = read_manifest(tmp)
        entries = manifest_files(manifest, with_history)
        for entry in entries:
            _copy_verified(ref.path / entry["path"], tmp / entry["path"], entry)
        copied = {e["path"] for e in entries} | {MANIFEST, SIGNATURE, REGISTRATION}
        sums = [line for line in (ref.path / CHECKSUMS).read_text(encoding="utf-8").splitlines()
                if line.partition("  ")[2] in copied]  # so `sha256sum -c SHA256SUMS` passes on the copy
        (tmp / CHECKSUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
        if to.exists():
            to.rmdir()
        os.rename(tmp, to)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"release": ref.name, "to": str(to), "files": len(entries),
            "bytes": sum(e["bytes"] for e in entries), "rows": manifest["rows"]}


def release_status(release_dir: Path) -> str:
    """Return a cheap health word for listings: ok, or what is wrong (sizes only; `pull` hashes)."""
    try:
        manifest = read_manifest(release_dir)
    except ReleaseError as exc:
        return f"damaged ({exc})"
    for entry in manifest["files"]:
        p = Path(release_dir) / entry["path"]
        if not p.is_file():
            return f"damaged ({entry['path']} missing)"
        if p.stat().st_size != entry["bytes"]:
            return f"damaged ({entry['path']} size differs)"
    return "ok"


def files_of_role(release_dir: Path, manifest: dict[str, Any], role: str) -> list[str]:
    """Return absolute paths (as strings) of the release's files with a role (data, dropped, quarantine)."""
    return [str(Path(release_dir) / f["path"]) for f in manifest["files"] if f["role"] == role]


def is_name_taken(exc: OSError) -> bool:
    """Return True when a rename failed because the target version directory already exists."""
    return exc.errno in (errno.EEXIST, errno.ENOTEMPTY)


def pid_alive(pid: int) -> bool:
    """Return True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publisher_state(dataset_root: Path) -> list[dict[str, Any]]:
    """Return the staging dirs of a dataset with their owner and whether it is still alive."""
    host = socket.gethostname()
    out = []
    for tmp in sorted(dataset_root.glob(".tmp-*")) if dataset_root.is_dir() else []:
        if not tmp.is_dir():
            continue
        try:
            owner = json.loads(tmp.with_name(tmp.name + ".owner").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            owner = {}
        alive = owner.get("host") == host and pid_alive(int(owner.get("pid", -1))) if owner else None
        out.append({"staging": tmp.name, "owner": owner, "status": "publishing" if alive else "abandoned"})
    return out


# ---------------------------------------------------------------- diff


_NOT_CONTENT = ("id", "trace", "cluster_id")


def _parquet_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def diff_releases(a: ReleaseRef, b: ReleaseRef, with_ids: bool = False) -> dict[str, Any]:
    """Compare two versions by record id: added, removed (with B's reasons), changed (per column)."""
    import duckdb

    ma, mb = read_manifest(a.path), read_manifest(b.path)
    con = duckdb.connect()
    try:
        for tag, ref, m in (("a", a, ma), ("b", b, mb)):
            data = files_of_role(ref.path, m, "data")
            con.execute(f"CREATE TEMP VIEW {tag} AS SELECT * FROM read_parquet({_parquet_list(data)}, union_by_name=true)")
        cols_a = [r[0] for r in con.execute("DESCRIBE a").fetchall()]
        cols_b = [r[0] for r in con.execute("DESCRIBE b").fetchall()]
        common = [c for c in cols_a if c in cols_b and c not in _NOT_CONTENT]
        dropped_b = files_of_role(b.path, mb, "dropped")
        quar_b = files_of_role(b.path, mb, "quarantine")
        dropped_a = files_of_role(a.path, ma, "dropped")
        # Why a record left: B's own history says (dropped with reason / quarantined); else it was not in B's inputs.
        con.execute("CREATE TEMP TABLE removed AS SELECT a.id, a.source_uri FROM a ANTI JOIN b USING (id)")
        con.execute("CREATE TEMP TABLE added AS SELECT b.id FROM b ANTI JOIN a USING (id)")
        if dropped_b:
            con.execute(f"CREATE TEMP VIEW db AS SELECT id, drop_reason, dropped_by FROM read_parquet({_parquet_list(dropped_b)}, union_by_name=true)")
        else:
            con.execute("CREATE TEMP VIEW db AS SELECT NULL::VARCHAR id, NULL::VARCHAR drop_reason, NULL::VARCHAR dropped_by WHERE false")
        if quar_b:
            con.execute(f"CREATE TEMP VIEW qb AS SELECT source_uri, error FROM read_parquet({_parquet_list(quar_b)}, union_by_name=true)")
        else:
            con.execute("CREATE TEMP VIEW qb AS SELECT NULL::VARCHAR source_uri, NULL::VARCHAR error WHERE false")
        if dropped_a:
            con.execute(f"CREATE TEMP VIEW da AS SELECT id, drop_reason FROM read_parquet({_parquet_list(dropped_a)}, union_by_name=true)")
        else:
            con.execute("CREATE TEMP VIEW da AS SELECT NULL::VARCHAR id, NULL::VARCHAR drop_reason WHERE false")
        gone = (f"not in {b.name}'s inputs" if mb.get("history", {}).get("kept", True) or not mb["run"]["totals"].get("dropped")
                else f"unknown: {b.name} kept no dropped-row history")
        con.execute("""CREATE TEMP TABLE removed_why AS
            SELECT r.id, COALESCE(db.drop_reason || ' (' || db.dropped_by || ')', 'quarantined: ' || qb.error, ?) AS reason
            FROM removed r LEFT JOIN db ON db.id = r.id LEFT JOIN qb ON qb.source_uri = r.source_uri""", [gone])
        con.execute("""CREATE TEMP TABLE added_why AS
            SELECT x.id, COALESCE('was dropped in ' || ? || ': ' || da.drop_reason, 'new input') AS reason
            FROM added x LEFT JOIN da ON da.id = x.id""", [a.name])
        if common:
            diffs = ", ".join(f'(a."{c}" IS DISTINCT FROM b."{c}") AS "{c}"' for c in common)
            con.execute(f"CREATE TEMP TABLE cmp AS SELECT a.id, {diffs} FROM a JOIN b USING (id)")
            any_change = " OR ".join(f'"{c}"' for c in common)
            con.execute(f"CREATE TEMP TABLE changed AS SELECT * FROM cmp WHERE {any_change}")
            per_col = con.execute("SELECT " + ", ".join(f'count(*) FILTER (WHERE "{c}")' for c in common) + " FROM changed").fetchone()
            changed_columns = {c: n for c, n in zip(common, per_col) if n}
        else:
            con.execute("CREATE TEMP TABLE changed AS SELECT id FROM a JOIN b USING (id) WHERE false")
            changed_columns = {}
        count = lambda t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
        out: dict[str, Any] = {
            "a": a.name, "b": b.name, "rows_a": ma["rows"], "rows_b": mb["rows"],
            "added": count("added"), "removed": count("removed"), "changed": count("changed"),
            "unchanged": con.execute("SELECT count(*) FROM a JOIN b USING (id)").fetchone()[0] - count("changed"),
            "removed_by_reason": dict(con.execute("SELECT reason, count(*) FROM removed_why GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()),
            "added_by_reason": dict(con.execute("SELECT reason, count(*) FROM added_why GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()),
            "changed_by_column": changed_columns,
            "columns_added": [c for c in cols_b if c not in cols_a], "columns_removed": [c for c in cols_a if c not in cols_b],
            "recipe_changed": ma["recipe"]["sha256"] != mb["recipe"]["sha256"],
        }
        if with_ids:
            out["ids"] = {
                "added": [{"id": i, "reason": r} for i, r in con.execute("SELECT id, reason FROM added_why ORDER BY id").fetchall()],
                "removed": [{"id": i, "reason": r} for i, r in con.execute("SELECT id, reason FROM removed_why ORDER BY id").fetchall()],
                "changed": [{"id": r[0], "columns": [c for c, v in zip(common, r[1:]) if v]}
                            for r in con.execute("SELECT * FROM changed ORDER BY id").fetchall()],
            }
        return out
    finally:
        con.close()

"""CLI for releases: release, releases, show, pull, verify, diff, lineage, catalog rebuild|query.

Exit codes scripts can trust: 0 ok; 1 unexpected failure; 2 bad input (unknown dataset/version/run,
bad reference, not a completed run, no signing key); 4 integrity failure (a file's bytes differ from
its manifest); 5 record not found (lineage); 6 signature refused (unsigned, untrusted key, or the
manifest changed after signing); 7 access refused by the access policy. Answers go to stdout;
progress and notes go to stderr.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTEGRITY = 4
EXIT_NOT_FOUND = 5
EXIT_SIGNATURE = 6
EXIT_ACCESS_DENIED = 7

err = Console(stderr=True)
WorkspaceOpt = typer.Option(None, "--workspace", "-w", help="workspace dir (default: $YULIAO_WORKSPACE or .yuliao/workspace)")
TrustedKeysOpt = typer.Option(None, "--trusted-keys", help="trusted public key file or directory (repeatable; "
                              "also $YULIAO_TRUSTED_KEYS and <workspace>/keys/trusted/)")


def _ws(workspace: Optional[Path]) -> Path:
    from flows.io.release_store import default_workspace

    return Path(workspace) if workspace else default_workspace()


def _fail(code: int, message: str) -> None:
    err.print(f"[red]error[/red]: {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _resolve(workspace: Path, ref: str):
    from flows.io.release_store import ReleaseError, resolve_ref

    try:
        return resolve_ref(workspace, ref)
    except ReleaseError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def release_cmd(
    run: str = typer.Argument(..., help="run directory, or a run id under <workspace>/runs/"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="dataset name (default: the recipe's release.dataset or name)"),
    workspace: Optional[Path] = WorkspaceOpt,
    catalog: bool = typer.Option(True, "--catalog/--no-catalog", help="refresh the DuckDB catalog after publishing"),
    key: Optional[Path] = typer.Option(None, "--key", help="signing key (default: $YULIAO_SIGNING_KEY or <workspace>/keys/publisher.key)"),
) -> None:
    """Publish a completed run as the next signed, classified version releases/<dataset>/v<N>/."""
    from flows.io.recipe import RecipeError
    from flows.io.release_store import ReleaseError

    ws = Path(workspace) if workspace else None
    try:
        from flows.release import already_published, release_flow, resolve_run_dir
        from flows.io.store import read_json

        rd = resolve_run_dir(run, ws if ws else _ws(None))
        rec = read_json(rd / "run.json")
        from flows.io.recipe import parse_recipe

        name = dataset or parse_recipe((rd / "recipe.yaml").read_text(encoding="utf-8"), str(rd / "recipe.yaml")).dataset
        prior = already_published(ws or rd.parent.parent, name, rec["run_id"])
        if prior:
            err.print(f"note: run {rec['run_id']} was already published as {', '.join(f'{name}@v{v}' for v in prior)}; publishing again")
        from flows.server.resident_api import flow_api

        with flow_api():
            result = release_flow(run=str(rd), dataset=dataset, workspace=str(ws) if ws else None, refresh_catalog=catalog,
                                  signing_key=str(key) if key else None)
    except (ReleaseError, RecipeError) as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    if result.get("removed_abandoned"):
        err.print(f"removed abandoned staging dir(s) of killed publishers: {', '.join(result['removed_abandoned'])}")
    gates = ", ".join(f"{k}={v}" for k, v in sorted(result["gates"].items()))
    err.print(f"published [bold]{result['name']}[/bold] from run {result['run_id']}: {result['rows']} rows, "
              f"parent {result['parent'] or 'none'}" + (f"; gated out: {gates}" if gates else ""))
    err.print(f"classified [bold]{result['level']}[/bold]; manifest signed with key {result['key_id']} ({result['suite']})")
    typer.echo(f"release: {result['path']}")
    typer.echo(f"manifest: {Path(result['path']) / 'manifest.json'}")
    if result.get("catalog"):
        typer.echo(f"catalog: {result['catalog']}")


def releases_cmd(
    dataset: Optional[str] = typer.Argument(None, help="only this dataset"),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List versions with dates, rows, parent, run and status (plus publishes in progress or abandoned)."""
    from flows.io.release_store import (ReleaseError, list_datasets, list_versions, publisher_state, read_manifest,
                                     release_status, releases_root)

    ws = _ws(workspace)
    names = [dataset] if dataset else list_datasets(ws)
    if dataset and not list_versions(ws, dataset) and not publisher_state(releases_root(ws) / dataset):
        _fail(EXIT_BAD_INPUT, f"no releases of {dataset!r} under {releases_root(ws)} (datasets: {', '.join(list_datasets(ws)) or 'none'})")
    rows = []
    for ds in names:
        for v in list_versions(ws, ds):
            d = releases_root(ws) / ds / f"v{v}"
            try:
                m = read_manifest(d)
                rows.append({"release": f"{ds}@v{v}", "created_at": m["created_at"], "rows": m["rows"], "parent": m["parent"],
                             "run_id": m["run"]["run_id"], "status": release_status(d), "path": str(d)})
            except ReleaseError as exc:
                rows.append({"release": f"{ds}@v{v}", "created_at": None, "rows": None, "parent": None, "run_id": None,
                             "status": f"damaged ({exc})", "path": str(d)})
        for s in publisher_state(releases_root(ws) / ds):
            rows.append({"release": f"{ds}@(staging {s['staging']})", "created_at": s["owner"].get("started_at"), "rows": None,
                         "parent": None, "run_id": s["owner"].get("run_id"), "status": s["status"],
                         "path": str(releases_root(ws) / ds / s["staging"])})
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        err.print(f"no releases under {releases_root(ws)}")
        return
    from rich.table import Table

    table = Table(title=f"releases in {releases_root(ws)}")
    for col in ("release", "created", "rows", "parent", "run", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["release"], (r["created_at"] or "")[:19], str(r["rows"] if r["rows"] is not None else ""),
                      r["parent"] or "", r["run_id"] or "", r["status"])
    Console(soft_wrap=True).print(table)


def show_cmd(
    ref: str = typer.Argument(..., help="DATASET@VERSION (e.g. demo@v2, demo@latest)"),
    workspace: Optional[Path] = WorkspaceOpt,
    card: bool = typer.Option(True, "--card/--no-card", help="print the dataset card after the summary"),
    as_json: bool = typer.Option(False, "--json", help="print the whole manifest as JSON"),
) -> None:
    """Show a release: manifest summary (rows, files, parent, run, recipe, drops, gates) and its card."""
    from flows.io.release_store import CARD, read_manifest

    r = _resolve(_ws(workspace), ref)
    m = read_manifest(r.path)
    if as_json:
        _echo_json(m)
        return
    data = [f for f in m["files"] if f["role"] == "data"]
    lines = [
        f"{m['name']}  ({r.path})",
        f"  created {m['created_at']}, parent {m['parent'] or 'none'}, {m['rows']} rows in {len(data)} data file(s), "
        f"{sum(f['bytes'] for f in data)} bytes",
        f"  splits: " + ", ".join(f"{k}={v}" for k, v in m["splits"]["rows"].items()),
        f"  run {m['run']['run_id']}; recipe {m['recipe']['name']} sha256 {m['recipe']['sha256'][:16]}…; "
        f"git {str(m['code'].get('git_commit_run'))[:12]}",
        "  drops: " + (", ".join(f"{k}={v}" for k, v in m["drops_by_reason"].items()) or "none"),
        "  quarantine: " + (", ".join(f"{k}={v}" for k, v in m["quarantine_by_error"].items()) or "none"),
        "  gates: " + (", ".join(f"{g['rule']} (dropped {g['dropped']})" for g in m["gates"]) or "none"),
        "  sources: " + ", ".join(f"{s['source']} [{s['licence']}] {s['released']}" for s in m["sources"]),
    ]
    if m.get("classification"):
        c, sig = m["classification"], m.get("signing", {})
        lines.append(f"  classification: {c['data_class']}, level {c['level']} (of {', '.join(c['levels'])}); "
                     f"signed by {sig.get('signer') or '?'} key {sig.get('key_id')} ({sig.get('suite')})")
    if m.get("annotation"):
        lines.append("  annotations: " + ", ".join(f"{c}: {a['labelled_rows']} labelled" for c, a in m["annotation"].items()))
    typer.echo("\n".join(lines))
    if card:
        typer.echo("")
        typer.echo((r.path / CARD).read_text(encoding="utf-8"))


def pull_cmd(
    ref: str = typer.Argument(..., help="DATASET@VERSION to copy"),
    to: Path = typer.Option(..., "--to", help="destination directory (must not exist or be empty)"),
    workspace: Optional[Path] = WorkspaceOpt,
    with_history: bool = typer.Option(False, "--with-history", help="also copy _dropped/ and _quarantine/"),
    team: Optional[str] = typer.Option(None, "--team", help="team pulling (checked against the access policy; default $YULIAO_TEAM)"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="access policy file (default: $YULIAO_ACCESS_POLICY or <workspace>/access-policy.yaml)"),
    trusted_keys: Optional[list[Path]] = TrustedKeysOpt,
) -> None:
    """Copy a signed release to DIR after the signature and access checks, verifying every file (exit 4/6/7 on refusal)."""
    from flows.io.access import PolicyError, load_policy, may_pull
    from flows.io.audit import append_event, current_actor
    from flows.io.release_store import IntegrityError, ReleaseError, check_release_signature, file_sha256, pull_release, read_manifest
    from flows.io.signing import KeyFileError, SignatureError, load_trusted_keys, trusted_key_sources

    ws = _ws(workspace)
    r = _resolve(ws, ref)
    actor = current_actor(team)
    try:
        trusted = load_trusted_keys(trusted_key_sources(ws, trusted_keys))
        check_release_signature(r.path, trusted)  # the level read below is only trusted once the manifest is
        manifest = read_manifest(r.path)
        digest = file_sha256(r.path / "manifest.json")
        level, levels = manifest["classification"]["level"], manifest["classification"]["levels"]
        allowed, why = may_pull(load_policy(ws, policy), actor["team"], r.dataset, level, levels)
    except (SignatureError, KeyFileError) as exc:
        append_event(ws, "verify_failed", actor=actor, ref=r.name, outcome="refused", detail=f"pull: {exc}")
        _fail(EXIT_SIGNATURE, f"{r.name} refused, nothing was copied: {exc}")
    except PolicyError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    except (ReleaseError, KeyError) as exc:
        _fail(EXIT_BAD_INPUT, f"{r.name}: {exc}")
    if not allowed:
        append_event(ws, "pull_refused", actor=actor, ref=r.name, digest=digest, level=level, outcome="refused", detail=why)
        _fail(EXIT_ACCESS_DENIED, f"{r.name} refused by the access policy: {why}")
    try:
        out = pull_release(r, to, with_history=with_history, trusted=trusted)
    except SignatureError as exc:
        append_event(ws, "verify_failed", actor=actor, ref=r.name, digest=digest, level=level, outcome="refused", detail=f"pull: {exc}")
        _fail(EXIT_SIGNATURE, f"{r.name} refused, nothing was copied to {to}: {exc}")
    except IntegrityError as exc:
        append_event(ws, "verify_failed", actor=actor, ref=r.name, digest=digest, level=level, outcome="failed", detail=f"pull: {exc}")
        _fail(EXIT_INTEGRITY, f"{r.name} failed verification, nothing was copied to {to}: {exc}")
    except ReleaseError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    append_event(ws, "pull", actor=actor, ref=r.name, digest=digest, level=level, detail=f"to {Path(out['to']).resolve()}; {why}")
    err.print(f"pulled {out['release']} ({level}): {out['files']} file(s), {out['bytes']} bytes, {out['rows']} rows; "
              f"signature by {manifest['signing']['key_id']} and every digest verified; recorded in the audit log")
    typer.echo(f"pulled: {out['to']}")
    typer.echo(f'load: datasets.load_dataset("{Path(out["to"]).resolve()}")')


def verify_cmd(
    ref: str = typer.Argument(..., help="DATASET@VERSION, or a release directory (e.g. a pulled copy)"),
    workspace: Optional[Path] = WorkspaceOpt,
    trusted_keys: Optional[list[Path]] = TrustedKeysOpt,
) -> None:
    """Check a release's signature and every file in place (exit 6 signature refused, 4 naming the first bad file)."""
    from flows.io.audit import append_event, current_actor
    from flows.io.release_store import (IntegrityError, MANIFEST, ReleaseError, check_release_signature, read_manifest,
                                     verify_release, workspace_of_release)
    from flows.io.signing import KeyFileError, SignatureError, load_trusted_keys, trusted_key_sources

    if (Path(ref) / MANIFEST).is_file():  # a directory: a pulled copy holds what its SHA256SUMS lists
        path, name = Path(ref), str(ref)
        try:
            history = any((path / f["path"]).exists() for f in read_manifest(path)["files"] if f["role"] not in ("data", "card"))
        except ReleaseError as exc:
            _fail(EXIT_INTEGRITY, str(exc))
    else:
        r = _resolve(_ws(workspace), ref)
        path, name, history = r.path, r.name, True
    ws = workspace_of_release(path) or _ws(workspace)
    try:
        trusted = load_trusted_keys(trusted_key_sources(ws, trusted_keys))
        entries = verify_release(path, with_history=history, trusted=trusted)
    except (SignatureError, KeyFileError) as exc:
        append_event(ws, "verify_failed", actor=current_actor(None), ref=name, outcome="refused", detail=str(exc))
        _fail(EXIT_SIGNATURE, f"{name}: {exc}")
    except IntegrityError as exc:
        append_event(ws, "verify_failed", actor=current_actor(None), ref=name, outcome="failed", detail=str(exc))
        _fail(EXIT_INTEGRITY, f"{name}: {exc}")
    sig = check_release_signature(path, trusted)
    level = read_manifest(path).get("classification", {}).get("level", "unclassified")
    typer.echo(f"{name}: ok ({len(entries)} files verified; signed by {sig['key_id']} ({sig['suite']}); classified {level})")


def diff_cmd(
    a: str = typer.Argument(..., help="older DATASET@VERSION"),
    b: str = typer.Argument(..., help="newer DATASET@VERSION"),
    workspace: Optional[Path] = WorkspaceOpt,
    ids: bool = typer.Option(False, "--ids", help="list the ids added, removed and changed"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Compare two versions by record id: added, removed (with reasons), changed (per column)."""
    from flows.io.release_store import diff_releases

    ws = _ws(workspace)
    ra, rb = _resolve(ws, a), _resolve(ws, b)
    d = diff_releases(ra, rb, with_ids=ids)
    if as_json:
        _echo_json(d)
        return
    lines = [f"{d['a']} ({d['rows_a']} rows) -> {d['b']} ({d['rows_b']} rows)",
             f"  added {d['added']}, removed {d['removed']}, changed {d['changed']}, unchanged {d['unchanged']}"
             + ("; recipe changed" if d["recipe_changed"] else "")]
    for title, key in (("removed, by reason", "removed_by_reason"), ("added, by origin", "added_by_reason"),
                       ("changed, by column", "changed_by_column")):
        if d[key]:
            lines.append(f"  {title}:")
            lines.extend(f"    {n:>8}  {k}" for k, n in d[key].items())
    if d["columns_added"] or d["columns_removed"]:
        lines.append(f"  columns added {d['columns_added']}, removed {d['columns_removed']}")
    if ids:
        for kind in ("added", "removed", "changed"):
            for item in d["ids"][kind]:
                extra = item.get("reason") or ",".join(item.get("columns", []))
                lines.append(f"{kind}\t{item['id']}\t{extra}")
    typer.echo("\n".join(lines))


def lineage_cmd(
    ref: str = typer.Argument(..., help="DATASET@VERSION"),
    record_id: str = typer.Argument(..., help="record id (or a quarantined record's source_uri, e.g. file.jsonl:12)"),
    workspace: Optional[Path] = WorkspaceOpt,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    verify_raw: bool = typer.Option(False, "--verify-raw", help="re-read the raw line and compare its sha256"),
) -> None:
    """Tell a record's story: raw source, every op and what it did, dedup cluster, annotations, in or why not."""
    from flows.io.lineage import record_story, render_story

    r = _resolve(_ws(workspace), ref)
    story = record_story(r, record_id, verify_raw=verify_raw)
    if as_json:
        _echo_json(story)
    else:
        typer.echo(render_story(story))
    if story["status"] == "absent":
        raise typer.Exit(EXIT_NOT_FOUND)


catalog_app = typer.Typer(help="The DuckDB catalog over runs, releases, files and decisions (rebuilt from the files).",
                          no_args_is_help=True)


@catalog_app.command("rebuild")
def catalog_rebuild_cmd(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Rebuild the catalog from the files (safe while another process publishes)."""
    from flows.io.catalog import query_catalog, rebuild_catalog

    ws = _ws(workspace)
    path = rebuild_catalog(ws)
    _cols, rows = query_catalog(ws, "SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM releases), "
                                    "(SELECT count(*) FROM release_files), (SELECT count(*) FROM decisions)", refresh=False)
    n_runs, n_rel, n_files, n_dec = rows[0]
    err.print(f"indexed {n_runs} run(s), {n_rel} release(s), {n_files} file(s), {n_dec} decision row(s)")
    typer.echo(f"catalog: {path}")


@catalog_app.command("query")
def catalog_query_cmd(
    sql: str = typer.Argument(..., help="SQL over tables runs, releases, release_files, decisions, quarantine, run_decisions"),
    workspace: Optional[Path] = WorkspaceOpt,
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json"),
    refresh: bool = typer.Option(True, "--refresh/--no-refresh", help="rebuild first if the files changed"),
) -> None:
    """Run a read-only SQL query on the catalog."""
    import duckdb

    from flows.io.catalog import query_catalog

    try:
        cols, rows = query_catalog(_ws(workspace), sql, refresh=refresh)
    except duckdb.Error as exc:
        _fail(EXIT_BAD_INPUT, f"query failed: {exc}")
    if fmt == "json":
        _echo_json([dict(zip(cols, r)) for r in rows])
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    else:
        from rich.table import Table

        table = Table()
        for c in cols:
            table.add_column(c)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        Console(soft_wrap=True).print(table)


def register(app: typer.Typer) -> None:
    """Add the release commands to the `yuliao` app."""
    app.command("release")(release_cmd)
    app.command("releases")(releases_cmd)
    app.command("show")(show_cmd)
    app.command("pull")(pull_cmd)
    app.command("verify")(verify_cmd)
    app.command("diff")(diff_cmd)
    app.command("lineage")(lineage_cmd)
    app.add_typer(catalog_app, name="catalog")

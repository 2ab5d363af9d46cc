"""CLI for publisher keys and the audit record: keys create|list|trust, audit show|verify.

Exit codes (the same table as the release commands): 0 ok; 2 bad input (unknown suite, key file
exists or is damaged); 4 the audit chain is broken (the first broken link is named). Key material
is never printed: only paths, suites, key ids and owners.
"""

from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from flows.cli.release import EXIT_BAD_INPUT, EXIT_INTEGRITY, WorkspaceOpt, _fail, _ws

err = Console(stderr=True)
keys_app = typer.Typer(help="Publisher signing keys: create, list, trust.", no_args_is_help=True)
audit_app = typer.Typer(help="The workspace's hash-chained record of publishes, pulls and refusals.", no_args_is_help=True)


@keys_app.command("create")
def keys_create_cmd(
    suite: str = typer.Option("ed25519", "--suite", help="ed25519 (Ed25519 + SHA-256, default) or sm2 (SM2 + SM3, GB/T 32918 / 32905)"),
    name: str = typer.Option("publisher", "--name", help="file name stem: <name>.key and <name>.pub"),
    owner: Optional[str] = typer.Option(None, "--owner", help="who the key belongs to (default: the OS user)"),
    directory: Optional[Path] = typer.Option(None, "--dir", help="where to write the pair (default: <workspace>/keys)"),
    workspace: Optional[Path] = WorkspaceOpt,
    trust: bool = typer.Option(True, "--trust/--no-trust", help="also add the public key to <workspace>/keys/trusted/"),
) -> None:
    """Create a signing key pair (private key mode 0600; never overwrites an existing key)."""
    from flows.io.signing import KeyFileError, keys_dir, new_private_key, write_key_pair, write_public_key

    ws = _ws(workspace)
    try:
        key = new_private_key(suite, owner or getpass.getuser())
        priv, pub = write_key_pair(key, Path(directory) if directory else keys_dir(ws), name)
    except KeyFileError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    err.print(f"created {key.suite} key {key.key_id} for {key.owner}; keep {priv} private (mode 0600)")
    typer.echo(f"private: {priv}")
    typer.echo(f"public: {pub}")
    if trust:
        trusted = keys_dir(ws) / "trusted" / f"{key.key_id}.pub"
        write_public_key(key.public_key(), trusted)
        typer.echo(f"trusted: {trusted}")


@keys_app.command("list")
def keys_list_cmd(
    workspace: Optional[Path] = WorkspaceOpt,
    trusted_keys: Optional[list[Path]] = typer.Option(None, "--trusted-keys", help="extra trusted key files or dirs"),
) -> None:
    """List the trusted public keys (key id, suite, owner, file)."""
    from flows.io.signing import KeyFileError, load_trusted_keys, trusted_key_sources

    try:
        keys = load_trusted_keys(trusted_key_sources(_ws(workspace), trusted_keys))
    except KeyFileError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    if not keys:
        err.print("no trusted keys (create one with `yuliao keys create`, or add a .pub with `yuliao keys trust`)")
    for k in keys.values():
        typer.echo(f"{k.key_id}\t{k.suite}\t{k.owner}\t{k.path}")


@keys_app.command("trust")
def keys_trust_cmd(
    public_key: Path = typer.Argument(..., help="a publisher's .pub file"),
    workspace: Optional[Path] = WorkspaceOpt,
) -> None:
    """Trust a publisher's public key in this workspace (copied to <workspace>/keys/trusted/<key id>.pub)."""
    from flows.io.signing import KeyFileError, keys_dir, load_public_key

    try:
        key = load_public_key(public_key)
    except KeyFileError as exc:
        _fail(EXIT_BAD_INPUT, str(exc))
    dest = keys_dir(_ws(workspace)) / "trusted" / f"{key.key_id}.pub"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(public_key, dest)
    typer.echo(f"trusted: {dest} ({key.suite} key {key.key_id} of {key.owner})")


@audit_app.command("show")
def audit_show_cmd(
    workspace: Optional[Path] = WorkspaceOpt,
    last: int = typer.Option(0, "--last", min=0, help="only the last N entries"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines"),
) -> None:
    """Print the audit record: who published, pulled or was refused what, when, with the manifest digest."""
    from flows.io.audit import audit_path, read_entries

    ws = _ws(workspace)
    try:
        entries = read_entries(ws)
    except ValueError as exc:
        _fail(EXIT_INTEGRITY, str(exc))
    entries = entries[-last:] if last else entries
    if not entries:
        err.print(f"no audit entries in {audit_path(ws)}")
    for e in entries:
        if as_json:
            typer.echo(json.dumps(e, ensure_ascii=False))
            continue
        who = f"{e['actor'].get('user')}@{e['actor'].get('host')}" + (f" team {e['actor']['team']}" if e["actor"].get("team") else "")
        typer.echo(f"{e['seq']:>5}  {e['at'][:19]}  {e['action']:<13} {e['outcome']:<8} {e.get('ref') or '-':<20} "
                   f"{e.get('level') or '-':<9} {who}  {(e.get('digest') or '')[:16]}  {e.get('detail') or ''}")


@audit_app.command("verify")
def audit_verify_cmd(workspace: Optional[Path] = WorkspaceOpt) -> None:
    """Check the audit chain and the log heads signed into releases; exit 4 naming the first broken link."""
    from flows.io.audit import audit_path, chain_problems, read_entries
    from flows.io.release_store import ReleaseError, list_datasets, list_versions, read_manifest, releases_root

    ws = _ws(workspace)
    try:
        entries = read_entries(ws)
    except ValueError as exc:
        _fail(EXIT_INTEGRITY, str(exc))
    anchors = []
    for ds in list_datasets(ws):
        for v in list_versions(ws, ds):
            try:
                anchor = read_manifest(releases_root(ws) / ds / f"v{v}").get("audit_anchor")
            except ReleaseError:
                continue
            if anchor:
                anchors.append((f"{ds}@v{v}", anchor))
    problems = chain_problems(entries, anchors)
    if problems:
        for p in problems:
            err.print(f"[red]broken[/red]: {audit_path(ws)} {p}", highlight=False)
        _fail(EXIT_INTEGRITY, f"audit chain broken at {problems[0]}")
    typer.echo(f"{audit_path(ws)}: ok ({len(entries)} entries, {len(anchors)} release anchor(s) match)")


def register(app: typer.Typer) -> None:
    """Add the keys and audit command groups to the `yuliao` app."""
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")

"""Releases a compliance officer can sign off: classification, signatures, access policy, audit, registration."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.io.audit import read_entries
from flows.release import release_flow
from flows.io.release_store import check_file, read_manifest, resolve_ref
from flows.io.signing import new_private_key, write_key_pair
from tests.flows._release_helpers import curated_runs, fresh_workspace


@pytest.fixture()
def runs(tmp_path_factory, prefect_api):
    return curated_runs(tmp_path_factory)


def _publish(runs, ws: Path, name: str = "v1", key: Path | None = None) -> dict:
    return release_flow(run=str(ws / "runs" / runs[name].name), workspace=str(ws), refresh_catalog=False,
                        signing_key=str(key) if key else None)


def _cli(*args: str):
    from flows.cli.main import app

    return CliRunner().invoke(app, list(args))


def _edit_release_recipe(ws: Path, runs, name: str, release_yaml: str) -> None:
    """Rewrite the copied run's recipe.yaml release section (the publish reads it from the run dir)."""
    path = ws / "runs" / runs[name].name / "recipe.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("release:")] + release_yaml, encoding="utf-8")


def _rewrite_consistently(release_dir: Path, shard_path: str) -> None:
    """Tamper with a shard and recompute every sum beside it (manifest entry and SHA256SUMS), as an attacker would."""
    shard = release_dir / shard_path
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    os.chmod(shard, 0o644)
    shard.write_bytes(bytes(raw))
    manifest_path = release_dir / "manifest.json"
    os.chmod(manifest_path, 0o644)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for f in manifest["files"]:
        if f["path"] == shard_path:
            f["sha256"] = hashlib.sha256(bytes(raw)).hexdigest()
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    sums = release_dir / "SHA256SUMS"
    os.chmod(sums, 0o644)
    lines = []
    for line in sums.read_text().splitlines():
        digest, name = line.split("  ")
        lines.append(f"{hashlib.sha256((release_dir / name).read_bytes()).hexdigest()}  {name}")
    sums.write_text("\n".join(lines) + "\n")


def test_tampered_data_with_recomputed_sums_is_refused_by_the_signature(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    _publish(runs, ws)
    ref = resolve_ref(ws, "tiny@v1")
    assert _cli("verify", "tiny@v1", "--workspace", str(ws)).exit_code == 0
    shard = next(f["path"] for f in read_manifest(ref.path)["files"] if f["role"] == "data")
    _rewrite_consistently(ref.path, shard)
    for entry in read_manifest(ref.path)["files"]:  # the sums alone no longer see anything wrong
        check_file(ref.path / entry["path"], entry)
    verified = _cli("verify", "tiny@v1", "--workspace", str(ws))
    assert verified.exit_code == 6, verified.output
    assert "does not verify" in verified.output
    pulled = _cli("pull", "tiny@v1", "--to", str(tmp_path / "copy"), "--workspace", str(ws))
    assert pulled.exit_code == 6, pulled.output
    assert not (tmp_path / "copy").exists()
    actions = [(e["action"], e["outcome"], e["ref"]) for e in read_entries(ws)]
    assert actions == [("publish", "ok", "tiny@v1"), ("verify_failed", "refused", "tiny@v1"), ("verify_failed", "refused", "tiny@v1")]


def test_unsigned_and_untrusted_releases_are_refused(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    stranger = new_private_key("ed25519", "stranger")
    key, _ = write_key_pair(stranger, tmp_path / "stranger", "publisher")
    _publish(runs, ws, key=key)  # signed, but by a key this workspace does not trust
    untrusted = _cli("verify", "tiny@v1", "--workspace", str(ws))
    assert untrusted.exit_code == 6 and "not trusted" in untrusted.output
    assert _cli("verify", "tiny@v1", "--workspace", str(ws), "--trusted-keys", str(tmp_path / "stranger" / "publisher.pub")).exit_code == 0
    sig = resolve_ref(ws, "tiny@v1").path / "manifest.sig"
    os.chmod(sig.parent, 0o755)
    sig.unlink()
    unsigned = _cli("verify", "tiny@v1", "--workspace", str(ws), "--trusted-keys", str(tmp_path / "stranger" / "publisher.pub"))
    assert unsigned.exit_code == 6 and "unsigned" in unsigned.output


def test_release_without_a_signing_key_fails_before_writing(tmp_path, runs, monkeypatch):
    ws = fresh_workspace(tmp_path, runs, "v1")
    monkeypatch.setenv("YULIAO_SIGNING_KEY", str(tmp_path / "nokey.key"))
    out = _cli("release", "run-v1", "--workspace", str(ws), "--no-catalog")
    assert out.exit_code == 2 and "yuliao keys create" in out.output
    assert not (ws / "releases" / "tiny" / "v1").exists()


def test_a_team_pulling_above_its_level_is_refused_and_logged(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    _publish(runs, ws)
    manifest = read_manifest(resolve_ref(ws, "tiny@v1").path)
    # No PII scan in this recipe: the rows are unscanned, which the default classification calls internal.
    assert manifest["classification"]["level"] == "internal"
    (ws / "access-policy.yaml").write_text("default_max_level: public\nteams:\n  asr:\n    max_level: internal\n")
    refused = _cli("pull", "tiny@v1", "--to", str(tmp_path / "a"), "--workspace", str(ws), "--team", "guests")
    assert refused.exit_code == 7, refused.output
    assert "'internal'" in refused.output and "'public'" in refused.output
    assert not (tmp_path / "a").exists()
    allowed = _cli("pull", "tiny@v1", "--to", str(tmp_path / "b"), "--workspace", str(ws), "--team", "asr")
    assert allowed.exit_code == 0, allowed.output
    entries = read_entries(ws)
    assert [(e["action"], e["actor"]["team"]) for e in entries[1:]] == [("pull_refused", "guests"), ("pull", "asr")]
    assert entries[2]["digest"] == hashlib.sha256((resolve_ref(ws, "tiny@v1").path / "manifest.json").read_bytes()).hexdigest()
    assert _cli("verify", str(tmp_path / "b")).exit_code == 0  # the pulled copy carries its signature


def test_a_broken_link_in_the_audit_chain_is_named(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    _publish(runs, ws)
    for n in range(2):
        assert _cli("pull", "tiny@v1", "--to", str(tmp_path / f"c{n}"), "--workspace", str(ws)).exit_code == 0
    ok = _cli("audit", "verify", "--workspace", str(ws))
    assert ok.exit_code == 0 and "3 entries" in ok.output
    log = ws / "audit" / "audit.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    second = json.loads(lines[1])
    second["actor"]["team"] = "someone-else"
    lines[1] = json.dumps(second, ensure_ascii=False, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = _cli("audit", "verify", "--workspace", str(ws))
    assert broken.exit_code == 4 and "line 2 (seq 2)" in broken.output


def test_declared_level_below_what_rows_need_is_refused_and_sources_raise_the_level(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    _edit_release_recipe(ws, runs, "v1", "release:\n  dataset: tiny\n  classification:\n    level: public\n")
    out = _cli("release", "run-v1", "--workspace", str(ws), "--no-catalog")
    assert out.exit_code == 2, out.output
    assert "needs 'internal'" in out.output and "unscanned for PII" in out.output
    assert not (ws / "releases" / "tiny" / "v1").exists()
    path = ws / "runs" / runs["v1"].name / "recipe.yaml"
    text = path.read_text(encoding="utf-8").replace("    licence: CC-BY-4.0\n", "    licence: CC-BY-4.0\n    level: sensitive\n")
    path.write_text(text[: text.index("release:")] + "release:\n  dataset: tiny\n  owner: 数据资源部\n", encoding="utf-8")
    _publish(runs, ws)
    rd = resolve_ref(ws, "tiny@v1").path
    m = read_manifest(rd)
    assert m["classification"]["level"] == "sensitive"
    assert {"what": "source", "name": "tiny-corpus", "level": "sensitive"} in m["classification"]["raised_by"]
    card = (rd / "README.md").read_text(encoding="utf-8")
    assert "sensitive" in card
    reg = json.loads((rd / "registration.json").read_text(encoding="utf-8"))
    sig = json.loads((rd / "manifest.sig").read_text(encoding="utf-8"))
    assert reg["classification"]["level"] == "sensitive" and reg["owner"] == "数据资源部"
    assert reg["signature"]["value"] == sig["signature"]
    assert reg["digests"]["manifest"]["sha256"] == hashlib.sha256((rd / "manifest.json").read_bytes()).hexdigest()
    assert {f["path"] for f in reg["digests"]["files"]} == {f["path"] for f in m["files"] if f["role"] == "data"}


def test_sm2_sm3_release_round_trip(tmp_path, runs):
    ws = fresh_workspace(tmp_path, runs, "v1")
    made = _cli("keys", "create", "--suite", "sm2", "--name", "gm", "--workspace", str(ws))
    assert made.exit_code == 0, made.output
    private = ws / "keys" / "gm.key"
    assert json.loads(private.read_text())["private_key"] not in made.output  # key material is never printed
    _publish(runs, ws, key=private)
    rd = resolve_ref(ws, "tiny@v1").path
    m = read_manifest(rd)
    assert m["signing"]["suite"] == "sm2-sm3" and all("sm3" in f for f in m["files"])
    ok = _cli("verify", "tiny@v1", "--workspace", str(ws))  # keys create trusted the new key in this workspace
    assert ok.exit_code == 0 and "sm2-sm3" in ok.output, ok.output
    _rewrite_consistently(rd, next(f["path"] for f in m["files"] if f["role"] == "data"))
    assert _cli("verify", "tiny@v1", "--workspace", str(ws)).exit_code == 6

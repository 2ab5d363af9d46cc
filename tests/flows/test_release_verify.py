"""`yuliao verify` checks that a release holds exactly its manifest's files: extra files fail too (issue 15)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.io.release_store import CHECKSUMS, MANIFEST, RELEASE_FORMAT, SIGNATURE, IntegrityError, verify_release
from flows.io.signing import load_private_key, signature_record
from flows.io.store import file_sha256


def make_release(root: Path) -> Path:
    """Write a small release as the publisher lays it out: data shard, history, card, signed manifest, SHA256SUMS."""
    (root / "data").mkdir(parents=True)
    (root / "_dropped").mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["一", "二"]}), root / "data" / "train-00000-of-00001.parquet")
    pq.write_table(pa.table({"id": ["c"], "text": ["三"], "drop_reason": ["too_short"]}), root / "_dropped" / "part-00000.parquet")
    (root / "README.md").write_text("# tiny\n", encoding="utf-8")
    roles = {"data/train-00000-of-00001.parquet": ("data", 2), "_dropped/part-00000.parquet": ("dropped", 1), "README.md": ("card", 0)}
    files = [{"path": p, "role": r, "rows": n, "bytes": (root / p).stat().st_size, "sha256": file_sha256(root / p)}
             for p, (r, n) in roles.items()]
    (root / MANIFEST).write_text(json.dumps({"format": RELEASE_FORMAT, "files": files, "rows": 2}), encoding="utf-8")
    key = load_private_key(Path(os.environ["YULIAO_SIGNING_KEY"]))  # the test session's publisher key (tests/conftest.py)
    (root / SIGNATURE).write_text(json.dumps(signature_record(key, (root / MANIFEST).read_bytes())), encoding="utf-8")
    sums = [f"{f['sha256']}  {f['path']}" for f in files] + [f"{file_sha256(root / n)}  {n}" for n in (MANIFEST, SIGNATURE)]
    (root / CHECKSUMS).write_text("\n".join(sums) + "\n", encoding="utf-8")
    return root


def test_a_clean_release_verifies(tmp_path):
    rel = make_release(tmp_path / "v1")
    assert len(verify_release(rel)) == 3
    res = CliRunner().invoke(__import__("flows.cli.main", fromlist=["app"]).app, ["verify", str(rel)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("extra", ["data/extra.parquet", "data/sub/more.jsonl", "_dropped/stray.parquet", "notes.txt"])
def test_an_extra_file_fails_verify_naming_it(tmp_path, extra):
    from flows.cli.main import app

    rel = make_release(tmp_path / "v1")
    (rel / extra).parent.mkdir(parents=True, exist_ok=True)
    (rel / extra).write_bytes((rel / "data" / "train-00000-of-00001.parquet").read_bytes())  # a copy load_dataset would read
    with pytest.raises(IntegrityError) as exc:
        verify_release(rel)
    assert exc.value.path == extra and "not in the manifest" in exc.value.problem
    res = CliRunner().invoke(app, ["verify", str(rel)])
    assert res.exit_code == 4 and extra in res.output


def test_an_extra_symlink_fails_verify(tmp_path):
    rel = make_release(tmp_path / "v1")
    (rel / "data" / "link.parquet").symlink_to(tmp_path / "nowhere.parquet")  # dangling, still a name loaders list
    with pytest.raises(IntegrityError, match="link.parquet"):
        verify_release(rel)


def test_a_pulled_copy_without_history_still_verifies(tmp_path):
    rel = make_release(tmp_path / "v1")
    for p in (rel / "_dropped").iterdir():
        p.unlink()
    (rel / "_dropped").rmdir()
    assert len(verify_release(rel, with_history=False)) == 2

"""Incremental near-dup dedup through `yuliao run`: a new batch against a published release's signatures."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.entrypoints import run_recipe
from flows.release import release_flow

pytestmark = pytest.mark.integration


def _recipe(d: Path, name: str, inputs: Path, ws: Path, against: str = "", char_ngram: int = 3) -> Path:
    p = d / f"{name}.yaml"
    p.write_text(textwrap.dedent(f"""\
        name: {name}
        workspace: {ws}
        inputs:
          - source: tang
            paths: ["{inputs}"]
            licence: MIT
        ops:
          - op: dedup_near
            threshold: 0.6
            char_ngram: {char_ngram}
            {against}
        release:
          dataset: tang
        """), encoding="utf-8")
    return p


def test_new_batch_is_deduplicated_against_the_release(tmp_path, prefect_api, corpora):
    quan = json.loads((corpora / "chinese-poetry/全唐诗/poet.tang.0.json").read_text(encoding="utf-8"))
    released = ["\n".join(p["paragraphs"]) for p in quan[:60]]
    fresh = ["\n".join(p["paragraphs"]) for p in quan[200:220]]
    ws = tmp_path / "ws"
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in released), encoding="utf-8")
    run1 = run_recipe(str(_recipe(tmp_path, "r1", a, ws)))
    release_flow(run=str(run1), workspace=str(ws), refresh_catalog=False)
    rel = ws / "releases" / "tang" / "v1"
    sig_files = list((rel / "_signatures" / "dedup_near").glob("part-*.parquet"))
    assert sig_files and (rel / "_signatures" / "dedup_near" / "_op.json").is_file()
    released_ids = set(pq.read_table(rel / "data").column("id").to_pylist())
    assert set(pq.read_table(sig_files[0]).column("id").to_pylist()) == released_ids

    # New batch: 10 released poems with light edits (punctuation and one character) plus 20 new poems.
    copies = [t.replace("，", ",").replace("。", ".", 1) for t in released[:10]]
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in copies + fresh), encoding="utf-8")
    run2 = run_recipe(str(_recipe(tmp_path, "r2", b, ws, against="against: [tang@latest]")))
    dropped = pq.read_table(run2 / "dropped").to_pylist()
    kept = pq.read_table(run2 / "kept").column("text").to_pylist()
    assert sorted(r["text"] for r in dropped) == sorted(copies)
    assert all(r["drop_reason"] == "near_duplicate" and r["duplicate_of"] in released_ids for r in dropped)
    assert sorted(kept) == sorted(fresh)
    rec = json.loads((run2 / "run.json").read_text())
    assert rec["reduces"][0]["against"] == ["tang@v1"]

    # Signatures made with other shingles are incomparable: refused before any decision is made.
    with pytest.raises(Exception, match="other parameters"):
        run_recipe(str(_recipe(tmp_path, "r3", b, ws, against="against: [tang@latest]", char_ngram=4)))


def test_against_unknown_release_is_a_clear_error(tmp_path, prefect_api):
    a = tmp_path / "a.jsonl"
    a.write_text('{"text": "床前明月光，疑是地上霜。"}\n', encoding="utf-8")
    with pytest.raises(Exception, match="no published releases of 'nosuch'"):
        run_recipe(str(_recipe(tmp_path, "r", a, tmp_path / "ws", against="against: [nosuch@latest]")))

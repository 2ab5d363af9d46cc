"""Disk-staged dedup: file reduce equals in-memory reduce, shard-count invariance, incremental, Prefect flow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flows import dedup as fd
from transforms.dedup import DedupNear
from transforms.schema import CLUSTER_ID, DROP_REASON, DUPLICATE_OF, docs_from_pylist


def poems(corpora: Path, n: int) -> list[str]:
    out = []
    for k in range(0, 5000, 1000):
        out += ["\n".join(p["paragraphs"]) for p in json.loads((corpora / "chinese-poetry/全唐诗" / f"poet.tang.{k}.json").read_text("utf-8"))]
    return [t for t in out if len(t) >= 30][:n]


def corpus(corpora: Path, prefix: str = "d", n: int = 600) -> pa.Table:
    """Real poems plus edited copies (a character changed, a line dropped) and a Traditional->Simplified copy."""
    texts = poems(corpora, n)
    extra = [t.replace(t[3], "丶", 1) for t in texts[:n:10]] + ["\n".join(t.split("\n")[:-1]) + "\n" + t.split("\n")[-1] for t in texts[5:n:20]]
    all_texts = texts + extra
    rng = np.random.default_rng(1)
    order = rng.permutation(len(all_texts))
    return docs_from_pylist([{"id": f"{prefix}{i:05d}", "text": all_texts[j], "source": "tang", "source_uri": f"x:{j}", "raw_sha256": "0"}
                             for i, j in enumerate(order)])


def write_shards(table: pa.Table, n: int, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, table.num_rows, n + 1).astype(int)
    paths = []
    for i in range(n):
        p = directory / f"part-{i:05d}.parquet"
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), p)
        paths.append(str(p))
    return paths


@pytest.mark.parametrize("verify", ["signature", "borderline", "exact", "none"])
def test_file_reduce_equals_in_memory_reduce(corpora, tmp_path, verify):
    op = DedupNear(threshold=0.7, char_ngram=3, verify=verify, keep="longest")
    table = corpus(corpora)
    paths = write_shards(table, 4, tmp_path / "docs")
    sig_paths = [fd.sign_shard(op, p, i, tmp_path / "sig") for i, p in enumerate(paths)]
    from_files = fd.reduce_from_files(op, sig_paths)
    in_memory = op.reduce(pa.concat_tables([pq.read_table(p) for p in sig_paths]))
    assert from_files.num_rows > 50
    assert from_files.equals(in_memory)


def test_clusters_do_not_depend_on_the_shard_count(corpora, tmp_path):
    op = DedupNear(threshold=0.7, char_ngram=3)
    table = corpus(corpora)
    results = []
    for n in (1, 3, 8):
        res = fd.dedup_files(op, write_shards(table, n, tmp_path / f"docs{n}"), tmp_path / f"work{n}")
        out = pa.concat_tables([pq.read_table(p) for p in res["outputs"]])
        results.append((pq.read_table(res["decisions"]).sort_by("id"), out))
    for dec, out in results[1:]:
        assert dec.equals(results[0][0])
        assert out.equals(results[0][1])
    out = results[0][1]
    dropped = out.filter(pa.compute.is_valid(out.column(DROP_REASON)))
    assert dropped.num_rows >= 80
    kept_ids = set(out.filter(pa.compute.is_null(out.column(DROP_REASON))).column("id").to_pylist())
    assert set(dropped.column(DUPLICATE_OF).to_pylist()) <= kept_ids
    assert dropped.column(CLUSTER_ID).to_pylist() == dropped.column(DUPLICATE_OF).to_pylist()


def test_incremental_batch_against_stored_release_signatures(corpora, tmp_path):
    op = DedupNear(threshold=0.7, char_ngram=3)
    texts = poems(corpora, 700)
    release = docs_from_pylist([{"id": f"r{i:04d}", "text": t, "source": "s", "source_uri": str(i), "raw_sha256": "0"} for i, t in enumerate(texts[:500])])
    rel = fd.dedup_files(op, write_shards(release, 2, tmp_path / "rel"), tmp_path / "release")
    rel_sig_dir = fd.signature_dir(tmp_path / "release", op)
    new_texts = texts[500:700] + [texts[10].replace(texts[10][2], "丶", 1), texts[20], texts[520]]
    batch = docs_from_pylist([{"id": f"n{i:04d}", "text": t, "source": "s", "source_uri": str(i), "raw_sha256": "0"} for i, t in enumerate(new_texts)])
    fd.check_op_spec(rel_sig_dir, op)
    stored = sorted(str(p) for p in rel_sig_dir.glob("part-*.parquet"))
    res = fd.dedup_files(op, write_shards(batch, 2, tmp_path / "new"), tmp_path / "inc", existing=stored)
    dec = pq.read_table(res["decisions"])
    dup = dict(zip(dec.column("id").to_pylist(), dec.column(DUPLICATE_OF).to_pylist()))
    assert not any(i.startswith("r") for i in dup)  # the release is never touched
    assert dup["n0200"] == "r0010" and dup["n0201"] == "r0020"
    assert dup["n0202"] == "n0020"  # a duplicate inside the new batch is still caught
    # equals deduplicating release + batch from scratch, restricted to the new rows
    full = op.reduce(pa.concat_tables([pq.read_table(p) for p in stored]
                                      + [op.signatures(batch, 99)]))
    expect = {r["id"]: r[DUPLICATE_OF] for r in full.to_pylist() if r["id"].startswith("n")}
    assert dup == expect
    assert rel["counts"].get("dropped:near_duplicate", 0) == sum(1 for r in full.to_pylist() if r["id"].startswith("r") and r[DUPLICATE_OF])


def test_stored_signatures_with_other_parameters_are_refused(tmp_path):
    op = DedupNear(char_ngram=3)
    fd.save_op_spec(tmp_path, op)
    fd.check_op_spec(tmp_path, DedupNear(char_ngram=3, keep="longest"))  # keep does not change signatures
    with pytest.raises(ValueError, match="char_ngram"):
        fd.check_op_spec(tmp_path, DedupNear(char_ngram=5))
    fd.check_op_spec(tmp_path, DedupNear(char_ngram=3, verify="exact"))  # the same shingle samples serve both
    with pytest.raises(ValueError, match="verify_shingles"):
        fd.check_op_spec(tmp_path, DedupNear(char_ngram=3, verify_shingles=None))  # stored samples are cut at 256
    with pytest.raises(ValueError, match="missing"):
        fd.check_op_spec(tmp_path / "nowhere", op)


@pytest.mark.parametrize("stored_params, op_name", [({"verify": "signature"}, "dedup_near@4"), ({"verify": "exact"}, "dedup_near@3")])
def test_stored_signatures_without_shingle_samples_are_refused_for_shingle_verification(tmp_path, stored_params, op_name):
    fd.save_op_spec(tmp_path, DedupNear(char_ngram=3, **stored_params))
    spec = json.loads((tmp_path / fd.SPEC_FILE).read_text("utf-8"))
    (tmp_path / fd.SPEC_FILE).write_text(json.dumps(spec | {"op": op_name}), "utf-8")  # @3 stored 64-bit shingle sets
    fd.check_op_spec(tmp_path, DedupNear(char_ngram=3, verify="signature"))
    for verify in ("borderline", "exact"):
        with pytest.raises(ValueError, match="verify"):
            fd.check_op_spec(tmp_path, DedupNear(char_ngram=3, verify=verify))


def test_dask_cluster_gives_identical_clusters(corpora, tmp_path):
    from dask.distributed import Client, LocalCluster

    op = DedupNear(threshold=0.7, char_ngram=3)
    paths = write_shards(corpus(corpora, n=300), 3, tmp_path / "docs")
    local = fd.dedup_files(op, paths, tmp_path / "local")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        dist = fd.dedup_files(op, paths, tmp_path / "dask", map_fn=lambda fn, *its: client.gather(client.map(fn, *its, pure=False)))
    assert pq.read_table(dist["decisions"]).equals(pq.read_table(local["decisions"]))
    assert dist["counts"] == local["counts"] and local["counts"]["dropped:near_duplicate"] > 10


@pytest.mark.integration
def test_prefect_flow_runs_the_stages_as_tasks(corpora, tmp_path, prefect_api):
    paths = write_shards(corpus(corpora, n=200), 2, tmp_path / "docs")
    flow = fd.dedup_flow_factory()
    res = flow(paths, str(tmp_path / "work"), {"threshold": 0.7, "char_ngram": 3})
    op = DedupNear(threshold=0.7, char_ngram=3)
    ref = fd.dedup_files(op, paths, tmp_path / "ref")
    assert pq.read_table(res["decisions"]).equals(pq.read_table(ref["decisions"]))
    assert res["counts"] == ref["counts"]


def test_cli_dedup_near_and_incremental_refusal(corpora, tmp_path):
    from typer.testing import CliRunner

    from flows.cli.main import app

    paths = write_shards(corpus(corpora, n=200), 2, tmp_path / "docs")
    runner = CliRunner()
    res = runner.invoke(app, ["dedup", "near", *paths, "--work", str(tmp_path / "w"), "--char-ngram", "3"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("{"):])
    assert summary["counts"]["dropped:near_duplicate"] > 10 and summary["clusters"] > 10
    res = runner.invoke(app, ["dedup", "near", *paths, "--work", str(tmp_path / "w2"),
                              "--existing", str(tmp_path / "w/signatures/dedup_near")])  # char_ngram differs
    assert res.exit_code == 2 and "char_ngram" in res.output


@pytest.mark.integration
def test_recipe_run_drops_near_duplicates_with_lineage(corpora, tmp_path, prefect_api):
    import textwrap

    from flows.entrypoints import run_recipe
    from transforms.basic import opencc_converter

    texts = poems(corpora, 120)
    rows = texts + [texts[3].replace(texts[3][4], "丶", 1), opencc_converter("t2s").convert(texts[7])]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in rows), "utf-8")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: t
        workspace: {tmp_path / 'ws'}
        inputs:
          - source: tang
            paths: ["{tmp_path}/a.jsonl"]
            licence: MIT
        ops:
          - op: dedup_near
            threshold: 0.7
            char_ngram: 3
            script: t2s
        """), encoding="utf-8")
    run_dir = run_recipe(str(recipe), run_id="dd")
    dropped = pa.concat_tables([pq.read_table(p) for p in sorted((Path(run_dir) / "dropped").glob("part-*.parquet"))])
    kept = pa.concat_tables([pq.read_table(p) for p in sorted((Path(run_dir) / "kept").glob("part-*.parquet"))])
    by_text = dict(zip(kept.column("text").to_pylist(), kept.column("id").to_pylist()))
    dup = {r["text"]: r for r in dropped.to_pylist()}
    for copy, original in ((rows[-2], texts[3]), (rows[-1], texts[7])):
        assert dup[copy][DUPLICATE_OF] == by_text[original] and dup[copy]["dropped_by"] == "dedup_near@4"

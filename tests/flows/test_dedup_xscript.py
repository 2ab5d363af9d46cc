"""Cross-script stage through the disk-staged reduce (DuckDB): same decisions as in memory, and against a release."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from flows.dedup import dedup_files, reduce_from_files
from tests.transforms.test_dedup_xscript import CN_INSTALL, CN_NETWORK, TW_INSTALL, TW_NETWORK, TW_SIBLING, UNRELATED_CN
from transforms.dedup import DedupNear
from transforms.schema import docs_from_pylist

TW_EDITED = TW_INSTALL.replace("請先閱讀", "務必先看過").replace("可以更新套件清單", "會把套件清單更新到最新").replace(
    "如果程式無法啟動", "要是程式啟動失敗").replace("並查看記錄檔案", "再去看記錄檔案")


def table(texts: list[str], prefix: str) -> pa.Table:
    return docs_from_pylist([{"id": f"{prefix}{i}", "text": t, "source": "t", "source_uri": f"t:{i}", "raw_sha256": "0"}
                             for i, t in enumerate(texts)])


def rows_of(decisions: pa.Table) -> list[tuple]:
    return sorted(zip(*[decisions.column(c).to_pylist() for c in decisions.column_names]), key=str)


def test_disk_reduce_gives_the_in_memory_cross_script_decisions(tmp_path):
    op = DedupNear()
    shards = [table([CN_INSTALL, UNRELATED_CN, TW_NETWORK], "a"), table([TW_SIBLING, TW_EDITED, CN_NETWORK], "b")]
    paths = []
    for i, t in enumerate(shards):
        p = tmp_path / f"sig{i}.parquet"
        pq.write_table(op.signatures(t, i), p)
        paths.append(p)
    in_memory = op.reduce(pa.concat_tables([pq.read_table(p) for p in paths]))
    on_disk = reduce_from_files(op, paths)
    assert rows_of(on_disk) == rows_of(in_memory)
    dup = {r[0]: r[2] for r in rows_of(on_disk)}
    assert dup == {"a0": None, "b1": "a0", "a2": None, "b2": "a2"}  # TW_EDITED only through the cross-script stage


def test_a_localised_copy_is_dropped_against_a_released_original(tmp_path):
    op = DedupNear()
    release = tmp_path / "release.parquet"
    pq.write_table(table([CN_INSTALL, UNRELATED_CN], "old"), release)
    done = dedup_files(op, [release], tmp_path / "rel")
    batch = tmp_path / "batch.parquet"
    pq.write_table(table([TW_EDITED, TW_SIBLING], "new"), batch)
    out = dedup_files(op, [batch], tmp_path / "new", existing=done["signatures"])
    rows = {r["id"]: r for r in pq.read_table(out["outputs"][0]).to_pylist()}
    assert rows["new0"]["duplicate_of"] == "old0" and rows["new0"]["drop_reason"] == "near_duplicate"
    assert rows["new1"]["drop_reason"] is None

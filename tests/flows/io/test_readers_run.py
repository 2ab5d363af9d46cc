"""End to end: `yuliao run` over a mixed-format, mixed-encoding directory; conservation holds per file."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from tests.flows.io.test_readers_formats import encodable, html_page, jsonl_bytes, poems


@pytest.mark.integration
def test_run_over_mixed_directory_conserves_every_record(corpora, prefect_api, tmp_path):
    from flows.curate import run_recipe

    song = poems(corpora, "宋词", "ci.song.*.json", 60)
    tang = encodable(poems(corpora, "全唐诗", "poet.tang.*.json", 80), "big5")
    raw = tmp_path / "raw"
    (raw / "gbk").mkdir(parents=True)
    for i, p in enumerate(song[:5]):
        (raw / "gbk" / f"{i}.txt").write_bytes(p["text"].encode("gbk"))
    (raw / "big5.txt").write_bytes(tang[0]["text"].encode("big5"))
    (raw / "ci.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(song[5:15]) + b"{broken\n" + json.dumps({"x": 1}).encode() + b"\n"))
    whole = zstandard.ZstdCompressor().compress(jsonl_bytes(poems(corpora, "全唐诗", "poet.tang.*.json", 2000)))
    (raw / "cut.jsonl.zst").write_bytes(whole[: len(whole) // 2])
    (raw / "ci.csv").write_text("text,author\n" + "".join(f"\"{p['text']}\",{p['author']}\n" for p in song[15:20]) + "too,many,fields\n",
                                encoding="utf-8-sig")
    (raw / "page.html").write_bytes(html_page(song[20], "gbk").encode("gb18030"))
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("inner/a.txt", song[21]["text"].encode("utf-16"))
        zf.writestr("inner/b.jsonl", jsonl_bytes(song[22:25]))
    (raw / "bundle.zip").write_bytes(z.getvalue())
    (raw / "lines").mkdir()
    (raw / "lines" / "ci.txt").write_bytes("\n".join(song[25]["text"].split("\n")).encode("gb18030") + b"\n\x81\x20\x81\x20\n")

    recipe = tmp_path / "mixed.yaml"
    recipe.write_text(f"""
name: mixed
workspace: {tmp_path / 'ws'}
inputs:
  - source: mixed
    paths: ["{raw}/*.*", "{raw}/gbk"]
    licence: MIT
  - source: lines
    paths: ["{raw}/lines"]
    format: text
    options: {{unit: line}}
ops:
  - op: drop_short_docs
    min_chars: 8
run: {{batch_rows: 4, workers: 2}}
""", encoding="utf-8")
    run_dir = run_recipe(str(recipe))
    record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert record["conservation_ok"] and record["status"] == "completed"
    assert all(f["balanced"] for f in record["per_file"])
    by_name = {Path(f["path"]).name: f for f in record["per_file"]}
    assert by_name["ci.jsonl.gz"]["read"] == 12 and by_name["ci.jsonl.gz"]["quarantined"] == 2
    assert by_name["ci.csv"]["read"] == 6 and by_name["ci.csv"]["quarantined"] == 1
    assert by_name["bundle.zip"]["read"] == 4 and by_name["bundle.zip"]["quarantined"] == 0
    assert by_name["cut.jsonl.zst"]["quarantined"] == 1 and by_name["cut.jsonl.zst"]["read"] > 100
    q = record["quarantine_by_error"]
    assert q["json_decode"] == 1 and q["missing_text_field"] == 1 and q["csv_field_count"] == 1
    assert q["unreadable_file"] == 1 and q["decode_error"] == 1
    kept = pq.read_table(run_dir / "kept").to_pylist()
    texts = {r["text"] for r in kept}
    for p in song[:5] + song[5:15] + song[15:20] + song[21:25]:
        if len(p["text"]) >= 8:
            assert p["text"] in texts
    assert tang[0]["text"] in texts
    assert song[20]["title"] + "\n" + song[20]["text"] in texts
    encodings = {json.loads(r["meta"]).get("_encoding", "utf-8 (JSON)") for r in kept}
    assert {"gb18030", "big5hkscs", "utf-16-le", "utf-8"} <= encodings

"""`yuliao langid`: texts in, the identify_language decision out."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli.main import app

runner = CliRunner()


def test_langid_prints_one_json_line_per_text(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("這個程式會顯示目前的目錄內容，並且列出所有檔案。\n佢哋啱啱去咗公園\n", encoding="utf-8")
    res = runner.invoke(app, ["langid", "好", "--file", str(f), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [(r["lang"], r["script"]) for r in rows] == [("und", "Zyyy"), ("zh", "Hant"), ("yue", "Hant")]


def test_langid_table_and_bad_input(tmp_path):
    res = runner.invoke(app, ["langid", "Hello there, how are you doing today?"])
    assert res.exit_code == 0 and "en" in res.stdout
    assert runner.invoke(app, ["langid"]).exit_code == 2
    assert runner.invoke(app, ["langid", "--file", str(tmp_path / "missing.txt")]).exit_code == 2
    assert runner.invoke(app, ["langid", "x", "--detector", "nope"]).exit_code == 2

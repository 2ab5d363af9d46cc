"""`yuliao inspect`: a dry run of the readers with exit codes scripts can trust."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from flows.cli.main import app


def test_inspect_reports_encodings_and_quarantine(tmp_path):
    (tmp_path / "ok.txt").write_bytes("春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。".encode("gb18030"))
    res = CliRunner().invoke(app, ["inspect", str(tmp_path / "ok.txt"), "-o", "unit=line", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("["):])
    assert summary[0]["docs"] == 2 and summary[0]["encodings"] == {"gb18030": 2} and summary[0]["reader"] == "text"

    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "a"}\n{oops\n')
    res = CliRunner().invoke(app, ["inspect", str(tmp_path / "bad.jsonl"), "--json"])
    assert res.exit_code == 1
    summary = json.loads(res.stdout[res.stdout.index("["):])
    assert summary[0]["errors"] == {"json_decode": 1} and summary[0]["examples"][0]["source_uri"].endswith("bad.jsonl:2")

    res = CliRunner().invoke(app, ["inspect", str(tmp_path / "nope.txt")])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["inspect", str(tmp_path / "ok.txt"), "-o", "unit=sentence"])
    assert res.exit_code == 2

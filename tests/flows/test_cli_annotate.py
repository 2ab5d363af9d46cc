"""`yuliao annotate push|collect|status` through the CLI and its Prefect flows, against the session's Label Studio."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.label_studio import connect, server_settings

from .test_annotate_integration import make_run, real_sentences

pytestmark = [pytest.mark.integration, pytest.mark.shared]


def test_cli_push_status_collect(tmp_path: Path, corpora: Path, label_studio, prefect_api, monkeypatch, run_tag: str):
    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    ws = tmp_path / "ws"
    run_dir = make_run(ws, real_sentences(corpora)[:30])
    runner = CliRunner()
    title = f"cli domain {run_tag}"
    push = runner.invoke(app, ["annotate", "push", str(run_dir), "--config", "domain_classification", "--k", "2",
                               "--sample", "10", "--strategy", "stratified", "--project", title])
    assert push.exit_code == 0, push.output
    url = push.stdout.strip().splitlines()[-1]
    assert url.startswith(label_studio.url + "/projects/")
    project_id = int(url.rsplit("/", 1)[1])

    ls = connect(server_settings())
    user = ls.users.create(username=f"cli.{run_tag}", email=f"cli.{run_tag}@annotators.test")
    tasks = list(ls.tasks.list(project=project_id, include="id"))
    for t in tasks[:4]:
        ls.annotations.create(id=t.id, completed_by=user.id, lead_time=3.0, result=[
            {"from_name": "domain", "to_name": "text", "type": "choices", "value": {"choices": ["news"]}}])

    collect = runner.invoke(app, ["annotate", "collect", "--workspace", str(ws), "--project", str(project_id)])
    assert collect.exit_code == 0, collect.output
    assert Path(collect.stdout.strip().splitlines()[-1]).name == "annotations.parquet"
    status = runner.invoke(app, ["annotate", "status", "--workspace", str(ws), "--json"])
    assert status.exit_code == 0, status.output
    (st,) = json.loads(status.stdout)
    assert st["project_id"] == project_id and st["config"] == "domain_classification"
    assert st["tasks"] == 10 and st["annotations_done"] == 4 and st["annotations_needed"] == 20
    assert [a["annotations"] for a in st["annotators"]] == [4]

    applied = runner.invoke(app, ["annotate", "apply", str(run_dir), "--project", str(project_id)])
    assert applied.exit_code == 0, applied.output
    derived = Path(applied.stdout.strip().splitlines()[-1])
    kept = pq.read_table(derived / "kept" / "part-00000.parquet")
    assert kept.num_rows == 30 and kept.column("label_domain").to_pylist().count("news") == 4

    bad = runner.invoke(app, ["annotate", "push", str(tmp_path / "missing"), "--project", title])
    assert bad.exit_code == 2 and "no run directory" in " ".join(bad.output.split())
    monkeypatch.setenv("YULIAO_LS_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    down = runner.invoke(app, ["annotate", "status", "--workspace", str(ws)])
    assert down.exit_code == 4 and "does not answer" in " ".join(down.output.split())

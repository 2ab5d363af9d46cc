"""`yuliao annotate push|collect|status` through the CLI and its Prefect flows, against the session's Label Studio."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.io.label_studio import connect, server_settings

from tests.flows.test_annotate_integration import make_run, real_sentences

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


LOOP_RECIPE = """name: loop
workspace: {ws}
inputs:
  - source: leipzig-zh
    paths: [{path}]
    licence: CC-BY-4.0
ops:
  - op: normalize_whitespace
  - op: redact_pii
release:
  dataset: loop
"""


def test_loop_end_to_end_lineage_and_report_show_labels_agreement_and_gold_accuracy(
        tmp_path: Path, corpora: Path, label_studio, prefect_api, monkeypatch, run_tag: str):
    """push (K=3, gold) -> three annotators through their own tokens -> collect -> apply -> release -> lineage, report."""
    import hashlib

    from label_studio_sdk import LabelStudio

    from flows.curate import run_recipe
    from flows.io.label_studio import sign_up_annotator
    from flows.release import release_flow

    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    ws = tmp_path / "ws"
    corpus = tmp_path / "inputs" / "zh.jsonl"
    corpus.parent.mkdir()
    sentences = (corpora / "lingua-sentences" / "zh.txt").read_text(encoding="utf-8").splitlines()[100:118]
    sentences.append("如有疑问请致电13812345678联系王先生。")  # redact_pii replaces the number before anyone sees it
    corpus.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in sentences) + "\n", encoding="utf-8")
    recipe = tmp_path / "loop.yaml"
    recipe.write_text(LOOP_RECIPE.format(ws=ws, path=corpus), encoding="utf-8")
    run_dir = run_recipe(str(recipe), run_id="loop-1", runner="thread")
    kept_ids = pq.read_table(run_dir / "kept", columns=["id"]).column("id").to_pylist()
    assert len(kept_ids) == 19
    gold = tmp_path / "gold.jsonl"
    gold_rows = [{"id": f"gold-{i}", "text": t, "answer": a} for i, (t, a) in enumerate(
        [("点击这里免费领取大奖！！！", "1"), ("床前明月光，疑是地上霜。举头望明月，低头思故乡。", "5"), ("今天天气很好，我们去公园散步。", "4")])]
    gold.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in gold_rows) + "\n", encoding="utf-8")

    runner = CliRunner()
    push = runner.invoke(app, ["annotate", "push", str(run_dir), "--config", "quality_rating", "--k", "3",
                               "--gold", str(gold), "--project", f"loop {run_tag}"])
    assert push.exit_code == 0, push.output
    project_id = int(push.stdout.strip().splitlines()[-1].rsplit("/", 1)[1])

    def truth(record_id: str) -> int:
        answers = {r["id"]: int(r["answer"]) for r in gold_rows}
        return answers.get(record_id) or 1 + int(hashlib.sha256(record_id.encode()).hexdigest(), 16) % 5

    admin = connect(server_settings())
    names = ("ann_a", "ann_b", "ann_c")
    email = {n: f"{n}.loop.{run_tag}@annotators.test" for n in names}
    clients = {n: LabelStudio(base_url=label_studio.url, api_key=sign_up_annotator(admin, server_settings(), email[n], f"pw-{run_tag}-{n}"))
               for n in names}
    tasks = [(t.id, t.data["yuliao_id"]) for t in admin.tasks.list(project=project_id, include="id,data")]
    assert len(tasks) == 19 + 3
    for k, (task_id, record_id) in enumerate(sorted(tasks, key=lambda t: t[1])):
        for n, client in clients.items():
            # ann_a and ann_b rate the truth; ann_c is off by one on every other task (2-to-1 splits).
            rating = truth(record_id) if n != "ann_c" or k % 2 else 1 + truth(record_id) % 5
            result = [{"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": rating}}]
            if truth(record_id) == 1 and n != "ann_c":
                result.append({"from_name": "issues", "to_name": "text", "type": "choices", "value": {"choices": ["spam"]}})
            client.annotations.create(id=task_id, result=result, lead_time=7.0)

    collect = runner.invoke(app, ["annotate", "collect", "--workspace", str(ws), "--project", str(project_id)])
    assert collect.exit_code == 0, collect.output
    agreement = json.loads((ws / "annotation" / f"project-{project_id}" / "agreement.json").read_text())
    assert agreement["gold_accuracy"] == 1.0 and agreement["summary"]["n_annotators"] == 3
    alpha = agreement["summary"]["alpha_ordinal"]
    assert 0.0 < alpha < 1.0
    labels = {r["id"]: r for r in pq.read_table(ws / "annotation" / f"project-{project_id}" / "labels.parquet").to_pylist()}
    assert {i: int(r["label_quality"]) for i, r in labels.items()} == {i: truth(i) for i in kept_ids}
    assert all(r["label_issues"] == ("spam" if truth(i) == 1 else "") for i, r in labels.items())

    # The report of the pushed run finds the project through its push record.
    report = runner.invoke(app, ["report", str(run_dir)])
    assert report.exit_code == 0, report.output
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert f"Project {project_id}" in page and email["ann_c"] in page
    assert f"<td>Krippendorff&#x27;s alpha (ordinal)</td><td class=\"n\">{alpha:.3f}</td>" in page
    assert "<td>gold accuracy of the aggregated labels</td><td class=\"n\">1.000</td>" in page
    assert "Aggregated label_quality" in page and "Aggregated label_issues" in page

    # Labels into a derived run, released; lineage tells each annotator's answers and the aggregate.
    applied = runner.invoke(app, ["annotate", "apply", str(run_dir), "--project", str(project_id)])
    assert applied.exit_code == 0, applied.output
    release_flow(run=str(Path(applied.stdout.strip().splitlines()[-1])), workspace=str(ws), refresh_catalog=False)
    rid = sorted(kept_ids)[0]
    shown = runner.invoke(app, ["lineage", "loop@latest", rid, "--workspace", str(ws)])
    assert shown.exit_code == 0, shown.output
    assert "annotations: none" not in shown.output and "annotations (3):" in shown.output
    for n in names:
        assert email[n] in shown.output
    assert f"label_quality={truth(rid)}" in shown.output and f"alpha_ordinal={alpha:.3f}" in shown.output
    assert "gold accuracy of aggregated labels: 1.0" in shown.output
    released = runner.invoke(app, ["report", str(ws / "releases" / "loop" / "v1")])
    assert released.exit_code == 0, released.output
    assert f"Project {project_id}" in (ws / "releases" / "loop" / "v1" / "report.html").read_text(encoding="utf-8")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_push_during_an_outage_says_what_to_do_in_one_line_and_resumes(
        tmp_path: Path, corpora: Path, label_studio, prefect_api, monkeypatch, capfd, run_tag: str):
    from flows.io.label_studio import MappingStore

    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    ws = tmp_path / "ws"
    run_dir = make_run(ws, real_sentences(corpora)[:40])
    real_add = MappingStore.add_tasks

    def record_then_crash_the_server(self, project_id, rows, push_id):
        real_add(self, project_id, rows, push_id)
        label_studio.kill_hard()  # SIGKILL after the first batch landed: a real outage mid-push

    monkeypatch.setattr(MappingStore, "add_tasks", record_then_crash_the_server)
    runner = CliRunner()
    args = ["annotate", "push", str(run_dir), "--k", "1", "--batch-size", "10", "--project", f"outage {run_tag}"]
    try:
        capfd.readouterr()
        down = runner.invoke(app, args)
        leaked = capfd.readouterr()
    finally:
        monkeypatch.setattr(MappingStore, "add_tasks", real_add)
        label_studio.start()
    assert down.exit_code == 4, down.output
    (line,) = _lines(down.output)
    assert line.startswith("Label Studio unavailable: ") and "stopped answering while pushing" in line
    assert "rerun the same command" in line and "Traceback" not in leaked.err + leaked.out
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "imported 30 task(s)" in again.output and "40 in the project" in again.output


def test_unredacted_push_is_refused_in_one_line_without_a_traceback(
        tmp_path: Path, corpora: Path, label_studio, prefect_api, monkeypatch, capfd, run_tag: str):
    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    run_dir = make_run(tmp_path / "ws", real_sentences(corpora)[:5], redacted=False)
    for api in ("configured", "none"):  # as a flow run (yuliao server up) and as the plain function (no Prefect API)
        capfd.readouterr()
        if api == "none":
            with temporary_settings(restore_defaults={PREFECT_API_URL}):
                out = CliRunner().invoke(app, ["annotate", "push", str(run_dir), "--project", f"unredacted {run_tag}"])
        else:
            out = CliRunner().invoke(app, ["annotate", "push", str(run_dir), "--project", f"unredacted {run_tag}"])
        leaked = capfd.readouterr()
        assert out.exit_code == 2, (api, out.output)
        (line,) = _lines(out.output)
        assert line.startswith("push refused: ") and "not PII-redacted" in line and "--allow-unredacted" in line
        assert "Traceback" not in leaked.err + leaked.out


def test_add_annotator_signs_up_through_the_invite_link_and_keeps_tokens_private(
        tmp_path: Path, label_studio, monkeypatch, run_tag: str):
    import stat

    from label_studio_sdk import LabelStudio

    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    out = tmp_path / "annotators"
    emails = [f"add{i}.{run_tag}@annotators.test" for i in range(2)]
    runner = CliRunner()
    added = runner.invoke(app, ["annotate", "add-annotator", *emails, "--out", str(out)])
    assert added.exit_code == 0, added.output
    printed = dict(line.split("\t") for line in added.stdout.strip().splitlines())
    assert list(printed) == emails
    for email, token_path in printed.items():
        token_file = Path(token_path)
        assert token_file.parent == out and stat.S_IMODE(token_file.stat().st_mode) == 0o600
        client = LabelStudio(base_url=label_studio.url, api_key=token_file.read_text().strip())
        assert client.users.whoami().email == email  # a real account, reached with its own token
        # ... that can log in to the web UI with the password yuliao generated.
        import httpx

        with httpx.Client(base_url=label_studio.url, follow_redirects=False) as web:
            web.get("/user/login/")
            login = web.post("/user/login/", data={"email": email, "password": (out / f"{email}.password").read_text().strip(),
                                                   "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")},
                             headers={"Referer": f"{label_studio.url}/user/login/"})
            assert login.status_code == 302, login.text[:300]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    n_users = len(list(connect(server_settings()).users.list()))
    again = runner.invoke(app, ["annotate", "add-annotator", emails[0], "--out", str(out)])
    assert again.exit_code == 0 and "already added" in again.output
    assert len(list(connect(server_settings()).users.list())) == n_users
    # Someone the server knows but yuliao holds no token for is refused with the reason, the rest still go.
    bad = runner.invoke(app, ["annotate", "add-annotator", emails[1], f"add9.{run_tag}@annotators.test", "not-an-email",
                              "--out", str(tmp_path / "elsewhere")])
    assert bad.exit_code == 2
    text = " ".join(bad.output.split())
    assert f"{emails[1]} not added: {emails[1]} already has an account" in text and "not-an-email not added" in text
    assert f"add9.{run_tag}@annotators.test\t" in bad.stdout

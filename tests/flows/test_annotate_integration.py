"""The annotation loop against a real Label Studio started by the test session (tests/flows/conftest.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from label_studio_sdk import LabelStudio

from flows.annotate import AnnotateError, apply_labels, collect_project, project_status, push_records
from flows.io.label_studio import (
    RECORD_KEY, MappingStore, ServerSettings, connect, connect_api, ensure_project, get_config, list_server_tasks, push_tasks,
    sign_up_annotator,
)
from transforms.schema import docs_from_pylist

pytestmark = [pytest.mark.integration, pytest.mark.shared]


def real_sentences(corpora: Path) -> list[tuple[str, str, str]]:
    """Return (source, lang, text) for real Simplified Chinese, written Cantonese and English sentences."""
    zh = (corpora / "lingua-sentences" / "zh.txt").read_text(encoding="utf-8").splitlines()[:60]
    en = (corpora / "lingua-sentences" / "en.txt").read_text(encoding="utf-8").splitlines()[:20]
    yue = json.loads((corpora / "cantonese-common-voice" / "sents.json").read_text(encoding="utf-8"))[:40]
    return [("leipzig-zh", "zh", t) for t in zh] + [("leipzig-en", "en", t) for t in en] + [("common-voice-yue", "yue", t) for t in yue]


def score_of(record_id: str) -> float:
    return int(hashlib.sha256(record_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def make_run(workspace: Path, sentences: list[tuple[str, str, str]], redacted: bool = True) -> Path:
    """Write a run directory the way `yuliao run` lays it out: kept Parquet plus the recipe it ran."""
    rows = []
    for i, (source, lang, text) in enumerate(sentences):
        raw = hashlib.sha256(text.encode()).hexdigest()
        rows.append({"id": f"{source}-{i:04d}", "text": text, "source": source, "source_uri": f"{source}.txt:{i + 1}",
                     "raw_sha256": raw, "lang": lang, "script": "Hans" if lang == "zh" else None, "lang_conf": 0.99})
    docs = docs_from_pylist(rows)
    docs = docs.append_column("score_quality", pa.array([score_of(r["id"]) for r in rows], pa.float64()))
    run_dir = workspace / "runs" / "r1"
    (run_dir / "kept").mkdir(parents=True)
    pq.write_table(docs, run_dir / "kept" / "part-00000.parquet")
    (run_dir / "run.json").write_text(json.dumps({"run_id": "r1", "status": "completed", "totals": {"read": len(rows), "kept": len(rows),
                                                  "dropped": 0, "quarantined": 0}}), encoding="utf-8")
    ops = "  - op: normalize_whitespace\n" + ("  - op: redact_pii\n    mode: redact\n" if redacted else "")
    (run_dir / "recipe.yaml").write_text(f"name: t\ninputs:\n  - path: x.jsonl\nops:\n{ops}", encoding="utf-8")
    return run_dir


def true_rating(record_id: str) -> int:
    return 1 + int(score_of(record_id) * 4.999)


def rating_result(rating: int) -> list[dict]:
    return [{"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": int(rating)}}]


@pytest.fixture()
def ls_settings(label_studio, monkeypatch) -> ServerSettings:
    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    return ServerSettings(label_studio.url, label_studio.token)


def test_push_annotate_collect_agree_aggregate(tmp_path: Path, corpora: Path, ls_settings: ServerSettings, run_tag: str):
    ws = tmp_path / "ws"
    run_dir = make_run(ws, real_sentences(corpora))
    gold_ids = [f"gold-{i}" for i in range(6)]
    gold_texts = ["今天天气很好，我们去公园散步。", "股市今天大幅上涨，投资者信心回升。", "asdf qwer 1234 !!!! 点击这里免费领取",
                  "佢今日好唔得閒，聽日先覆你。", "The committee approved the budget on Tuesday.", "床前明月光，疑是地上霜。"]
    gold_answers = ["4", "5", "1", "3", "4", "5"]
    gold_file = tmp_path / "gold.parquet"
    pq.write_table(pa.table({"id": gold_ids, "text": gold_texts, "answer": gold_answers}), gold_file)

    first = push_records(str(run_dir), "quality_rating", ws, annotations_per_task=3, sample_size=30, strategy="stratified",
                         seed=1, gold_path=gold_file, project_title=f"test quality loop {run_tag}", batch_size=8)
    assert first["project_created"] and first["imported"] == 36 and first["gold_tasks"] == 6
    assert first["batches"] == 5 and first["tasks_in_project"] == 36
    # No request per task: token check, find by title, create, task count, then one import per batch.
    assert first["label_studio_requests"] == 4 + first["batches"]
    ls = connect(ls_settings)
    pid = first["project_id"]
    project = ls.projects.get(id=pid)
    assert project.task_number == 36 and project.maximum_annotations == 3
    # Every task carries its record id, and the local map agrees with the server task by task.
    with MappingStore(ws / "annotation" / "label_studio.sqlite", ls_settings.url) as store:
        mapping = store.tasks(pid)
        assert store.gold(pid) == dict(zip(gold_ids, gold_answers))
    server = {tid: rec for tid, rec, _ in list_server_tasks(connect_api(ls_settings), pid)}
    assert {rec: tid for tid, rec in server.items()} == {rec: tid for rec, (tid, _) in mapping.items()}
    assert sum(kind == "gold" for _, kind in mapping.values()) == 6
    # Stratified sample: every source present; the gold answers never reach the server.
    sources = {rec.rsplit("-", 1)[0] for rec in mapping if not rec.startswith("gold")}
    assert sources == {"leipzig-zh", "leipzig-en", "common-voice-yue"}
    task = ls.tasks.get(id=str(mapping["gold-2"][0]))
    assert "answer" not in task.data and task.data[RECORD_KEY] == "gold-2"
    record_task = ls.tasks.get(id=str(next(t for r, (t, k) in mapping.items() if k == "record")))
    assert record_task.predictions and record_task.predictions[0].result[0]["value"]["rating"] in range(1, 6)

    # Three annotators with real log-in accounts (invite link, sign-up form, own token) submit through
    # the API as themselves; two are careful, one rates at random.
    email = {n: f"{n}.{run_tag}@annotators.test" for n in ("ann_a", "ann_b", "ann_c", "ann_d")}
    clients = {name: LabelStudio(base_url=ls_settings.url, api_key=sign_up_annotator(ls, ls_settings, email[name], f"pw-{run_tag}-{name}"))
               for name in ("ann_a", "ann_b", "ann_c")}
    assert {c.users.whoami().email for c in clients.values()} == {email["ann_a"], email["ann_b"], email["ann_c"]}
    rng = np.random.default_rng(0)
    truth = {**{r: true_rating(r) for r in mapping if not r.startswith("gold")}, **{g: int(a) for g, a in zip(gold_ids, gold_answers)}}
    for rec, (tid, _) in sorted(mapping.items()):
        for name, client in clients.items():
            rating = int(rng.integers(1, 6)) if name == "ann_c" else truth[rec]
            client.annotations.create(id=tid, result=rating_result(rating), lead_time=float(rng.uniform(5, 60)))

    report = collect_project(ws, pid)
    assert report["fetched"] == 108 and report["annotations_total"] == 108
    assert report["label_studio_requests"] == 3  # token check, user emails, one export of every annotation
    annotations = pq.read_table(ws / "annotation" / f"project-{pid}" / "annotations.parquet")
    assert annotations.num_rows == 108
    assert set(annotations.column("annotator").to_pylist()) == {email["ann_a"], email["ann_b"], email["ann_c"]}
    assert annotations.column("record_id").null_count == 0 and annotations.column("lead_time").null_count == 0
    per = {a["annotator"]: a for a in report["annotators"]}
    assert per[email["ann_a"]]["gold_accuracy"] == 1.0 and per[email["ann_b"]]["gold_accuracy"] == 1.0
    assert per[email["ann_c"]]["gold_accuracy"] < 1.0
    assert per[email["ann_a"]]["consensus_agreement"] > per[email["ann_c"]]["consensus_agreement"]
    summary = report["summary"]
    assert summary["n_annotators"] == 3 and summary["n_items"] == 36
    assert 0.3 < summary["alpha_ordinal"] < 1.0 and summary["alpha_ordinal"] > summary["alpha_nominal"]
    # Aggregation: one label per (non-gold) record, Dawid-Skene recovers what the careful annotators said.
    labels = pq.read_table(ws / "annotation" / f"project-{pid}" / "labels.parquet").to_pylist()
    assert len(labels) == 30
    assert all(row["label_quality"] == str(truth[row["id"]]) for row in labels)
    assert all(0.5 < row["label_quality_confidence"] <= 1.0 for row in labels)
    flagged = pq.read_table(ws / "annotation" / f"project-{pid}" / "adjudication.parquet")
    assert flagged.num_rows == report["flagged_for_adjudication"] and flagged.column("task_id").null_count == 0

    # The labels go into a derived run (the pushed run is never rewritten), ready for `yuliao release`.
    derived = apply_labels(run_dir, ws, [pid])
    kept = pq.read_table(derived / "kept" / "part-00000.parquet")
    assert kept.num_rows == 120 and kept.column("id").to_pylist() == pq.read_table(run_dir / "kept" / "part-00000.parquet").column("id").to_pylist()
    by_id = {r["id"]: r for r in kept.select(["id", "label_quality", "label_quality_confidence"]).to_pylist()}
    assert all(by_id[row["id"]]["label_quality"] == row["label_quality"] for row in labels)
    assert sum(r["label_quality"] is not None for r in by_id.values()) == 30
    derived_run = json.loads((derived / "run.json").read_text())
    assert derived_run["derived_from"]["run_id"] == "r1" and derived_run["annotation"]["records_labelled"] == 30
    assert "label_quality" not in pq.read_table(run_dir / "kept" / "part-00000.parquet").column_names
    with pytest.raises(AnnotateError, match="exists"):
        apply_labels(run_dir, ws, [pid])

    # A later collect: one annotation changed and one added; exactly those two count as new/updated.
    changed = annotations.filter(pa.compute.equal(annotations.column("annotator"), email["ann_c"])).to_pylist()[0]
    new_rating = 1 if json.loads(changed["result"])[0]["value"]["rating"] != 1 else 2
    ls.annotations.update(id=changed["annotation_id"], result=rating_result(new_rating))
    extra_user = ls.users.create(username=f"ann_d.{run_tag}", email=email["ann_d"])
    ls.annotations.create(id=mapping["gold-0"][0], result=rating_result(4), completed_by=extra_user.id, lead_time=9.0)
    again = collect_project(ws, pid, overlap_seconds=0)
    assert again["fetched"] == 2
    assert again["label_studio_requests"] == 4  # and one small "tasks changed since the last collect?" question
    assert datetime.fromisoformat(again["since"]) == datetime.fromisoformat(report["watermark"])
    assert again["annotations_total"] == 109
    after = pq.read_table(ws / "annotation" / f"project-{pid}" / "annotations.parquet")
    row = [r for r in after.to_pylist() if r["annotation_id"] == changed["annotation_id"]]
    assert len(row) == 1 and json.loads(row[0]["result"])[0]["value"]["rating"] == new_rating

    status = project_status(ws, pid)
    assert status["tasks"] == 36 and status["annotations_done"] == 109 and status["annotations_needed"] == 108
    assert status["tasks_finished"] == 36 and status["gold_tasks"] == 6 and len(status["annotators"]) == 4

    # The same sampled push again (e.g. rerun after a crash) asks for the same records: nothing new.
    same = push_records(str(run_dir), "quality_rating", ws, annotations_per_task=3, sample_size=30, strategy="stratified",
                        seed=1, gold_path=gold_file, project_title=f"test quality loop {run_tag}", batch_size=8)
    assert same["imported"] == 0 and same["already_present"] == 36 and same["tasks_in_project"] == 36
    # Push the whole run: only the records not yet in the project go; a second push adds nothing.
    rest = push_records(str(run_dir), "quality_rating", ws, annotations_per_task=3, project_title=f"test quality loop {run_tag}", batch_size=50)
    assert rest["imported"] == 120 - 30 and not rest["project_created"]
    repeat = push_records(str(run_dir), "quality_rating", ws, annotations_per_task=3, gold_path=gold_file,
                          project_title=f"test quality loop {run_tag}", batch_size=50)
    assert repeat["imported"] == 0 and repeat["tasks_in_project"] == 126
    assert ls.projects.get(id=pid).task_number == 126


def test_unredacted_text_is_refused_unless_allowed(tmp_path: Path, corpora: Path, ls_settings: ServerSettings, run_tag: str):
    ws = tmp_path / "ws"
    run_dir = make_run(ws, real_sentences(corpora)[:5], redacted=False)
    with pytest.raises(AnnotateError, match="not PII-redacted"):
        push_records(str(run_dir), "quality_rating", ws, project_title=f"test refuse unredacted {run_tag}")
    ok = push_records(str(run_dir), "quality_rating", ws, project_title=f"test refuse unredacted {run_tag}", allow_unredacted=True)
    assert ok["imported"] == 5


def test_pii_spans_become_span_pre_annotations(tmp_path: Path, ls_settings: ServerSettings, run_tag: str):
    text = "请联系𠀋先生<PHONE>或发邮件到<EMAIL>。"  # 𠀋 is outside the BMP: two UTF-16 units in the browser
    rows = [{"id": "p1", "text": text, "source": "s", "source_uri": "s:1", "raw_sha256": "0" * 64}]
    docs = docs_from_pylist(rows)
    start_phone, start_email = text.index("<PHONE>"), text.index("<EMAIL>")
    spans = pa.array([[{"type": "PHONE", "start": start_phone, "end": start_phone + 7},
                       {"type": "EMAIL", "start": start_email, "end": start_email + 7}]],
                     pa.list_(pa.struct([("type", pa.string()), ("start", pa.int32()), ("end", pa.int32())])))
    docs = docs.append_column("pii_spans", spans).append_column("pii_counts", pa.array([1]))
    path = tmp_path / "pii.parquet"
    pq.write_table(docs, path)
    out = push_records(str(path), "pii_review", tmp_path / "ws", annotations_per_task=1, project_title=f"test pii review {run_tag}")
    ls = connect(ls_settings)
    tid = next(t for t, _, _ in list_server_tasks(connect_api(ls_settings), out["project_id"]))
    regions = ls.tasks.get(id=str(tid)).predictions[0].result
    assert [(r["value"]["labels"][0], r["value"]["text"]) for r in regions] == [("PHONE", "<PHONE>"), ("EMAIL", "<EMAIL>")]
    assert regions[0]["value"]["start"] == start_phone + 1  # shifted by the astral character before it
    # Collecting a project nobody has annotated yet gives empty, well-typed outputs.
    report = collect_project(tmp_path / "ws", out["project_id"])
    assert report["fetched"] == 0 and report["records_labelled"] == 0 and report["flagged_for_adjudication"] == 0
    assert pq.read_table(tmp_path / "ws" / "annotation" / f"project-{out['project_id']}" / "annotations.parquet").num_rows == 0

    # Two reviewers: one accepts both spans, one removes the EMAIL span; span agreement sees it per label.
    verdict = lambda v: {"from_name": "pii_verdict", "to_name": "text", "type": "choices", "value": {"choices": [v]}}  # noqa: E731
    for name, kept_regions, v in (("rev_a", regions, "correct"), ("rev_b", regions[:1], "false_positive")):
        user = ls.users.create(username=f"{name}.{run_tag}", email=f"{name}.{run_tag}@annotators.test")
        ls.annotations.create(id=tid, completed_by=user.id, result=[*kept_regions, verdict(v)])
    report = collect_project(tmp_path / "ws", out["project_id"])
    spans = report["span_agreement"]
    assert spans["mean_pairwise_f1"] == pytest.approx(2 / 3)
    assert spans["per_label_f1"] == {"EMAIL": 0.0, "PHONE": 1.0}
    assert report["flagged_for_adjudication"] == 1  # the two verdicts disagree


def test_push_resumes_after_the_server_is_killed_mid_push(tmp_path: Path, label_studio, ls_settings: ServerSettings, monkeypatch, run_tag: str):
    ls, api = connect(ls_settings), connect_api(ls_settings)  # the SDK for what a person does, yuliao's client for push
    store = MappingStore(tmp_path / "map.sqlite", ls_settings.url)
    pid, _ = ensure_project(api, f"test kill mid push {run_tag}", get_config("quality_rating").xml(), 1)
    tasks = [{"data": {"text": f"第{i}条记录。", RECORD_KEY: f"rec-{i:04d}"}} for i in range(600)]
    kinds = {t["data"][RECORD_KEY]: "record" for t in tasks}

    # 1. The server dies (SIGKILL) after two of six batches: the push fails loudly.
    def kill_after_two(done: int, total: int) -> None:
        if done == 200:
            label_studio.kill_hard()

    with pytest.raises(httpx.TransportError):
        push_tasks(api, store, pid, tasks, kinds, "p1", batch_size=100, on_batch=kill_after_two)
    assert len(store.tasks(pid)) == 200
    label_studio.start()

    # 2. The client dies right after the server committed a batch, before mapping it (the worst moment).
    real_add = MappingStore.add_tasks
    calls = {"n": 0}

    def crash_once(self, project_id, rows, push_id):
        calls["n"] += 1
        if calls["n"] == 1 and push_id == "p2":
            raise KeyboardInterrupt("client crashed after the import landed")
        return real_add(self, project_id, rows, push_id)

    monkeypatch.setattr(MappingStore, "add_tasks", crash_once)
    with pytest.raises(KeyboardInterrupt):
        push_tasks(api, store, pid, tasks, kinds, "p2", batch_size=100)
    monkeypatch.setattr(MappingStore, "add_tasks", real_add)
    assert len(store.tasks(pid)) == 200 and ls.projects.get(id=pid).task_number == 300

    # 3. Resume: the orphaned batch is adopted, the rest imported; no duplicates, nothing lost.
    report = push_tasks(api, store, pid, tasks, kinds, "p3", batch_size=100)
    assert report.reconcile.adopted == 100 and report.imported == 300
    server = list(list_server_tasks(connect_api(ls_settings), pid))
    records = [rec for _, rec, _ in server]
    assert len(records) == 600 and sorted(set(records)) == sorted(kinds)
    assert {rec: tid for tid, rec, _ in server} == {rec: tid for rec, (tid, _) in store.tasks(pid).items()}
    again = push_tasks(api, store, pid, tasks, kinds, "p4", batch_size=100)
    assert again.imported == 0 and ls.projects.get(id=pid).task_number == 600

    # 4. A duplicate created behind yuliao's back (e.g. a retried import) is found and removed.
    ls.projects.import_tasks(id=pid, request=[tasks[0]], return_task_ids=True)
    fixed = push_tasks(api, store, pid, tasks, kinds, "p5", batch_size=100)
    assert fixed.reconcile.duplicates_deleted == 1 and fixed.imported == 0
    assert ls.projects.get(id=pid).task_number == 600
    store.close()


def test_projects_keep_annotators_independent_where_community_can(tmp_path: Path, corpora: Path, ls_settings: ServerSettings, run_tag: str):
    ws = tmp_path / "ws"
    run_dir = make_run(ws, real_sentences(corpora)[:1])
    title = f"test independence {run_tag}"
    pushed = push_records(str(run_dir), "quality_rating", ws, annotations_per_task=2, project_title=title)
    ls = connect(ls_settings)
    pid = pushed["project_id"]
    p = ls.projects.get(id=pid)
    assert p.maximum_annotations == 2 and p.overlap_cohort_percentage == 100 and p.show_overlap_first
    assert p.sampling == "Uniform sampling" and p.show_annotation_history is False and p.enable_empty_annotation is False
    # The guidelines open before the first task and stay one click away, in both languages.
    assert p.show_instruction and "请通读全文" in p.expert_instruction and "Read the whole document" in p.expert_instruction

    clients = {n: LabelStudio(base_url=ls_settings.url, api_key=sign_up_annotator(ls, ls_settings, f"{n}.{run_tag}@annotators.test", f"pw-{run_tag}-{n}"))
               for n in ("ind_a", "ind_b")}

    def next_task(client: LabelStudio) -> dict:
        response = client._client_wrapper.httpx_client.request(f"api/projects/{pid}/next", method="GET")
        assert response.status_code == 200, response.text[:300]
        return response.json()

    first = next_task(clients["ind_a"])
    clients["ind_a"].annotations.create(id=first["id"], result=rating_result(4))
    # The label stream ("Label All Tasks") serves the same task to the second annotator without the first one's work ...
    second = next_task(clients["ind_b"])
    assert second["id"] == first["id"] and second["annotations"] == []
    assert second["predictions"] and second["predictions"][0]["result"][0]["value"]["rating"] in range(1, 6)
    # ... but Community has no annotator role: opening the task directly (data manager) shows it. docs/annotation.md says so.
    direct = clients["ind_b"].tasks.get(id=str(first["id"]))
    assert [a["result"][0]["value"]["rating"] for a in direct.annotations] == [4]

    # A later push puts the settings back after someone changed them in the UI; --hide-predictions turns suggestions off.
    ls.projects.update(id=pid, show_annotation_history=True, maximum_annotations=5)
    push_records(str(run_dir), "quality_rating", ws, annotations_per_task=2, project_title=title, show_predictions=False)
    p = ls.projects.get(id=pid)
    assert p.show_annotation_history is False and p.maximum_annotations == 2 and p.show_collab_predictions is False


def test_shipped_configs_open_the_guidelines_panel_the_way_label_studio_reads_it():
    import xml.etree.ElementTree as ET

    from flows.io.label_studio import CONFIGS

    for config in CONFIGS.values():
        root = ET.fromstring(config.xml())
        panels = list(root.iter("Panel"))
        # Label Studio 1.23 opens a panel from its own `open` attribute (or the Collapse's); it ignores
        # the `defaultActiveKey` these configs used to carry, which left the guidelines collapsed.
        assert panels and all(p.get("open") == "true" for p in panels), config.name
        assert not any("defaultActiveKey" in el.attrib for el in root.iter()), config.name
    bundle = sorted((Path(__file__).resolve().parents[2] / ".ls-venv").glob("lib/python3*/site-packages/web/dist/apps/labelstudio/358.js"))
    if bundle:  # the installed frontend's Panel model does read `open`
        import re

        assert re.search(r'type:"panel",[^}]{0,200}\bopen:', bundle[0].read_text(errors="replace"))

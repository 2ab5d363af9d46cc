"""Leak test: once a recipe redacts PII, no raw value surfaces anywhere (issue 16).

One real Prefect run of a small corpus with PII in the text, in other fields (meta), in records a
filter drops before `redact_pii` runs, in an exact duplicate dropped before redaction, and in
quarantined lines (malformed JSON, a non-string text, a JSON array, a phone number as a field
name, GBK bytes in a UTF-8 file); then a release. Every file under the workspace, the Prefect
API's database, Label Studio's data directory and the output of every command (run, release,
lineage of kept/dropped/duplicate/quarantined records, show, report, annotate push, the tasks
Label Studio received) is scanned for every raw value, in every form (tests/flows/pii_leak_scan.py).
The test first checks the scan finds each value in the raw input, and that the run really holds
those records (counts, placeholders in text, meta and excerpts), so it cannot pass vacuously.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from typer.testing import CliRunner

from flows.cli.main import app
from tests.flows.pii_leak_scan import file_views, find_values, scan_tree

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# Raw values, each validated by the detector's own rules (check digits, number plans).
TEXT_PHONE, TEXT_ID, TEXT_EMAIL, TEXT_CARD = "13812345678", "110105198506120034", "wang.test@example.com", "6217 0012 3456 7890 122"
TEXT_FULLWIDTH_PHONE = "１３７００００１１１１"
META_PHONE, META_ID, META_HK_PHONE = "13912345678", "11010519491231002X", "2123 4567"
SHORT_PHONE, SHORT_ID = "13598765432", "330106198808153218"
Q_ID, Q_CARD = "310115198512034423", "6222022914177763174"  # issue 16's own example (浦东新区, born 1985)
Q_MALFORMED_PHONE, Q_MALFORMED_ID = "13687654321", "110101197703152211"
Q_ARRAY_PHONE, Q_KEY_PHONE, Q_GBK_PHONE = "13522223333", "13633334444", "15011112222"
RAW_VALUES = [TEXT_PHONE, TEXT_ID, TEXT_EMAIL, TEXT_CARD, TEXT_FULLWIDTH_PHONE, META_PHONE, META_ID, META_HK_PHONE,
              SHORT_PHONE, SHORT_ID, Q_ID, Q_CARD, Q_MALFORMED_PHONE, Q_MALFORMED_ID, Q_ARRAY_PHONE, Q_KEY_PHONE, Q_GBK_PHONE]

KEPT_TEXT = (f"请联系王先生核对订单，手机{TEXT_PHONE}，身份证号{TEXT_ID}，邮箱 {TEXT_EMAIL}，"
             f"退款请打到银行卡 {TEXT_CARD}，备用电话{TEXT_FULLWIDTH_PHONE}。谢谢大家的耐心等待。")


def _lines() -> list[bytes]:
    """The raw input, one JSONL line per case (line numbers are used below)."""
    j = lambda obj: json.dumps(obj, ensure_ascii=False).encode("utf-8")  # noqa: E731
    return [
        j({"text": KEPT_TEXT, "phone": META_PHONE, "idno": META_ID, "contact": {"hk_tel": META_HK_PHONE}}),   # 1 kept
        j({"text": "这是一段普通的正文，没有任何个人信息，只是为了凑够长度而写的句子，再多写几个字就够了。", "tel": META_PHONE}),  # 2 kept, PII in meta only
        j({"text": f"电话{SHORT_PHONE} 证{SHORT_ID}"}),                                                   # 3 dropped: too short (before redaction)
        j({"text": KEPT_TEXT, "phone": META_PHONE}),                                                      # 4 dropped: exact duplicate of 1 (before redaction)
        j({"text": 123, "note": f"身份证 {Q_ID} 卡 {Q_CARD}"}),                                              # 5 quarantined: text_not_string
        f'{{"text": "联系电话 {Q_MALFORMED_PHONE}，身份证 {Q_MALFORMED_ID}"'.encode("utf-8"),                  # 6 quarantined: malformed JSON
        j(["电话", Q_ARRAY_PHONE]),                                                                        # 7 quarantined: not an object
        j({"body": "没有 text 字段", Q_KEY_PHONE: "a phone number used as a field name"}),                   # 8 quarantined: missing text field
        b'{"text": "' + "张三的电话是".encode("gbk") + (f" {Q_GBK_PHONE}，这是一条混入的 GBK 记录。" + '"}').encode("utf-8"),  # 9 GBK bytes
    ]


RECIPE = """name: leak
workspace: {ws}
inputs:
  - source: contacts
    paths: [{path}]
    licence: CC0-1.0
ops:
  - op: normalize_unicode
  - op: drop_short_docs
    min_chars: 40
  - op: dedup_exact
  - op: redact_pii
    span_unit: utf16
  - op: identify_language
release:
  dataset: leak
"""


def _env() -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_API_URL=PREFECT_API_URL.value(), PREFECT_LOGGING_LEVEL="DEBUG",
               YULIAO_PROGRESS="1")
    return env


def yuliao(*args: str, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """Run the real CLI in a subprocess (Prefect logs at DEBUG); return stdout and stderr together."""
    out = subprocess.run([sys.executable, "-m", "flows.cli.main", *args], cwd=ROOT, env=env or _env(), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode in ok, f"yuliao {' '.join(args)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def leak_run(tmp_path_factory, prefect_api):
    """Run the recipe and publish it through the CLI; return paths, ids and every command's output."""
    base = tmp_path_factory.mktemp("pii-leak")
    inputs = base / "inputs"
    inputs.mkdir()
    raw = inputs / "contacts.jsonl"
    raw.write_bytes(b"\n".join(_lines()) + b"\n")
    ws = base / "ws"
    recipe = base / "recipe.yaml"
    recipe.write_text(RECIPE.format(ws=ws, path=raw), encoding="utf-8")
    outputs: dict[str, str] = {}
    outputs["run"] = yuliao("run", str(recipe), "--run-id", "r1")
    run_dir = ws / "runs" / "r1"
    outputs["release"] = yuliao("release", str(run_dir), "--workspace", str(ws))
    ids = {}
    for sub in ("kept", "dropped"):
        for f in sorted((run_dir / sub).glob("part-*.parquet")):
            for row in pq.read_table(f, columns=["id", "source_uri"]).to_pylist():
                ids[int(row["source_uri"].rsplit(":", 1)[1])] = row["id"]
    release_dir = ws / "releases" / "leak" / "v1"
    commands = {"show": ["show", "leak@v1"], "show --json": ["show", "leak@v1", "--json"], "releases": ["releases"],
                "report run": ["report", str(run_dir)], "report release": ["report", str(release_dir)],
                "catalog": ["catalog", "query", "SELECT * FROM quarantine", "-f", "json"]}
    for line in range(1, len(_lines()) + 1):
        ref = ids.get(line, f"{raw}:{line}")  # documents by id, quarantined lines by file:line
        commands[f"lineage line {line}"] = ["lineage", "leak@v1", ref, "--verify-raw"]
        commands[f"lineage --json line {line}"] = ["lineage", "leak@v1", ref, "--json"]
    runner = CliRunner()
    for name, args in commands.items():  # in process: the same commands, without a Python start-up each
        res = runner.invoke(app, [*args, "--workspace", str(ws)] if args[0] not in ("report",) else args)
        assert res.exit_code == 0, f"{name}: {res.output}"
        outputs[name] = res.output
    return {"base": base, "raw": raw, "ws": ws, "run_dir": run_dir, "release": release_dir, "ids": ids, "outputs": outputs}


def test_the_scan_finds_every_raw_value_in_the_raw_input():
    """Positive control: the scanner sees each value in the input bytes, also as a UTF-16 or squeezed copy."""
    raw = b"\n".join(_lines())
    views = [raw.decode("utf-8", "replace")]
    assert sorted({v for view in views for v in find_values(view, RAW_VALUES)}) == sorted(RAW_VALUES)
    assert find_values("卡号 6217-0012-3456-7890-122", RAW_VALUES) == [TEXT_CARD]
    assert find_values("tel 138 1234 5678", RAW_VALUES) == [TEXT_PHONE]
    assert find_values("Tel 13812345678".encode("utf-16-le").decode("utf-16-le"), RAW_VALUES) == [TEXT_PHONE]


def test_the_run_holds_every_case_it_is_meant_to_test(leak_run):
    """Not vacuous: the records were kept, dropped and quarantined as planned, and redacted where they are."""
    rec = json.loads((leak_run["run_dir"] / "run.json").read_text(encoding="utf-8"))
    assert rec["status"] == "completed"
    assert rec["totals"] == {"read": 9, "kept": 2, "dropped": 2, "quarantined": 5}, rec["totals"]
    assert set(rec["drops_by_reason"]) == {"too_short", "exact_duplicate"}, rec["drops_by_reason"]
    assert set(rec["quarantine_by_error"]) == {"text_not_string", "json_decode", "not_an_object", "missing_text_field",
                                               "decode_error"}
    kept = pq.read_table(leak_run["run_dir"] / "kept" / "part-00000.parquet").to_pylist()
    first = next(r for r in kept if r["source_uri"].endswith(":1"))
    for marker in ("<PHONE>", "<ID_CARD>", "<EMAIL>", "<BANK_CARD>"):
        assert marker in first["text"]
    assert "<PHONE>" in first["meta"] and "<ID_CARD>" in first["meta"]
    dropped = pq.read_table(leak_run["run_dir"] / "dropped" / "part-00000.parquet").to_pylist()
    assert {r["source_uri"].rsplit(":", 1)[1] for r in dropped} == {"3", "4"}
    assert all("<PHONE>" in r["text"] for r in dropped)
    quarantine = pq.read_table(leak_run["release"] / "_quarantine" / "part-00000.parquet").to_pylist()
    excerpts = {q["source_uri"].rsplit(":", 1)[1]: q["raw_excerpt"].decode("utf-8", "replace") for q in quarantine}
    assert "<ID_CARD>" in excerpts["5"] and "<BANK_CARD>" in excerpts["5"] and '"text": 123' in excerpts["5"]
    assert "<PHONE>" in excerpts["6"] and "<ID_CARD>" in excerpts["6"]
    assert "<PHONE>" in excerpts["7"] and "<PHONE>" in excerpts["9"]
    assert not list((leak_run["run_dir"] / "_stages").rglob("part-*.parquet")), "stage files outlived the run"
    assert "raw excerpt" in leak_run["outputs"]["lineage line 6"] and "<PHONE>" in leak_run["outputs"]["lineage line 6"]
    story = leak_run["outputs"]["lineage line 3"]  # lineage says why the text of a row dropped before redaction is redacted
    assert "(after the drop)" in story and "changed it: redacted ID_CARDx1,PHONEx1" in story


def test_no_file_under_the_workspace_holds_a_raw_value(leak_run):
    leaks = scan_tree(leak_run["ws"], RAW_VALUES)
    assert leaks == {}


def test_no_command_output_holds_a_raw_value(leak_run):
    leaks = {name: find_values(out, RAW_VALUES) for name, out in leak_run["outputs"].items()}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_no_prefect_log_or_database_row_holds_a_raw_value(leak_run):
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    db = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split("///", 1)[1])
    assert db.is_file()
    leaks = {str(p): sorted({v for view in file_views(p) for v in find_values(view, RAW_VALUES)})
             for p in db.parent.glob(db.name + "*")}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_annotate_push_sends_no_raw_value(leak_run, label_studio, tmp_path):
    env = dict(_env(), YULIAO_LS_URL=label_studio.url, YULIAO_LS_TOKEN=label_studio.token)
    title = f"leak-{os.urandom(3).hex()}"
    out = yuliao("annotate", "push", str(leak_run["run_dir"]), "--config", "pii_review", "--k", "1", "--project", title, env=env)
    from label_studio_sdk import LabelStudio

    ls = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    project = next(p for p in ls.projects.list() if p.title == title)
    tasks = [t.model_dump(mode="json") for t in ls.tasks.list(project=project.id, fields="all")]
    assert len(tasks) == 2 and any("<PHONE>" in t["data"]["text"] for t in tasks)  # the two kept records
    payload = json.dumps(tasks, ensure_ascii=False)
    assert find_values(out, RAW_VALUES) == [] and find_values(payload, RAW_VALUES) == []
    assert scan_tree(leak_run["ws"], RAW_VALUES) == {}
    assert scan_tree(label_studio.data_dir, RAW_VALUES) == {}

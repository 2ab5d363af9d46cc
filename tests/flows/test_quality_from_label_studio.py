"""Issue 9 end to end: labels collected from a real Label Studio round trip train the learned quality scorer.

Documents (exactly): real text from ../shared/corpora via ``tests.quality.quality_data.real_documents``
(SOHU news passages, lingua English and Japanese sentences 8 per document, Common Voice Cantonese
sentences 8 per document), a smaller slice than the unit-test export. Every original is a "good"
document. For each original, with probability 0.75 (seeded ``random.Random``), one degraded copy is
added as a "bad" document, damaged by one of ``quality_data.DEGRADATIONS`` (shuffled characters,
mojibake, menu fragments, a repeated sentence, stripped punctuation with hard line breaks, truncated
and padded with another document's first line) through ``quality_data.degrade``. An original and its
copy share a ``group`` so the held-out split never separates them.

Labels: the judgements are SIMULATED -- three annotators with their own log-in accounts (sign-up
through the invite link, own API token) rate every task 1-5 in the ``quality_rating`` config: a good
document gets 4 or 5, a degraded one 1 or 2, and with a fixed seeded error rate per annotator
(ANNOTATOR_ERROR) the rating lands on the wrong side instead. But every label travels through Label
Studio: yuliao pushes the documents (K=3 annotations per task), the annotators submit through the
server's API, yuliao's collect fetches the annotations into ``annotations.parquet`` and aggregates them
(Dawid-Skene) into ``labels.parquet``, and ``yuliao quality train`` trains on that collected file
(ratings 4-5 = good, 1-3 = bad).
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from label_studio_sdk import LabelStudio
from typer.testing import CliRunner

from flows.annotate import collect_project, project_dir, push_records
from flows.io.label_studio import MappingStore, ServerSettings, connect, sign_up_annotator
from flows.io.store import file_sha256
from tests.quality.quality_data import DEGRADATIONS, degrade, real_documents
from transforms.schema import docs_from_pylist, make_doc_id, sha256_hex

pytestmark = [pytest.mark.integration, pytest.mark.shared]

ANNOTATOR_ERROR: dict[str, float] = {"rater_a": 0.04, "rater_b": 0.07, "rater_c": 0.12}
DEGRADED_SHARE = 0.75
TARGET_PRECISION = 0.9


def build_documents(corpora: Path, path: Path, seed: int = 11) -> dict[str, str]:
    """Write the documents Parquet (good originals + degraded copies, see module docstring); return id -> truth."""
    rng = random.Random(seed)
    originals = real_documents(corpora, n_zh=110, n_en=40, n_ja=20, n_yue=30)
    rows, groups, truth = [], [], {}
    for i, (source, lang, text) in enumerate(originals):
        items = [(text, "good", source)]
        if rng.random() < DEGRADED_SHARE:
            kind = DEGRADATIONS[rng.randrange(len(DEGRADATIONS))]
            items.append((degrade(text, kind, rng, originals[(i + 17) % len(originals)][2]), "bad", f"{source}+{kind}"))
        for j, (t, label, src) in enumerate(items):
            raw = sha256_hex(t.encode("utf-8"))
            doc_id = make_doc_id(src, f"{i}:{j}", raw)
            rows.append(dict(id=doc_id, text=t, source=src, source_uri=f"ls-quality-fixture#{i}.{j}", raw_sha256=raw, lang=lang))
            groups.append(f"g{i}")
            truth[doc_id] = label
    docs = docs_from_pylist(rows).append_column("group", pa.array(groups, pa.string()))
    pq.write_table(docs, path)
    return truth


def simulated_rating(is_good: bool, error_rate: float, rng: random.Random) -> int:
    """Return a 1-5 rating: 4-5 for good, 1-2 for bad, on the wrong side with probability `error_rate`."""
    says_good = is_good if rng.random() >= error_rate else not is_good
    return rng.choice((4, 5)) if says_good else rng.choice((1, 2))


def test_label_studio_annotations_train_a_scorer_that_beats_single_signals(tmp_path: Path, corpora: Path, label_studio, monkeypatch, run_tag: str):
    monkeypatch.setenv("YULIAO_LS_URL", label_studio.url)
    monkeypatch.setenv("YULIAO_LS_TOKEN", label_studio.token)
    settings = ServerSettings(label_studio.url, label_studio.token)
    ws = tmp_path / "ws"
    docs_path = tmp_path / "documents.parquet"
    truth = build_documents(corpora, docs_path)
    n_docs = len(truth)

    # 1. Push every document (public corpus text, no PII redaction step: explicitly allowed), K=3.
    pushed = push_records(str(docs_path), "quality_rating", ws, annotations_per_task=3, project_title=f"test quality model from LS {run_tag}",
                          allow_unredacted=True, batch_size=200)
    pid = pushed["project_id"]
    assert pushed["imported"] == n_docs and pushed["tasks_in_project"] == n_docs
    ls = connect(settings)
    assert ls.projects.get(id=pid).maximum_annotations == 3
    with MappingStore(ws / "annotation" / "label_studio.sqlite", settings.url) as store:
        mapping = store.tasks(pid)
    assert set(mapping) == set(truth)

    # 2. Three annotator accounts submit their (simulated) ratings through the server's API, as themselves.
    emails = {name: f"{name}.{run_tag}@annotators.test" for name in ANNOTATOR_ERROR}
    tokens = {name: sign_up_annotator(ls, settings, emails[name], f"pw-{run_tag}-{name}") for name in ANNOTATOR_ERROR}

    def annotate_all(name: str) -> int:
        client = LabelStudio(base_url=settings.url, api_key=tokens[name])
        rng = random.Random(f"{name}-judgements")
        for rec in sorted(mapping):
            rating = simulated_rating(truth[rec] == "good", ANNOTATOR_ERROR[name], rng)
            client.annotations.create(id=mapping[rec][0], lead_time=rng.uniform(5, 60),
                                      result=[{"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": rating}}])
        return len(mapping)

    with ThreadPoolExecutor(max_workers=len(ANNOTATOR_ERROR)) as pool:  # three people working at once
        assert sum(pool.map(annotate_all, sorted(ANNOTATOR_ERROR))) == 3 * n_docs

    # 3. yuliao's collect: annotations into Parquet, agreement, Dawid-Skene labels per record.
    report = collect_project(ws, pid)
    assert report["fetched"] == 3 * n_docs and report["records_labelled"] == n_docs
    out = project_dir(ws, pid)
    annotations = pq.read_table(out / "annotations.parquet")
    assert annotations.num_rows == 3 * n_docs
    assert set(annotations.column("annotator").to_pylist()) == set(emails.values())
    labels_path = out / "labels.parquet"
    labels = {r["id"]: r["label_quality"] for r in pq.read_table(labels_path).to_pylist()}
    assert set(labels) == set(truth)
    label_errors = sum((labels[i] in ("4", "5")) != (t == "good") for i, t in truth.items())
    # Three raters with 4-12% error: aggregation removes most but not all of the noise, as in a real export.
    assert label_errors < 0.04 * n_docs

    # 4. Train from the collected labels with `yuliao quality train` (the training adapter behind it).
    from flows.cli.main import app

    labels_sha = file_sha256(labels_path)
    annotation_set = f"label-studio-project-{pid}@{labels_sha[:12]}"
    res = CliRunner().invoke(app, ["quality", "train", "-a", str(labels_path), "-d", str(docs_path), "-w", str(ws),
                                   "--positive", "4", "--positive", "5", "--negative", "1", "--negative", "2", "--negative", "3",
                                   "--group-column", "group", "--target-precision", str(TARGET_PRECISION),
                                   "--annotation-set", annotation_set])
    assert res.exit_code == 0, res.output
    card = json.loads((ws / "models" / "quality" / "v1" / "model.json").read_text(encoding="utf-8"))
    best_signal, best_auc = max(card["baselines"].items(), key=lambda kv: kv[1])
    print(f"\nLabel Studio project {pid}: {n_docs} documents ({sum(v == 'good' for v in truth.values())} good), "
          f"{annotations.num_rows} annotations collected, alpha_ordinal {report['summary']['alpha_ordinal']:.3f}, "
          f"{label_errors} aggregated labels wrong vs truth\n"
          f"held-out ({card['n_heldout']} docs, train {card['n_train']}): model AUC {card['heldout_auc']:.4f}; best single signal "
          f"{best_signal} AUC {best_auc:.4f} (of {len(card['baselines'])}); threshold {card['threshold']:.4f} "
          f"(target precision {TARGET_PRECISION}, met on training folds: {card['target_precision_met']}) -> held-out precision "
          f"{card['heldout_precision']:.4f}, recall {card['heldout_recall']:.4f}")

    # Held-out AUC is reported and beats every single heuristic signal on the same held-out labels.
    assert len(card["baselines"]) > 20
    assert card["heldout_auc"] > best_auc
    assert card["heldout_auc"] > 0.85
    # Precision at the chosen threshold is reported, and the kept set is mostly good documents.
    assert card["target_precision_met"] and card["heldout_precision"] >= TARGET_PRECISION - 0.1 and card["heldout_recall"] > 0.3
    # Lineage: the card names the collected annotation set and the exact file it was read from.
    assert card["annotation_set"] == annotation_set and card["label_column"] == "label_quality"
    assert card["extra"]["annotations_path"] == str(labels_path) and card["extra"]["annotations_sha256"] == labels_sha
    assert card["extra"]["documents_sha256"] == file_sha256(docs_path) and card["extra"]["n_labelled"] == n_docs
    assert card["positive_labels"] == ["4", "5"] and card["negative_labels"] == ["1", "2", "3"]

"""What `yuliao annotate` loads before it does any work: no Label Studio SDK, no statistics stack, no pandas.

Each of these cost seconds of CPU per command on the 2-core machine (bench/results/label_studio.md);
push and status need none of them, and collect imports the statistics only when something changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("label_studio_sdk", "pandas", "scipy", "sklearn", "crowdkit", "statsmodels", "pyarrow.dataset")


def modules_loaded_by(code: str) -> set[str]:
    """Return which HEAVY modules a fresh interpreter has loaded after running `code`."""
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                         capture_output=True, text=True, timeout=300, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_annotate_modules_load_no_sdk_statistics_or_pandas():
    assert modules_loaded_by("import flows.cli.annotate, flows.annotate, flows.io.label_studio") == set()


def test_reading_and_sampling_what_to_push_loads_no_sdk_or_statistics(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["一", "二", "三"], "score_quality": [0.1, 0.5, None]}), path)
    code = (f"from pathlib import Path\nfrom flows.annotate import read_records, sample_for_annotation, build_tasks\n"
            f"from flows.io.label_studio import get_config\n"
            f"docs = read_records([Path({str(path)!r})])\n"
            f"tasks = build_tasks(sample_for_annotation(docs, 3, 'auto', 0), get_config('quality_rating'), 'score_quality')\n"
            f"assert len(tasks) == 3")
    # pandas may come in through pyarrow's conversions of Python values; the rest must not.
    assert modules_loaded_by(code) - {"pandas"} == set()


def test_collect_statistics_load_no_scipy_sklearn_or_crowdkit():
    # What collect computes when something changed: every aggregation and agreement figure of the report.
    code = ("import pyarrow as pa\n"
            "from quality.aggregate import aggregate_labels\n"
            "from quality.agreement import summarize_agreement, cohen_kappa_pairs, agreement_per_label, item_agreement\n"
            "labels = pa.table({'item': ['a', 'a', 'b', 'b', 'c', 'c'], 'annotator': ['x', 'y'] * 3,\n"
            "                   'label': ['1', '1', '2', '3', '5', '5']})\n"
            "for method in ('dawid_skene', 'majority_vote'):\n"
            "    assert aggregate_labels(labels, method).num_rows == 3\n"
            "summarize_agreement(labels, ordinal_order=['1', '2', '3', '4', '5'])\n"
            "cohen_kappa_pairs(labels, weights='quadratic', order=['1', '2', '3', '4', '5'])\n"
            "agreement_per_label(labels), item_agreement(labels)")
    assert modules_loaded_by(code) - {"pandas"} == set()

"""Recipe validation: typos and unknown ops fail before any work, naming the place and the choices."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flows.recipe import RecipeError, load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[2]

GOOD = textwrap.dedent("""\
    name: t
    inputs:
      - source: s
        paths: [x.jsonl]
    ops:
      - op: normalize_whitespace
      - op: drop_short_docs
        min_chars: 5
    """)


def test_demo_recipe_is_valid():
    recipe = load_recipe(ROOT / "configs/recipes/demo.yaml")
    assert recipe.name == "demo"
    names = [op.op_id.split("@")[0] for op in recipe.ops]
    assert {"normalize_whitespace", "drop_short_docs", "dedup_exact", "dedup_near", "identify_language"} <= set(names)
    assert len(recipe.sha256) == 64


def test_good_recipe_builds_typed_ops():
    recipe = parse_recipe(GOOD, "good.yaml")
    assert recipe.ops[1].min_chars == 5


def test_mistyped_param_names_key_line_and_known_params():
    with pytest.raises(RecipeError) as err:
        parse_recipe(GOOD.replace("min_chars: 5", "min_lenght: 5"), "typo.yaml")
    msg = str(err.value)
    assert "typo.yaml:8" in msg and "min_lenght" in msg and "min_chars" in msg and "ops[1]" in msg


def test_unknown_op_lists_known_ops_and_suggests():
    with pytest.raises(RecipeError) as err:
        parse_recipe(GOOD.replace("op: drop_short_docs", "op: drop_short_doc"), "unk.yaml")
    msg = str(err.value)
    assert "unknown op 'drop_short_doc'" in msg and "Did you mean drop_short_docs" in msg
    assert "normalize_whitespace" in msg and "unk.yaml:7" in msg


def test_unknown_top_level_and_input_keys():
    with pytest.raises(RecipeError, match=r"unknown key 'workspce'.*Known keys here: .*workspace"):
        parse_recipe(GOOD + "workspce: /tmp/x\n", "top.yaml")
    with pytest.raises(RecipeError, match=r"unknown key 'inputs.0.licnse'.*licence"):
        parse_recipe(GOOD.replace("paths: [x.jsonl]", "paths: [x.jsonl]\n    licnse: MIT"), "in.yaml")


def test_wrong_type_is_reported():
    with pytest.raises(RecipeError, match=r"min_chars.*valid integer"):
        parse_recipe(GOOD.replace("min_chars: 5", "min_chars: five"), "type.yaml")


def test_cli_rejects_typo_before_starting_prefect(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("min_chars: 5", "min_lenght: 5").replace("x.jsonl", str(tmp_path / "x.jsonl")))
    (tmp_path / "x.jsonl").write_text('{"text": "hello"}\n')
    env = {**os.environ, "YULIAO_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    out = subprocess.run([sys.executable, "-m", "flows.cli", "run", str(bad), "-w", str(tmp_path / "ws")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "min_lenght" in out.stderr and "min_chars" in out.stderr
    assert not (tmp_path / "ws").exists()  # nothing ran
    assert not (tmp_path / "prefect").exists()  # Prefect was never started

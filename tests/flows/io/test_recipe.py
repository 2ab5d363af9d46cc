"""Recipe validation: typos and unknown ops fail before any work, naming the place and the choices."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flows.io.recipe import RecipeError, load_recipe, parse_recipe

ROOT = Path(__file__).resolve().parents[3]

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
    out = subprocess.run([sys.executable, "-m", "flows.cli.main", "run", str(bad), "-w", str(tmp_path / "ws")],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "min_lenght" in out.stderr and "min_chars" in out.stderr
    assert not (tmp_path / "ws").exists()  # nothing ran
    assert not (tmp_path / "prefect").exists()  # Prefect was never started


@pytest.mark.parametrize("value", ["99999999999999999999999999999999999999", "-99999999999999999999999999999999999999",
                                   "1e400", ".nan", ".inf", "9223372036854775808"])
def test_huge_or_non_finite_op_numbers_fail_validation_naming_the_line(value):
    with pytest.raises(RecipeError) as err:
        parse_recipe(GOOD.replace("min_chars: 5", f"min_chars: {value}"), "big.yaml")
    msg = str(err.value)
    assert "big.yaml:8" in msg and "min_chars" in msg


def test_every_op_bounds_its_numbers():
    """Generic: every registered op (transforms and quality) rejects numbers beyond int64 and non-finite floats."""
    from pydantic import ValidationError

    from transforms.registry import known_ops

    import typing

    def kinds(ann) -> set:
        args = typing.get_args(ann)
        return {ann} if not args else set().union(*(kinds(a) for a in args))

    checked = 0
    for name, cls in known_ops().items():
        for field, info in cls.model_fields.items():
            types = kinds(info.annotation)
            for bad in ((10**40,) if int in types else ()) + ((float("nan"), float("inf"), 1e300) if float in types else ()):
                with pytest.raises(ValidationError) as err:
                    cls(**{field: bad})
                assert any(e["loc"][:1] == (field,) for e in err.value.errors()), f"{name}.{field}={bad} accepted"
                checked += 1
    assert checked >= 10


@pytest.mark.parametrize(("old", "new"), [
    ("paths: [x.jsonl]", "paths: [x.jsonl]\n    max_record_bytes: 99999999999999999999999"),
    ("paths: [x.jsonl]", "paths: [x.jsonl]\nrun: {batch_rows: 99999999999999999999999}"),
    ("paths: [x.jsonl]", "paths: [x.jsonl]\nrun: {workers: 1.0e+30}"),
    ("paths: [x.jsonl]", "paths: [x.jsonl]\nrelease: {gates: {min_score: {score_quality: .nan}}}"),
])
def test_recipe_sections_bound_their_numbers(old, new):
    with pytest.raises(RecipeError, match="out of range|finite|exceeded maximum size"):
        parse_recipe(GOOD.replace(old, new), "sec.yaml")


def test_reader_options_bound_their_numbers(tmp_path):
    with pytest.raises(RecipeError, match="options.*out of range"):
        parse_recipe(GOOD.replace("paths: [x.jsonl]", "paths: [x.parquet]\n    options: {batch_rows: 99999999999999999999999}"))


def test_check_command_rejects_a_huge_min_chars(tmp_path):
    from typer.testing import CliRunner

    from flows.cli.main import app

    (tmp_path / "x.jsonl").write_text('{"text": "hello world"}\n')
    bad = tmp_path / "big.yaml"
    bad.write_text(GOOD.replace("min_chars: 5", "min_chars: 99999999999999999999999999999999999999").replace("x.jsonl", str(tmp_path / "x.jsonl")))
    res = CliRunner().invoke(app, ["check", str(bad)])
    assert res.exit_code == 2, res.output
    assert "min_chars" in res.output and "out of range" in res.output

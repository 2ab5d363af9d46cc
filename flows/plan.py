"""Planning a run without starting anything: shards from inputs, stages from ops (no Prefect here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.io.readers import check_options, known_readers, list_input_files, reader_for
from flows.io.recipe import Recipe, RecipeError
from transforms.ops import CorpusOp, Operator


@dataclass(frozen=True)
class ShardRef:
    """One unit of parallel work: a raw input file of one recipe input."""

    shard: int
    input_index: int
    path: str


@dataclass
class Segment:
    """Plain ops to run on every shard, optionally followed by a corpus-wide op."""

    ops: list[Operator] = field(default_factory=list)
    corpus: CorpusOp | None = None


def split_segments(ops: list[Operator]) -> list[Segment]:
    """Cut the op list after every CorpusOp; the last segment has no corpus op."""
    segments = [Segment()]
    for op in ops:
        if isinstance(op, CorpusOp):
            segments[-1].corpus = op
            segments.append(Segment())
        else:
            segments[-1].ops.append(op)
    return segments


def plan_shards(recipe: Recipe) -> list[ShardRef]:
    """List every input file as a shard, checking readers and options before any work starts."""
    known_readers()
    shards: list[ShardRef] = []
    for i, spec in enumerate(recipe.inputs):
        for path in list_input_files(spec):
            check_options(spec, reader_for(spec, path))
            shards.append(ShardRef(len(shards), i, path))
    if not shards:
        raise RecipeError(f"{recipe.source_path}: the inputs match no files")
    return shards



def override_inputs(recipe: Recipe, paths: list[str]) -> Recipe:
    """Return the recipe with every input's paths replaced by `paths` (the CLI's --input)."""
    new_inputs = [spec.model_copy(update={"paths": list(paths)}) for spec in recipe.inputs[:1]]
    return recipe.model_copy(update={"inputs": new_inputs})

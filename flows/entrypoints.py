"""What Prefect deployments and `yuliao run` start: each flow composed with its run report, and the task runners.

The flows in this package never import the report (flows/report/); this module is where the two
meet, as Prefect hooks, so configs/prefect.yaml deploys `flows/entrypoints.py:curate` and a
scheduled run writes the same report.html and artifacts as one started from the CLI.
"""

from __future__ import annotations

from pathlib import Path

from flows.curate import curate_flow, release_signatures
from flows.io.notify import notify_failure
from flows.io.recipe import RecipeError, load_recipe
from flows.plan import override_inputs, plan_shards, split_segments
from flows.report.artifacts import write_run_report

curate = curate_flow.with_options(on_completion=[write_run_report], on_failure=[notify_failure, write_run_report])


def run_recipe(recipe_path: str, workspace: str | None = None, inputs: list[str] | None = None,
               run_id: str | None = None, runner: str | None = None, workers: int | None = None,
               resume: bool = False) -> Path:
    """Validate the recipe, then run the curation flow with the chosen task runner; return the run dir."""
    recipe = load_recipe(recipe_path)  # fail fast, before Prefect starts
    if inputs:
        recipe = override_inputs(recipe, inputs)
    plan_shards(recipe)
    for seg in split_segments(recipe.ops):  # releases named in `against` must exist and match, before any work
        if seg.corpus is not None:
            from flows.io.release_store import ReleaseError

            try:
                release_signatures(Path(workspace or recipe.workspace), seg.corpus)
            except (ValueError, ReleaseError) as exc:
                raise RecipeError(f"{recipe_path}: {seg.corpus.op_id}: {exc}") from None
    kind = runner or recipe.run.runner
    n = workers or recipe.run.workers
    fl = curate.with_options(task_runner=make_task_runner(kind, n, recipe.run.dask_address, warm_recipe=recipe_path))
    from flows.server.resident_api import flow_api

    with flow_api():
        return Path(fl(recipe_path=recipe_path, workspace=workspace, inputs=inputs, run_id=run_id, resume=resume))


def make_task_runner(kind: str, workers: int, dask_address: str | None = None, warm_recipe: str | None = None):
    """Return the Prefect task runner for `kind` (thread, process or dask); process workers fork from a warm server."""
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "process":
        from flows.process_pool import WarmProcessPoolTaskRunner

        return WarmProcessPoolTaskRunner(max_workers=workers, warm_recipe=warm_recipe)
    if kind == "dask":
        from prefect_dask import DaskTaskRunner

        if dask_address:
            return DaskTaskRunner(address=dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    raise ValueError(f"unknown runner {kind!r}: thread, process or dask")


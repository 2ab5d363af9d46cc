"""Flows meant for schedules (configs/prefect.yaml): publish the newest completed run of a recipe.

`yuliao release RUN` publishes a run the operator names; on a cadence nobody names it, so this
flow picks the newest completed run of a recipe in the workspace and hands it to the releases
flow, then notifies the webhook (YULIAO_NOTIFY_WEBHOOK) that a release went out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from flows.io.notify import notify_completion, notify_failure
from flows.io.store import read_json


def newest_completed_run(workspace: Path, recipe_name: str) -> Path | None:
    """Return the newest run directory of `recipe_name` whose run record says completed."""
    runs = workspace / "runs"
    for d in sorted(runs.iterdir(), reverse=True) if runs.is_dir() else ():
        rec_path = d / "run.json"
        if not rec_path.is_file():
            continue
        rec = read_json(rec_path)
        if rec.get("status") == "completed" and rec.get("recipe", {}).get("name") == recipe_name:
            return d
    return None


@flow(name="release-latest", log_prints=False, on_completion=[notify_completion], on_failure=[notify_failure],
      on_crashed=[notify_failure])
def release_latest_flow(recipe_name: str, workspace: str = ".yuliao/workspace", dataset: str | None = None) -> dict[str, Any]:
    """Publish the newest completed run of `recipe_name` as the next release of its dataset."""
    from flows.release import release_flow

    ws = Path(workspace)
    run = newest_completed_run(ws, recipe_name)
    if run is None:
        raise FileNotFoundError(f"no completed run of recipe {recipe_name!r} under {ws / 'runs'}; run `yuliao run` first")
    get_run_logger().info("publishing run %s", run.name)
    return release_flow(run=str(run), dataset=dataset, workspace=str(ws))

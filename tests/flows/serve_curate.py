"""Serve the curate flow as two real Prefect deployments (thread runner, process runner) until killed.

Started by tests/flows/test_deployment_runs.py as `python -m tests.flows.serve_curate RECIPE WS_THREAD WS_PROCESS`
with PREFECT_API_URL pointing at the test session's Prefect server. `curate/race-check-thread` is
`flows/entrypoints.py:curate` exactly as configs/prefect.yaml deploys it (Prefect's default thread
pool runs the shard tasks); `curate/race-check-process` is the same flow on the process runner (workers forked from a warm fork server).
Each flow run executes in a fresh spawned interpreter, as a worker's run does.
"""

from __future__ import annotations

import sys

from prefect import serve

from flows.entrypoints import curate as curate_flow  # as configs/prefect.yaml deploys it, report hook included
from flows.entrypoints import make_task_runner

THREAD_DEPLOYMENT = "race-check-thread"
PROCESS_DEPLOYMENT = "race-check-process"


def main(recipe: str, ws_thread: str, ws_process: str) -> None:
    """Register both deployments (parameters as the nightly one: resume=true) and serve them."""
    thread = curate_flow.to_deployment(
        name=THREAD_DEPLOYMENT, parameters={"recipe_path": recipe, "workspace": ws_thread, "resume": True})
    process = curate_flow.with_options(task_runner=make_task_runner("process", 2)).to_deployment(
        name=PROCESS_DEPLOYMENT, parameters={"recipe_path": recipe, "workspace": ws_process, "resume": True})
    serve(thread, process, print_starting_message=False, limit=1)


if __name__ == "__main__":
    main(*sys.argv[1:4])

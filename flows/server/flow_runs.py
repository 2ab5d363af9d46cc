"""Which Prefect flow run owns a run directory, and marking the ones whose process died as Crashed.

A flow whose process is SIGKILLed (OOM killer, reboot, `kill -9`) never reports its end, so Prefect
shows it RUNNING forever. Every curate flow therefore writes `_flow_run.json` into its run
directory (flow run id, host, pid and the pid's start time); the next `yuliao run` / `yuliao resume`
in the same workspace finds the records whose process is gone and whose run never completed, and
sets those flow runs (and their unfinished task runs) to Crashed through the Prefect client.
A flow that returns (or raises) notes `flow_returned`, so normal runs cost no API call.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from flows.io.store import read_json, write_json_atomic

FLOW_RUN_RECORD = "_flow_run.json"
CRASH_MESSAGE = "the process running this flow died (killed or crashed) before it finished; found by yuliao on {host}"


def process_start_time(pid: int) -> float | None:
    """Return the start time of process `pid` (seconds since the epoch), or None when there is none."""
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def write_owner_record(run_dir: Path, flow_run_id: str | None) -> None:
    """Record that the current process, as flow run `flow_run_id`, is working on `run_dir`."""
    pid = os.getpid()
    write_json_atomic(run_dir / FLOW_RUN_RECORD, {
        "flow_run_id": flow_run_id, "host": platform.node(), "pid": pid, "pid_started": process_start_time(pid),
        "started_at": datetime.now(timezone.utc).isoformat()})


def owner_is_gone(record: dict) -> bool:
    """True when the record's process is known to be dead: same host, and no process with that pid and start time."""
    if record.get("host") != platform.node():
        return False  # another machine's process: we cannot tell, so we never mark it
    started = process_start_time(int(record["pid"]))
    return started is None or started != record.get("pid_started")


def mark_owner_returned(run_dir: Path) -> None:
    """Note in the owner record that the flow function returned (Prefect records its end itself from here)."""
    path = run_dir / FLOW_RUN_RECORD
    try:
        rec = read_json(path)
    except (OSError, ValueError):
        return
    write_json_atomic(path, rec | {"flow_returned": datetime.now(timezone.utc).isoformat()})


def orphaned_flow_runs(workspace: Path) -> list[tuple[Path, dict]]:
    """Return (run dir, owner record) of every run in `workspace` whose owner died before its flow function returned."""
    runs = workspace / "runs"
    found = []
    for d in sorted(runs.iterdir()) if runs.is_dir() else ():
        path = d / FLOW_RUN_RECORD
        if not path.is_file():
            continue
        try:
            rec = read_json(path)
        except (OSError, ValueError):
            continue
        # Not "has a completed run.json": a kill after run.json is written still leaves the flow run RUNNING.
        if rec.get("flow_run_id") and not rec.get("flow_returned") and not rec.get("marked_crashed") and owner_is_gone(rec):
            found.append((d, rec))
    return found


def mark_crashed(flow_run_id: str, message: str) -> bool:
    """Set a flow run that is not in a final state, and its unfinished task runs, to Crashed; True if it was changed."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterState,
        TaskRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    unfinished = [StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED, StateType.PAUSED]
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(flow_run_id)
        except ObjectNotFound:
            return False  # recorded by another Prefect database (PREFECT_API_URL changed since)
        if run.state is not None and run.state.is_final():
            return False
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
            task_run_filter=TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=unfinished))))
        for t in tasks:
            client.set_task_run_state(t.id, Crashed(message=message), force=True)
        client.set_flow_run_state(run.id, Crashed(message=message), force=True)
    return True


def mark_orphaned_flow_runs(workspace: Path) -> list[str]:
    """Mark every orphaned flow run of `workspace` Crashed in Prefect (once each); return the run ids marked."""
    marked = []
    for run_dir, rec in orphaned_flow_runs(workspace):
        if mark_crashed(rec["flow_run_id"], CRASH_MESSAGE.format(host=platform.node())):
            marked.append(run_dir.name)
        write_json_atomic(run_dir / FLOW_RUN_RECORD, rec | {"marked_crashed": datetime.now(timezone.utc).isoformat()})
    return marked

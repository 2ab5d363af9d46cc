"""The process task runner: workers forked from a warm server, which imports and warms once what each would load.

Prefect's ProcessPoolTaskRunner spawns each worker as a fresh interpreter, which imports Prefect,
pyarrow and the operators and builds the language tables and numba kernels again (about 3 CPU s and
600 MB a worker on the multilingual bench). `WarmProcessPoolTaskRunner` starts the workers from a
multiprocessing fork server instead, which imports this module first (`set_forkserver_preload`):
workers are forks of a warm process, so those costs are paid once and the pages stay shared until a
worker writes them. The recipe to warm comes through YULIAO_POOL_RECIPE, which the runner sets just
before the server starts; a warm-up that fails costs speed only, since each worker builds what it
lacks. The server is one per parent process and is reused by later runs, warmed for the first recipe.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

from prefect.task_runners import ProcessPoolTaskRunner

RECIPE_ENV = "YULIAO_POOL_RECIPE"
SERVER_ENV = "YULIAO_POOL_SERVER"  # set only in the fork server's environment: importing this module elsewhere does nothing


def warm_fork_server(recipe: str | None) -> list[str]:
    """Import the workers' task code and warm `recipe`'s operators in this process; return what was warmed."""
    import flows.curate  # noqa: F401  (the shard and reduce tasks, their readers and writers)

    warmed = ["imports"]
    if recipe:
        try:
            from flows.cli.worker import warm_operators

            warm_operators(Path(recipe))
            warmed.append(f"operators of {Path(recipe).name}")
        except Exception as exc:  # noqa: BLE001  (a warm-up never fails a run: the workers load what they need)
            print(f"yuliao: process pool warm-up skipped ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()  # the collector would otherwise touch, and so copy, every shared object page in each worker
    return warmed


_SERVER_START = threading.Lock()


def start_warm_fork_server(recipe: str | None) -> multiprocessing.context.BaseContext:
    """Start (once per process) the fork server that preloads this module, warmed for `recipe`; return its context."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    if multiprocessing.parent_process() is not None:
        # A pool worker: Prefect enters a copy of the flow's task runner around each task it runs there;
        # that copy submits nothing, so it needs no server of its own (one would start lazily if it did).
        return context
    with _SERVER_START:
        # The server copies this process's environment when it starts, and only then: set the two
        # variables for that moment. A server already running keeps its first warm-up.
        saved = {key: os.environ.get(key) for key in (SERVER_ENV, RECIPE_ENV)}
        os.environ[SERVER_ENV] = "1"
        if recipe:
            os.environ[RECIPE_ENV] = str(Path(recipe).resolve())
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return context


def exit_with_flow_process(flow_alive: multiprocessing.connection.Connection) -> None:
    """In a pool worker: end this process as soon as the flow process that owns the pool is gone.

    A pool worker otherwise waits on its call queue forever once its flow process is SIGKILLed (it
    holds the queue's write end itself), and keeps the fork server alive with it. `flow_alive` is the
    read end of a pipe whose only write end the flow process holds: end of file means it died.
    """
    def wait_for_eof() -> None:
        try:
            flow_alive.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(70)  # a dead flow's task: its stage files are incomplete and `yuliao resume` redoes them

    threading.Thread(target=wait_for_eof, name="yuliao-exit-with-flow", daemon=True).start()


class WarmProcessPoolTaskRunner(ProcessPoolTaskRunner):
    """Prefect's ProcessPoolTaskRunner with workers started by a warm fork server instead of spawned cold."""

    def __init__(self, max_workers: int | None = None, warm_recipe: str | None = None):
        super().__init__(max_workers=max_workers)
        self._warm_recipe = warm_recipe
        self._flow_alive: multiprocessing.connection.Connection | None = None

    def duplicate(self) -> "WarmProcessPoolTaskRunner":
        runner = super().duplicate()
        runner._warm_recipe = self._warm_recipe
        return runner

    def __enter__(self) -> "WarmProcessPoolTaskRunner":
        import prefect.task_runners as task_runners

        context = start_warm_fork_server(self._warm_recipe)
        if multiprocessing.parent_process() is None:
            flow_alive_r, self._flow_alive = context.Pipe(duplex=False)
            self._initializer, self._initargs = exit_with_flow_process, (flow_alive_r,)
        # ProcessPoolTaskRunner.__enter__ asks `multiprocessing.get_context("spawn")` for its queue and
        # executor; hand it the fork server's context for that call (everything else is the real module).
        task_runners.multiprocessing = SimpleNamespace(**{**vars(multiprocessing), "get_context": lambda method=None: context})
        try:
            return super().__enter__()
        finally:
            task_runners.multiprocessing = multiprocessing

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        try:
            super().__exit__(exc_type, exc_value, traceback)
        finally:
            if self._flow_alive is not None:
                self._flow_alive.close()  # the workers have been shut down: nothing waits on it any more
                self._initargs[0].close()
                self._flow_alive, self._initializer, self._initargs = None, None, ()


if os.environ.pop(SERVER_ENV, None) == "1":  # popped: the workers forked from here do not carry it on
    warm_fork_server(os.environ.pop(RECIPE_ENV, None))

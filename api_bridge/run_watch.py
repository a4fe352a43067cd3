"""The bridge's shared view of the runs of the tasks being polled, refreshed in the background.

Status polls (`GET .../tasks/{id}/status` and `.../result`, through `tasks.reconcile`) read a
task's runs here and do not ask Dagster: one thread per bridge process asks, every
REFRESH_SECONDS, for the runs of every task polled in the last WATCH_SECONDS, in one GraphQL
request (`RunQueries.runs_of_tasks`: one aliased field per task), and keeps Dagster's health
answer fresh (`health`, cached HEALTH_MAX_AGE). Fifty or five thousand pollers of a task cost
Dagster one query a second, and no poll waits for Dagster. The exception is a task's first poll
in a watch (the bridge started, the task was not polled for WATCH_SECONDS, or `forget` dropped
it after a launch or a termination): its runs are asked at once, by one caller for all those
polling it meanwhile (`RunQueries.task_runs`).

Each task has an epoch that `forget` advances: an answer asked before a `forget` is dropped, not
stored over what the launch or termination changed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from api_bridge.dagster_errors import DagsterUnavailable

if TYPE_CHECKING:
    from api_bridge.dagster_runs import RunInfo, RunQueries

log = logging.getLogger("api_bridge")

REFRESH_SECONDS = 1.0  # how old a polled task's runs may be (plus one GraphQL round trip)
WATCH_SECONDS = 30.0  # a task nobody polled for this long is no longer refreshed
HEALTH_MAX_AGE = 5.0  # Dagster's health (webserver, daemon) is asked this often while polled
BATCH = 50  # tasks per GraphQL request


class Flight:
    """One caller's question to Dagster that callers arriving meanwhile wait for."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.done = threading.Event()
        self.runs: list[RunInfo] | None = None
        self.error: BaseException | None = None

    def wait(self) -> list[RunInfo]:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.runs is not None
        return self.runs


class RunWatch:
    """The polled tasks, their epochs and the refresh thread of one `RunQueries` client (which
    holds the answers, in its `_cache`)."""

    def __init__(self, client: RunQueries, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.client = client
        self.refresh_seconds = refresh_seconds
        self.lock = threading.Lock()
        self.polled: dict[str, float] = {}  # task id -> when it was last polled (monotonic)
        self.epochs: dict[str, int] = {}
        self.flights: dict[str, Flight] = {}
        self.thread: threading.Thread | None = None
        self.refreshes = 0  # refresh rounds done (for tests and benchmarks)

    def poll(self, task_id: str) -> bool:
        """Note a poll of the task; whether it was being watched already (its runs are kept fresh)."""
        with self.lock:
            watched = task_id in self.polled
            self.polled[task_id] = time.monotonic()
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="run-watch", daemon=True)
                self.thread.start()
        return watched

    def forget(self, task_id: str) -> None:
        """Whatever was asked about the task before now no longer counts."""
        with self.lock:
            self.epochs[task_id] = self.epochs.get(task_id, 0) + 1
            self.polled.pop(task_id, None)
            self.client._cache.pop(task_id, None)

    def store(self, task_id: str, runs: list[RunInfo], epoch: int) -> None:
        """Keep an answer asked at `epoch`, unless the task was forgotten since."""
        with self.lock:
            if self.epochs.get(task_id, 0) == epoch:
                self.client._cache[task_id] = (time.monotonic(), runs)

    def _watched(self) -> dict[str, int]:
        """The tasks polled recently, with their epochs; the thread ends when there are none."""
        with self.lock:
            now = time.monotonic()
            for task_id in [t for t, at in self.polled.items() if now - at > WATCH_SECONDS]:
                del self.polled[task_id]
                self.client._cache.pop(task_id, None)
            if not self.polled:
                self.thread = None
            return {t: self.epochs.get(t, 0) for t in self.polled}

    def refresh(self, tasks: dict[str, int]) -> None:
        """One round: the runs of `tasks` (task id -> epoch) and, when due, Dagster's health."""
        ids = list(tasks)
        for i in range(0, len(ids), BATCH):
            try:
                answers = self.client.runs_of_tasks(ids[i : i + BATCH])
            except DagsterUnavailable as exc:
                # Polls keep the last answers; the health answer says why nothing moves.
                log.debug("run watch: %s", exc)
                break
            for task_id, runs in answers.items():
                self.store(task_id, runs, tasks[task_id])
        self.client.health(HEALTH_MAX_AGE)
        self.refreshes += 1

    def _run(self) -> None:
        # The first poll of a task asks itself: the first round is a period later.
        started = time.monotonic()
        while True:
            time.sleep(max(0.05, self.refresh_seconds - (time.monotonic() - started)))
            tasks = self._watched()
            if not tasks:
                return
            started = time.monotonic()
            try:
                self.refresh(tasks)
            except Exception:  # never let the thread die with tasks still polled
                log.exception("run watch: refresh failed")

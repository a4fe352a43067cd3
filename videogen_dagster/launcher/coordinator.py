"""Dagster's queued run coordinator, which also starts the warm parent when the daemon starts.

Dagster loads the run launcher lazily, on the first launch: the warm parent
(`WarmRunLauncher`) was therefore started by the first dequeued run, which then waited for it
(~1.4 s on an idle machine, over 4 s on a loaded one). Nothing of ours runs in the daemon
process earlier, except the run coordinator: the daemon's run queue asks it for its queue
settings (`get_run_queue_config`) at its first iteration, right after the daemon starts. That
first question, asked from one of the daemon's own threads (`dagster-daemon-<TYPE>`, a name only
the daemon's controller gives), starts the launcher's warm parent in the background. The
webserver, the bridge, the CLI and run workers load this coordinator too (to queue runs) but
never start a warm parent: their threads are not the daemon's.

dagster.yaml:
    run_coordinator:
      module: videogen_dagster.launcher
      class: WarmQueuedRunCoordinator
      config: {dequeue_interval_seconds: 1, dequeue_seconds: 0.5}

`dequeue_seconds` (a float; Dagster's own `dequeue_interval_seconds` takes whole seconds) sets
how often the daemon's run queue looks for runs to start. An idle queue costs one indexed query
per tick.

With `wake_on_submit` (the default), queueing a run also wakes the queue at once (queue_wake.py):
the daemon's loop is given no interval of its own (it sleeps in 0.5 s steps, too coarse), and its
thread waits here instead, at the start of each look (`get_run_queue_config`, which the queue
asks first), for a wake or for the tick.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any

from dagster import Field
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig
from dagster._serdes import ConfigurableClassData

from videogen_dagster.launcher import queue_wake

DAEMON_THREAD_PREFIX = "dagster-daemon-"
QUEUE_THREAD = DAEMON_THREAD_PREFIX + "QUEUED_RUN_COORDINATOR"  # the daemon's run queue


def in_daemon_thread() -> bool:
    return threading.current_thread().name.startswith(DAEMON_THREAD_PREFIX)


class WarmQueuedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator (same config, same queue) that prestarts the run launcher's warm
    parent from the daemon (see the module docstring)."""

    _prestarted = False
    _wake: queue_wake.QueueWake | None = None
    _iteration_seen = False  # a look was recognised by its caller (see _wait_for_work)
    dequeue_seconds: float | None = None
    wake_on_submit: bool = True
    # Our config keys beside QueuedRunCoordinator's; each sets the attribute of its name.
    EXTRA_CONFIG: dict[str, Field] = {
        "dequeue_seconds": Field(
            float, is_required=False,
            description="Seconds between the run queue's looks (a float; overrides "
            "dequeue_interval_seconds).",
        ),
        "wake_on_submit": Field(
            bool, is_required=False,
            description="Wake the run queue when a run is queued or a run ends, instead of "
            "waiting for its next look (default true).",
        ),
    }

    @property
    def tick_seconds(self) -> float:
        return self.dequeue_seconds or super().dequeue_interval_seconds

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]
        # Read once, by the daemon, for its loop's interval: none when this class does the waiting.
        return 0 if self.wake_on_submit else self.tick_seconds

    def submit_run(self, context):
        run = super().submit_run(context)
        if self.wake_on_submit:
            queue_wake.ring(queue_wake.instance_home(self._instance))
        return run

    @classmethod
    def config_type(cls):
        return {**QueuedRunCoordinator.config_type(), **cls.EXTRA_CONFIG}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        config = dict(config_value)
        ours = {key: config.pop(key) for key in cls.EXTRA_CONFIG if key in config}
        coordinator = super().from_config_value(inst_data, config)
        for key, value in ours.items():
            setattr(coordinator, key, value)
        return coordinator

    def get_run_queue_config(self) -> RunQueueConfig:
        if not self._prestarted and in_daemon_thread():
            self._prestarted = True
            prestart = getattr(self._instance.run_launcher, "prestart", None)
            if callable(prestart):
                prestart()
        if self.wake_on_submit and threading.current_thread().name == QUEUE_THREAD:
            self._wait_for_work()
        return super().get_run_queue_config()

    def _wait_for_work(self) -> None:
        """In the daemon's queue thread: wait for a wake or the tick, once per iteration. The
        queue asks for its config first (`run_iteration` -> `instance.get_concurrency_config`);
        later questions in the same iteration (the op-concurrency pools, through the event log
        storage) must not wait again: a second wait delayed launches by a whole tick, measured.
        Until a question from `run_iteration` has been seen (should Dagster ever ask from
        elsewhere), every question waits: launches may then wait a tick too many, but the
        daemon's loop, which has no interval of its own, never spins."""
        if self._wake is None:
            self._wake = queue_wake.QueueWake(queue_wake.instance_home(self._instance))
        caller = sys._getframe(3)  # _wait_for_work <- get_run_queue_config <- get_concurrency_config <- ?
        if caller.f_code.co_name == "run_iteration":
            self._iteration_seen = True
        elif self._iteration_seen:
            return
        self._wake.wait(self.tick_seconds)

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
how often the daemon's run queue looks for runs to start. The daemon waits in steps of 0.5 s
between iterations, so 0.5 s is the shortest that means anything; every hop of the chain
(request -> plan run, plan -> scene runs, an edit's run) waits for one tick, half of it on
average. An idle queue costs one indexed query per tick.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from dagster import Field
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig
from dagster._serdes import ConfigurableClassData

DAEMON_THREAD_PREFIX = "dagster-daemon-"


def in_daemon_thread() -> bool:
    return threading.current_thread().name.startswith(DAEMON_THREAD_PREFIX)


class WarmQueuedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator (same config, same queue) that prestarts the run launcher's warm
    parent from the daemon (see the module docstring)."""

    _prestarted = False
    dequeue_seconds: float | None = None
    # Our config keys beside QueuedRunCoordinator's; each sets the attribute of its name.
    EXTRA_CONFIG: dict[str, Field] = {
        "dequeue_seconds": Field(
            float, is_required=False,
            description="Seconds between the run queue's looks (a float; overrides "
            "dequeue_interval_seconds).",
        ),
    }

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]
        return self.dequeue_seconds or super().dequeue_interval_seconds

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
        return super().get_run_queue_config()

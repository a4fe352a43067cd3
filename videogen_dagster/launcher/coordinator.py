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
      config: {dequeue_interval_seconds: 1}   # the same config as QueuedRunCoordinator
"""

from __future__ import annotations

import threading

from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig

DAEMON_THREAD_PREFIX = "dagster-daemon-"


def in_daemon_thread() -> bool:
    return threading.current_thread().name.startswith(DAEMON_THREAD_PREFIX)


class WarmQueuedRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator (same config, same queue) that prestarts the run launcher's warm
    parent from the daemon (see the module docstring)."""

    _prestarted = False

    def get_run_queue_config(self) -> RunQueueConfig:
        if not self._prestarted and in_daemon_thread():
            self._prestarted = True
            prestart = getattr(self._instance.run_launcher, "prestart", None)
            if callable(prestart):
                prestart()
        return super().get_run_queue_config()

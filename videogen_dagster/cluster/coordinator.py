"""Cluster mode's run coordinator: ours (launcher/coordinator.py: Dagster's queued run
coordinator with a float `dequeue_seconds`), which also fails a run that was marked STARTING but
never handed to Celery.

The daemon dequeues a run in two writes: it records the run as STARTING, then asks the run
launcher to send it. When PostgreSQL goes away between the two (a restart; measured in
tests/cluster/test_cluster.py, about one run in three restarts), the second never happens: the
run stays STARTING with no Celery task, and only run monitoring's start timeout would end it.
That timeout must be long in cluster mode (900 s, dagster-cluster.yaml), because a run that was
sent waits in Redis as STARTING until a worker is free.

What tells the two apart is the Celery task id that the launcher writes into the run's tags as
it sends it (`dagster-celery/task_id`). A run STARTING for `unsent_timeout_seconds` (30 s; a
send takes milliseconds) without that tag is reported failed, from the daemon's run queue
thread, at most every 5 s. If the send did happen and only its tag was lost, the message still
delivered is harmless: the worker finds the run finished and does nothing.

The same scan covers the other half: a worker whose Celery task raised before the run started
(PostgreSQL away as it loaded the run; also measured there). Celery records the task FAILURE,
the run stays STARTING. A STARTING run whose task Celery says has ended is reported failed too.
Run retries (dagster-cluster.yaml) then run each again.
"""

from __future__ import annotations

import logging
import time

from dagster import DagsterRunStatus, Field, RunsFilter
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from videogen_dagster.launcher.coordinator import WarmQueuedRunCoordinator, in_daemon_thread

log = logging.getLogger("videogen.cluster")

SCAN_EVERY = 5.0


class ClusterQueuedRunCoordinator(WarmQueuedRunCoordinator):
    # The cluster's launcher has no warm parent to prestart: that part is a no-op here.
    unsent_timeout_seconds = 30.0
    _last_scan = 0.0
    EXTRA_CONFIG = {
        **WarmQueuedRunCoordinator.EXTRA_CONFIG,
        "unsent_timeout_seconds": Field(
            float, is_required=False, default_value=30.0,
            description="Seconds a STARTING run may lack a Celery task before it is failed.",
        ),
    }

    def get_run_queue_config(self) -> RunQueueConfig:
        # Asked at every iteration of the daemon's run queue, before it dequeues.
        if in_daemon_thread() and time.monotonic() - self._last_scan >= SCAN_EVERY:
            self._last_scan = time.monotonic()
            try:
                self.fail_unsent_runs()
            except Exception:  # noqa: BLE001 - PostgreSQL away: the next scan tries again
                log.warning("could not look for runs left STARTING", exc_info=True)
        return super().get_run_queue_config()

    def fail_unsent_runs(self) -> list[str]:
        """Report failed each STARTING run that no worker will start: never sent (no Celery task
        after the timeout), or whose Celery task ended without starting it."""
        failed = []
        now = time.time()
        records = self._instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTING]))
        for record in records:
            run = record.dagster_run
            task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
            if task_id:
                why = self._task_ended(task_id)
            else:
                launched = self._instance.get_run_stats(run.run_id).launch_time
                since = launched or record.update_timestamp.timestamp()
                why = (
                    f"was marked STARTING {now - since:.0f} s ago but never sent to a Celery "
                    "worker (the daemon lost its database between the two)"
                    if now - since >= self.unsent_timeout_seconds else None
                )
            if why is None:
                continue
            current = self._instance.get_run_by_id(run.run_id)
            if current is None or current.status != DagsterRunStatus.STARTING:
                continue  # started (or ended) meanwhile
            message = f"Run {run.run_id} {why}; failed so that its run retry starts it again."
            log.warning(message)
            self._instance.report_run_failed(current, message)
            failed.append(run.run_id)
        return failed

    def _task_ended(self, task_id: str) -> str | None:
        """Why the run's Celery task will never start it (None: it may still)."""
        celery = getattr(self._instance.run_launcher, "celery", None)
        if celery is None:
            return None
        result = celery.AsyncResult(task_id)
        if result.state == "FAILURE":
            return f"was never started: its Celery task {task_id} failed ({result.info!r:.300})"
        if result.state == "SUCCESS":
            return f"was never started: its Celery task {task_id} ended"
        return None

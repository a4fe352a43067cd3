"""Cluster mode's run launcher: every run is a Celery task on a worker machine.

Why whole runs (dagster-celery's `CeleryRunLauncher`) rather than `celery_executor` (steps as
Celery tasks): every run of the chain is a single step run in-process (definitions.py), so a
run *is* its scene step. Sending the run saves the head node a run process per scene that would
only wait for its one step, and the worker imports Dagster and the code once, not per step.

What this adds to dagster-celery's launcher:
- the queue from what the run does (queues.py), so render machines take renders and light work
  is not stuck behind them;
- the broker from the settings (VIDEOGEN_CELERY_BROKER_URL) and our app's delivery rules
  (celery_app.py);
- a health check that notices a dead worker: Celery marks a task STARTED and says no more if the
  machine running it dies, so for a started task the worker that holds it is pinged, and after
  `worker_lost_checks` unanswered pings in a row the run is reported failed. Run monitoring then
  fails it, and Dagster's run retries (dagster-cluster.yaml) run it again on a live worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dagster import Field, Noneable, StringSource
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs, ResumeRunArgs
from dagster._serdes import ConfigurableClassData, pack_value
from dagster_celery.config import TASK_EXECUTE_JOB_NAME, TASK_RESUME_JOB_NAME
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG, DAGSTER_CELERY_TASK_ID_TAG

from videogen_dagster.cluster.celery_app import make_celery
from videogen_dagster.cluster.names import LIGHT_QUEUE
from videogen_dagster.cluster.queues import queue_for

log = logging.getLogger("videogen.cluster")


class ClusterRunLauncher(CeleryRunLauncher):
    def __init__(
        self, broker: str | None = None, backend: str | None = None, default_queue: str = LIGHT_QUEUE,
        worker_lost_checks: int = 2, inst_data: ConfigurableClassData | None = None, **_: Any,
    ) -> None:
        super().__init__(default_queue=default_queue, broker=broker, backend=backend, inst_data=inst_data)
        # Our app (queues, acks_late, visibility timeout), not dagster-celery's defaults.
        self.celery = make_celery(broker, backend) if broker else make_celery()
        self.worker_lost_checks = max(1, worker_lost_checks)
        self._unanswered: dict[str, int] = {}

    def launch_run(self, context) -> None:
        self._send(context.dagster_run, ExecuteRunArgs, TASK_EXECUTE_JOB_NAME)

    def resume_run(self, context) -> None:
        self._send(context.dagster_run, ResumeRunArgs, TASK_RESUME_JOB_NAME)

    def _send(self, run, args_cls: type[ExecuteRunArgs | ResumeRunArgs], task_name: str) -> None:
        # As dagster-celery's, with the task our app registered once (theirs registers it again
        # at every launch, warning each time).
        args = args_cls(job_origin=run.job_code_origin, run_id=run.run_id,
                        instance_ref=self._instance.get_ref(), set_exit_code_on_failure=True)
        signature = self.celery.tasks[task_name].si(execute_job_args_packed=pack_value(args))
        self._launch_celery_task_run(run=run, task_signature=signature, routing_key=task_name)

    def _launch_celery_task_run(self, run, task_signature, routing_key) -> None:
        queue = queue_for(run)
        if run.tags.get(DAGSTER_CELERY_QUEUE_TAG) != queue:
            self._instance.add_run_tags(run.run_id, {DAGSTER_CELERY_QUEUE_TAG: queue})
            run = run.with_tags({**run.tags, DAGSTER_CELERY_QUEUE_TAG: queue})
        super()._launch_celery_task_run(run, task_signature, routing_key)

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        task_id = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
        if not task_id:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no Celery task id on the run")
        result = self.celery.AsyncResult(task_id)
        state = result.state
        if state == "SUCCESS":
            return CheckRunHealthResult(WorkerStatus.SUCCESS)
        if state == "FAILURE":
            return CheckRunHealthResult(WorkerStatus.FAILED, f"Celery task failed: {result.info!r}")
        if state != "STARTED":
            # Received by a worker but not started, or a state the backend no longer has: the
            # run's own status and its max runtime decide.
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"Celery task {state}")
        hostname = (result.info or {}).get("hostname") if isinstance(result.info, dict) else None
        if not hostname or self._answers(hostname):
            self._unanswered.pop(run.run_id, None)
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        misses = self._unanswered.get(run.run_id, 0) + 1
        self._unanswered[run.run_id] = misses
        if misses < self.worker_lost_checks:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker {hostname} did not answer a ping")
        self._unanswered.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"Celery worker {hostname} is gone ({misses} pings unanswered)"
        )

    def _answers(self, hostname: str) -> bool:
        try:
            replies = self.celery.control.ping(destination=[hostname], timeout=1.0)
        except Exception:  # noqa: BLE001 - the broker is down: say nothing about the worker
            log.warning("could not ping worker %s (broker unreachable?)", hostname, exc_info=True)
            return True
        return any(hostname in r for r in replies or [])

    @classmethod
    def config_type(cls):
        return {
            "broker": Field(Noneable(StringSource), is_required=False,
                            description="Celery broker URL; unset: VIDEOGEN_CELERY_BROKER_URL."),
            "backend": Field(Noneable(StringSource), is_required=False,
                             description="Celery result backend URL; unset: the broker's."),
            "default_queue": Field(StringSource, is_required=False, default_value=LIGHT_QUEUE),
            "worker_lost_checks": Field(int, is_required=False, default_value=2,
                                        description="Unanswered pings in a row before a run's worker counts as gone."),
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

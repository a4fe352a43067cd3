"""The Celery app of cluster mode: Dagster runs as Celery tasks (dagster-celery's `execute_job`
and `resume_job`), on two queues, over Redis.

- `render`: scene runs and posted-code renders (CPU-heavy, minutes); `light`: plans, joins,
  removals, batches (seconds). A render machine consumes `render` (and `light` too, unless the
  head keeps light work to itself); see queues.py for which run goes where.
- Delivery: a task is acknowledged when it ends (`acks_late`), each worker process holds one task
  at a time (prefetch 1), and a message unacknowledged for longer than any run may last is
  handed to another worker (`visibility_timeout`, above the runs' `dagster/max_runtime`). A
  worker that dies is found by the launcher's health check (launcher.py) within seconds; Dagster
  then fails the run and its run retries start it again on a live worker. A redelivered message
  of a run that has ended is ignored by Dagster ("run worker started after the run had already
  finished").
- Each task records the worker that took it in the run's tags (`videogen/worker`), so the UI
  and the manifest say which machine rendered each scene.

Workers: `videogen worker` (cli_worker.py), which runs `celery worker` with this app.
"""

from __future__ import annotations

import logging

from celery import Celery, signals
from kombu import Exchange, Queue

from videogen_dagster.cluster.names import LIGHT_QUEUE, QUEUES, VISIBILITY_TIMEOUT, WORKER_TAG
from videogen_dagster.settings import get_settings

log = logging.getLogger("videogen.cluster")



def make_celery(broker_url: str | None = None, backend_url: str | None = None) -> Celery:
    """The app, with dagster-celery's run tasks registered. URLs default to the settings."""
    from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

    if broker_url is None:
        cluster = get_settings().cluster
        broker_url, backend_url = cluster.broker_url, cluster.results_url
    app = Celery("videogen", broker=broker_url, backend=backend_url or broker_url)
    exchange = Exchange("videogen", type="topic")
    app.conf.update(
        task_queues=[Queue(q, exchange, routing_key=f"{q}.#") for q in QUEUES],
        task_default_queue=LIGHT_QUEUE,
        task_default_exchange="videogen",
        task_default_exchange_type="topic",
        task_default_routing_key=f"{LIGHT_QUEUE}.default",
        task_acks_late=True,
        task_reject_on_worker_lost=False,  # a lost run is retried by Dagster, not redelivered
        task_track_started=True,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
        result_expires=7 * 24 * 3600,
        worker_hijack_root_logger=False,
    )
    create_execute_job_task(app)
    create_resume_job_task(app)
    return app


def _run_id_of(args: tuple, kwargs: dict) -> str | None:
    from dagster._serdes import unpack_value

    packed = kwargs.get("execute_job_args_packed") or (args[0] if args else None)
    if packed is None:
        return None
    try:
        return unpack_value(packed).run_id  # ExecuteRunArgs / ResumeRunArgs
    except Exception:  # noqa: BLE001 - a task of another kind
        return None


@signals.task_prerun.connect
def _record_worker(sender=None, task_id=None, args=(), kwargs=None, **_):
    """Tags the run with the worker that took it, before the run starts (so the run's own
    context, the UI and the manifest see it)."""
    run_id = _run_id_of(tuple(args or ()), dict(kwargs or {}))
    if not run_id:
        return
    hostname = getattr(getattr(sender, "request", None), "hostname", None) or "unknown"
    try:
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            instance.add_run_tags(run_id, {WORKER_TAG: hostname})
    except Exception:  # noqa: BLE001 - the run goes on without the tag
        log.exception("could not tag run %s with its worker", run_id)


app = make_celery() if get_settings().cluster.enabled else Celery("videogen")

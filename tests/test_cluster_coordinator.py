"""Cluster mode's run coordinator fails a run left STARTING but never sent to Celery (the daemon
lost PostgreSQL between marking it STARTING and sending it), and leaves sent runs alone."""

from __future__ import annotations

import threading

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG

from videogen_dagster.cluster.coordinator import ClusterQueuedRunCoordinator


@dg.op
def noop():
    return None


@dg.job
def some_job():
    noop()


def starting_run(instance, tags=None):
    run = instance.create_run_for_job(some_job, tags=tags or {})
    instance.report_dagster_event(
        DagsterEvent(event_type_value=DagsterEventType.PIPELINE_STARTING.value, job_name=run.job_name),
        run_id=run.run_id,
    )
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING
    return run


def test_a_run_never_sent_is_failed_and_a_sent_one_is_not(tmp_path):
    overrides = {"run_coordinator": {
        "module": "videogen_dagster.cluster.coordinator", "class": "ClusterQueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1, "unsent_timeout_seconds": 0.0},
    }}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, ClusterQueuedRunCoordinator)
        assert coordinator.unsent_timeout_seconds == 0.0
        unsent = starting_run(instance)
        sent = starting_run(instance, {DAGSTER_CELERY_TASK_ID_TAG: "celery-task-1"})

        assert coordinator.fail_unsent_runs() == [unsent.run_id]
        assert instance.get_run_by_id(unsent.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(sent.run_id).status == dg.DagsterRunStatus.STARTING
        failure = instance.get_records_for_run(unsent.run_id, of_type=DagsterEventType.RUN_FAILURE).records
        assert "never sent to a Celery worker" in failure[0].event_log_entry.dagster_event.message
        assert coordinator.fail_unsent_runs() == []  # nothing twice


def test_a_recent_run_is_left_alone_and_only_the_daemon_scans(tmp_path):
    overrides = {"run_coordinator": {
        "module": "videogen_dagster.cluster.coordinator", "class": "ClusterQueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert coordinator.unsent_timeout_seconds == 30.0
        run = starting_run(instance)
        assert coordinator.fail_unsent_runs() == []  # 30 s not passed: the send may be under way

        coordinator.unsent_timeout_seconds = 0.0
        coordinator.get_run_queue_config()  # not the daemon's thread: no scan
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTING
        scanned = threading.Thread(target=coordinator.get_run_queue_config, name="dagster-daemon-QUEUED_RUN_COORDINATOR")
        scanned.start()
        scanned.join()
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_run_whose_celery_task_failed_before_starting_it_is_failed(tmp_path, monkeypatch):
    """The worker's task raised as it loaded the run (PostgreSQL away): Celery says FAILURE, the
    run is still STARTING. A task still queued or running is left alone."""
    from celery import Celery

    app = Celery("t", broker="memory://", backend="cache+memory://")

    class Launcher:  # what the coordinator asks of ClusterRunLauncher: its Celery app
        celery = app

    overrides = {"run_coordinator": {
        "module": "videogen_dagster.cluster.coordinator", "class": "ClusterQueuedRunCoordinator",
        "config": {"dequeue_interval_seconds": 1},
    }}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        monkeypatch.setattr(type(instance), "run_launcher", property(lambda self: Launcher()))
        broken = starting_run(instance, {DAGSTER_CELERY_TASK_ID_TAG: "task-broken"})
        queued = starting_run(instance, {DAGSTER_CELERY_TASK_ID_TAG: "task-queued"})
        app.backend.mark_as_failure("task-broken", RuntimeError("server closed the connection"))

        assert instance.run_coordinator.fail_unsent_runs() == [broken.run_id]
        assert instance.get_run_by_id(broken.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.STARTING
        failure = instance.get_records_for_run(broken.run_id, of_type=DagsterEventType.RUN_FAILURE).records
        assert "Celery task task-broken failed" in failure[0].event_log_entry.dagster_event.message

"""The plan run submits its own scene runs, as soon as its plan is materialised.

Without this, the scene runs waited for the chain sensor's next tick (every 2 s, plus its
evaluation: 2.3 s measured from the plan's end to the scene runs' creation). The plan step
instead creates, right after its materialisation is in the event log, exactly the runs the
sensor would request (`sensors.scene_requests`: same job, partition, tags and run keys) and
submits them to the run coordinator, so the queue and its tag limits (3 scenes at once in
dagster.yaml) hold as for any other run.

Safe with the sensor, which stays (plans materialised where this cannot run, and the fallback):
- the runs carry the sensor's run key and name (`dagster/run_key`, `dagster/sensor_name`), so
  Dagster's run-key deduplication treats them as the sensor's own;
- the sensor leaves a plan alone while the run that materialised it is in progress, and then
  requests only the scenes that have no run for their run key (`sensors.not_launched`); the plan
  run submits before it ends, so the two never decide about the same plan at the same time;
- a failure here is logged, never fails the plan step, and leaves the scenes to the sensor.

Only runs launched from a code location (webserver, bridge, sensors, schedules; not `videogen
generate`, whose chain the CLI drives itself, nor `execute_in_process`) have the origins a
submitted run needs; and only a queued run coordinator keeps the tag limits. Anything else is
left to the sensor. Works the same in cluster mode, where the plan run executes on a worker
whose instance is the shared PostgreSQL one and the head's daemon dequeues the runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.origin import JobPythonOrigin
from dagster._core.remote_origin import RemoteJobOrigin
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._utils.interrupts import capture_interrupts, check_captured_interrupt

from videogen_dagster.chain_runs import CHAIN_SENSOR, existing_run
from videogen_dagster.stores.metastore import MetadataStore
from videogen_dagster.tags import PLAN_RUN_TAG, SCENE_JOB

PLAN = dg.AssetKey("scene_plan")


def _plan_record(instance: dg.DagsterInstance, video: str, run_id: str) -> dg.EventLogRecord | None:
    """This run's materialisation of the video's plan (None if a newer one came from elsewhere)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=PLAN, asset_partitions=[video]), limit=1
    ).records
    return records[0] if records and records[0].run_id == run_id else None


def can_submit(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    return (
        run.remote_job_origin is not None
        and run.job_code_origin is not None
        and isinstance(instance.run_coordinator, QueuedRunCoordinator)
    )


def submit_scene_runs(context: dg.AssetExecutionContext, meta: MetadataStore, video: str) -> list[str]:
    """Submit the plan's scene runs from the plan step (after its materialisation was logged);
    the ids of the runs submitted. Never raises: the sensor does what this could not."""
    from videogen_dagster.sensors import scene_requests  # the sensor imports the jobs

    instance, run = context.instance, context.run
    try:
        if not can_submit(instance, run):
            return []
        record = _plan_record(instance, video, run.run_id)
        if record is None:
            return []
        requests = scene_requests(instance, meta, record)
        ids = submit_requests(instance, run, context.repository_def, requests)
    except Exception as exc:  # noqa: BLE001 - the chain sensor takes over
        context.log.warning(f"{video}: scene runs left to the chain sensor ({type(exc).__name__}: {exc})")
        return []
    if ids:
        context.log.info(f"{video}: submitted {len(ids)} scene run(s) to the run queue")
    return ids


def _stopping(instance: dg.DagsterInstance, run_id: str) -> bool:
    """The plan run is being cancelled (its task too)."""
    run = instance.get_run_by_id(run_id)
    return run is None or run.status in (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)


def submit_requests(
    instance: dg.DagsterInstance,
    plan_run: dg.DagsterRun,
    repo: dg.RepositoryDefinition,
    requests: Sequence[dg.RunRequest],
) -> list[str]:
    """Create and submit one run per request, as the sensor daemon would for the chain sensor.

    A cancel (the bridge terminates the task's runs, this plan run included) never leaves a scene
    run behind: each run is created and queued with the terminate signal held back
    (`capture_interrupts`), so it cannot land between the two writes (a run created but never
    queued stayed NOT_STARTED for ever, seen once the queue woke at once); a run queued as the
    signal came, after the bridge had listed the runs to stop, is cancelled here; then the plan
    step is interrupted as it would have been."""
    assert plan_run.remote_job_origin is not None and plan_run.job_code_origin is not None
    job = repo.get_job(SCENE_JOB)
    origins = (RemoteJobOrigin(plan_run.remote_job_origin.repository_origin, SCENE_JOB),
               JobPythonOrigin(SCENE_JOB, plan_run.job_code_origin.repository_origin))
    # One after the other: the first scene is queued (and can start) while the next is created;
    # threads did not make the three of them faster here (SQLite: a new event-log file per run).
    ids = []
    for request in requests:
        assert request.run_key and request.job_name == SCENE_JOB
        found = existing_run(instance, request.run_key)
        if found is not None and found.status != dg.DagsterRunStatus.NOT_STARTED:
            continue
        with capture_interrupts():
            queued = _create_and_queue(instance, plan_run, job, request, found, origins)
            interrupted = check_captured_interrupt()
        if interrupted:
            if queued is not None:
                instance.run_coordinator.cancel_run(queued)
            raise DagsterExecutionInterruptedError()
        if queued is None:
            break  # cancelled meanwhile: no new scene run (the bridge terminated those queued)
        ids.append(queued)
    return ids


def _create_and_queue(
    instance: dg.DagsterInstance,
    plan_run: dg.DagsterRun,
    job: dg.JobDefinition,
    request: dg.RunRequest,
    found: dg.DagsterRun | None,
    origins: tuple[RemoteJobOrigin, JobPythonOrigin],
) -> str | None:
    """The queued run's id, or None when the plan run is being cancelled (nothing left behind)."""
    if _stopping(instance, plan_run.run_id):
        return None
    if found is None:
        resolved = request.with_resolved_tags_and_config(job, [], instance)
        tags = {
            **job.run_tags,
            **resolved.tags,
            RUN_KEY_TAG: request.run_key,
            SENSOR_NAME_TAG: CHAIN_SENSOR,
            PLAN_RUN_TAG: plan_run.run_id,
        }
        found = instance.create_run_for_job(
            job, run_config=resolved.run_config, tags=tags, status=dg.DagsterRunStatus.NOT_STARTED,
            remote_job_origin=origins[0], job_code_origin=origins[1],
        )
    try:
        if _stopping(instance, plan_run.run_id):
            instance.delete_run(found.run_id)
            return None
        instance.submit_run(found.run_id, workspace=None)  # type: ignore[arg-type] # queued: unused
    except BaseException:
        # A run that was never queued (a failure here) must not be left behind: it would hide
        # the scene from the sensor, or outlive the task.
        instance.delete_run(found.run_id)
        raise
    return found.run_id

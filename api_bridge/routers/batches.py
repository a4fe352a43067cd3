"""Batches over HTTP: /api/v1/video-generation/batch and /batches/{id}."""

from __future__ import annotations

from fastapi import APIRouter

from api_bridge.auth import CurrentPrincipal
from api_bridge.dagster_client import DagsterRejected, DagsterUnavailable
from api_bridge.deps import Dagster, Meta, Store
from api_bridge.errors import ApiError
from api_bridge.launching import LAUNCH_FAILED, first_busy, launch_failed
from api_bridge.schemas import BatchAccepted, BatchStatusPublic, BatchTask, error_responses
from videogen_dagster import batches
from videogen_dagster.models import GenerateRequest, new_task_id, video_key
from videogen_dagster.pipeline import register_request, task_result
from videogen_dagster.pipeline.progress import fail
from videogen_dagster.stores.metastore import BatchEntry, TaskStatus, VideoBusy
from videogen_dagster.stores.metastore.status import BatchStatus
from videogen_dagster.tags import PLAN_JOB, plan_run_tags

router = APIRouter(prefix="/api/v1/video-generation", tags=["video-generation"], responses=error_responses(500))


@router.post("/batch", status_code=202, response_model=BatchAccepted, responses=error_responses(
    400, 401, 404, 409, 413, 503, notes={
        404: "the token does not cover a request's project_id",
        409: "a video of the batch is being generated or edited, or is named twice (nothing is queued)",
        503: "Dagster could not start the runs (their tasks are recorded as failed)"}))
def generate_batch(body: list[GenerateRequest], principal: CurrentPrincipal, meta: Meta, dagster: Dagster):
    """Queue one video per request; batch runs queue behind single requests (see README)."""
    if not body:
        raise ApiError(400, "body: a batch needs at least one request", "VALIDATION_ERROR")
    if len(body) > batches.MAX_ENTRIES:
        raise ApiError(400, f"body: {len(body)} requests; a batch holds at most {batches.MAX_ENTRIES}", "VALIDATION_ERROR")
    for r in body:
        if not principal.may_use(r.project_id):
            raise ApiError(404, f"project {r.project_id!r} not found")
    batch_id = "b" + new_task_id()[:15]
    requests = [raw.with_session() for raw in body]
    keys = [r.video_key for r in requests]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ApiError(409, f"the batch names video(s) {', '.join(twice)} more than once", "CONFLICT")
    for k in keys:  # refuse the whole batch up front rather than half of it
        busy = first_busy(meta, dagster, k)
        if busy:
            raise ApiError(409, str(VideoBusy(k, busy)), "CONFLICT")
    entries, tasks = [], []
    for i, request in enumerate(requests):
        task_id = f"{batch_id}-{i}"
        try:
            register_request(meta, request, task_id, message=f"Queued by batch {batch_id}")
        except VideoBusy as exc:  # lost a race with a request that arrived meanwhile
            entries.append(BatchEntry(i, None, str(exc)))
            continue
        entries.append(BatchEntry(i, task_id))
        tasks.append(BatchTask(index=i, task_id=task_id, project_id=request.project_id, session_id=request.session_id or ""))
    meta.create_batch(batch_id, "api", "api", entries)
    launched = 0
    try:
        for t in tasks:
            dagster.add_video_partition(video_key(t.project_id, t.session_id))
            dagster.launch(PLAN_JOB, plan_run_tags(
                video_key(t.project_id, t.session_id), t.task_id, requests[t.index], batch_id=batch_id))
            launched += 1
    except (DagsterUnavailable, DagsterRejected) as exc:
        for t in tasks[launched + 1:]:
            fail(meta, t.task_id, None, exc, LAUNCH_FAILED)
        raise launch_failed(meta, tasks[launched].task_id, exc) from exc
    return BatchAccepted(batch_id=batch_id, status="queued", message=f"{len(tasks)} videos queued", tasks=tasks)


@router.get("/batches/{batch_id}", response_model=BatchStatusPublic, responses=error_responses(401, 404))
def get_batch(batch_id: str, principal: CurrentPrincipal, meta: Meta, store: Store):
    """Counts per status, and each entry's task."""
    batch = meta.get_batch(batch_id)
    found = batches.batch_tasks(meta, batch) if batch else {}
    tasks = {tid: t for tid, t in found.items() if t is not None}
    if batch is None or any(not principal.may_use(t.project_id) for t in tasks.values()):
        raise ApiError(404, f"batch {batch_id!r} not found")
    if batch.status == BatchStatus.RUNNING:
        batches.finish_batch_if_done(meta, store, batch)
        batch = meta.get_batch(batch_id) or batch
    results = {tid: task_result(meta, store, t) for tid, t in tasks.items() if t.status == TaskStatus.COMPLETED}
    # The summary is the JSON the batch's summary file holds: its counts and entries as they are.
    report = batches.summary(batch_id, batch.name, batch.entries, tasks, results)
    return BatchStatusPublic(batch_id=batch_id, status=batch.status, counts=report["counts"], entries=report["entries"])

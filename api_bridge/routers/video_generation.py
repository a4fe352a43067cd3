"""High-level workflows: /api/v1/video-generation/..."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api_bridge.auth import CurrentPrincipal
from api_bridge.cluster_health import cluster_health_parts
from api_bridge.dagster_client import DagsterRejected, DagsterUnavailable
from api_bridge.deps import Dagster, Meta, SettingsDep, Store
from api_bridge.errors import ApiError
from api_bridge.launching import (
    check_offline_edit,
    create_exclusive,
    first_busy,
    generation_warnings,
    launch_failed,
    task_for,
)
from api_bridge.previews import scene_previews
from api_bridge.schemas import (
    CancelPublic,
    EditAccepted,
    EditSceneRequest,
    GenerateAccepted,
    HealthPublic,
    RetryAccepted,
    TaskResultPublic,
    TaskStatusPublic,
    error_responses,
)
from api_bridge.tasks import (
    answer_task,
    estimate_minutes,
    estimated_completion,
)
from videogen_dagster.models import (
    GenerateRequest,
    new_task_id,
    parse_scene_id,
    video_key,
)
from videogen_dagster.partitions import scene_partition_key
from videogen_dagster.pipeline import (
    EDIT_STEPS,
    build_result,
    load_request,
    register_request,
    scenes_to_retry,
    task_result,
)
from videogen_dagster.pipeline.progress import cancel
from videogen_dagster.stores.metastore import SceneStatus, TaskStatus, VideoBusy
from videogen_dagster.stores.metastore.status import TaskKind
from videogen_dagster.tags import (
    COMBINE_JOB,
    PLAN_JOB,
    SCENE_JOB,
    combine_run_tags,
    plan_run_tags,
    scene_run_tags,
)

router = APIRouter(
    prefix="/api/v1/video-generation",
    tags=["video-generation"],
    responses=error_responses(500),
)


@router.post("/generate", status_code=202, response_model=GenerateAccepted, responses=error_responses(
    400, 401, 404, 409, 413, 503, notes={
        404: "the token does not cover project_id", 409: "this video is being generated or edited",
        503: "Dagster could not start the run (the task is recorded as failed), or VIDEOGEN_REQUIRE_LLM is "
             "on and no LLM provider is configured (nothing is recorded)"}))
def generate_video(body: GenerateRequest, principal: CurrentPrincipal, meta: Meta, dagster: Dagster, settings: SettingsDep):
    """Plan, render and join a video; answers at once with a task to poll."""
    if not principal.may_use(body.project_id):
        raise ApiError(404, f"project {body.project_id!r} not found")
    request = body.with_session()
    warnings = generation_warnings(settings, request)
    key = request.video_key
    task_id = new_task_id()
    task = create_exclusive(
        meta, dagster, lambda: register_request(meta, request, task_id, message="Video generation queued")
    )
    try:
        dagster.add_video_partition(key)
        dagster.launch(PLAN_JOB, plan_run_tags(key, task_id, request))
    except (DagsterUnavailable, DagsterRejected) as exc:
        raise launch_failed(meta, task_id, exc) from exc
    return GenerateAccepted(
        task_id=task_id, project_id=request.project_id, session_id=request.session_id or "",
        status="queued", message=f"Video generation queued: {request.scene_count} scenes",
        estimated_duration_minutes=estimate_minutes(meta, settings, request.render_config.quality, request.scene_count),
        created_at=task.created_at, warnings=warnings,
    )


def _task_ended(meta, task_id: str | None) -> bool:
    task = meta.get_task(task_id) if task_id else None
    return bool(task and task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED))


@router.post("/edit-scene", status_code=202, response_model=EditAccepted, responses=error_responses(
    400, 401, 404, 409, 413, 503, notes={
        400: "without an LLM, also an edit_prompt the offline editor cannot apply (the detail lists what it "
             "understands)",
        404: "unknown scene, or another project's", 409: "a run of this scene is queued or running",
        503: "Dagster is unreachable or could not start the run"}))
def edit_scene(body: EditSceneRequest, principal: CurrentPrincipal, meta: Meta, dagster: Dagster, settings: SettingsDep):
    """Re-render one scene following an edit prompt, then re-join its video."""
    session_id, number = parse_scene_id(body.scene_id)
    if body.session_id and body.session_id != session_id:
        raise ApiError(400, f"session_id: {body.session_id!r} does not match scene_id {body.scene_id!r}")
    key = video_key(body.project_id, session_id)
    scene = meta.get_scene(key, number) if principal.may_use(body.project_id) else None
    if scene is not None and scene.status != SceneStatus.COMPLETED and scene.version:
        # A rendered scene that a re-generation (or another edit) is redoing right now.
        busy = first_busy(meta, dagster, key)
        if busy:
            raise ApiError(409, f"scene {body.scene_id} (version {scene.version}) cannot be edited now: "
                           f"{VideoBusy(key, busy)}", "CONFLICT")
    if scene is None or scene.status != SceneStatus.COMPLETED:
        raise ApiError(404, f"scene {body.scene_id!r} not found in project {body.project_id!r}")
    check_offline_edit(settings, meta, key, number, body.edit_prompt)
    try:
        active = dagster.active_runs_for_partition(scene_partition_key(key, number))
    except DagsterUnavailable as exc:
        raise ApiError(503, str(exc), "SERVICE_UNAVAILABLE") from exc
    # A run whose task already completed or failed is only finishing (its scene and join are
    # stored, or its failure restored the scene; it is logging its last events): a client that
    # saw the task end may edit again at once. A cancelled run may still be stopping: it counts.
    active = [(run, tid) for run, tid in active if not _task_ended(meta, tid)]
    if active:
        run, tid = active[0]
        by = f"task {tid}" if tid else f"run {run}"
        raise ApiError(409, f"scene {body.scene_id} (version {scene.version}) is already being edited by {by}",
                       "CONFLICT")
    quality = (body.render_config.quality if body.render_config else None) or _stored_quality(meta, key)
    task_id = new_task_id()
    try:
        task = create_exclusive(meta, dagster, lambda: meta.create_task(
            task_id, TaskKind.EDIT, body.project_id, session_id, key, EDIT_STEPS, quality, scene_id=body.scene_id,
            message=f"Edit of scene {number} queued", exclusive=True,
            webhook_url=settings.events.webhook_for(body.project_id, body.webhook_url),
        ))
    except ApiError as exc:
        exc.detail = f"scene {body.scene_id} (version {scene.version}) cannot be edited now: {exc.detail}"
        raise
    tags = scene_run_tags(key, number, task_id, scene.title)
    run_config = {"ops": {"scene_assets": {"config": {
        "edit_prompt": body.edit_prompt, "preserve_timing": body.preserve_timing,
        "version_increment": body.version_increment,
        # The version this request saw: an edit that lands in between makes this one fail, not win.
        "expected_version": scene.version,
    }}}}
    try:
        dagster.launch(SCENE_JOB, tags, run_config)
    except (DagsterUnavailable, DagsterRejected) as exc:
        raise launch_failed(meta, task_id, exc) from exc
    return EditAccepted(
        task_id=task_id, scene_id=body.scene_id, project_id=body.project_id, status="queued",
        message=f"Edit of scene {number} queued",
        estimated_duration_minutes=estimate_minutes(meta, settings, quality, 1),
        created_at=task.created_at,
    )


def _stored_quality(meta, key: str) -> str:
    """The quality the video was generated at (its stored request's render_config), else medium."""
    video = meta.get_video(key)
    return (video.request if video else {}).get("render_config", {}).get("quality", "medium")


@router.get("/tasks/{task_id}/status", response_model=TaskStatusPublic, responses=error_responses(401, 404))
async def get_task_status(task_id: str, principal: CurrentPrincipal, meta: Meta, dagster: Dagster, store: Store, settings: SettingsDep):
    """Status, progress (0-100), message and current step of a task."""
    return await answer_task(meta, dagster, lambda: task_for(meta, principal, task_id),
                             lambda task, problem: _status(meta, store, settings, task_id, task, problem))


def _status(meta, store, settings, task_id: str, task, problem: str | None) -> TaskStatusPublic:
    result = task_result(meta, store, task) if task.status == TaskStatus.COMPLETED else None
    message = task.message
    if problem:
        # Say why nothing moves, and promise no completion time while it does not.
        message = f"{message} (waiting: {problem})"
    return TaskStatusPublic(
        task_id=task_id, status=task.status, progress=task.progress, message=message,
        current_step=task.current_step, total_steps=task.total_steps,
        estimated_completion=None if problem else estimated_completion(
            task, estimate_minutes(meta, settings, task.quality or "medium", max(1, task.total_steps - 3))
        ),
        project_id=task.project_id, session_id=task.session_id, scene_id=task.scene_id,
        result=result, error=task.error, created_at=task.created_at, updated_at=task.updated_at,
        previews=scene_previews(meta, store, task),
    )


@router.get("/tasks/{task_id}/result", response_model=TaskResultPublic, responses=error_responses(401, 404))
async def get_task_result(task_id: str, principal: CurrentPrincipal, meta: Meta, dagster: Dagster, store: Store):
    """The finished task's result; before completion, its status and no result."""
    return await answer_task(meta, dagster, lambda: task_for(meta, principal, task_id),
                             lambda task, problem: _result(meta, store, task_id, task, problem))


def _result(meta, store, task_id: str, task, problem: str | None) -> TaskResultPublic:
    if task.status == TaskStatus.FAILED and _planned(meta, task.video_key):
        # Partial success: which scenes succeeded (with their URLs) and which failed (with errors).
        partial = build_result(meta, store, task.video_key, task_id)
        partial["status"] = "failed"
        return TaskResultPublic(
            task_id=task_id, status="failed", result=partial, completed_at=None,
            message=f"Task failed: {task.error}; POST .../tasks/{task_id}/retry re-runs only what failed",
        )
    if task.status != TaskStatus.COMPLETED:
        detail = {TaskStatus.FAILED: f"Task failed: {task.error}", TaskStatus.CANCELLED: "Task was cancelled"}.get(
            task.status, f"Task is not finished yet ({task.progress}%): {task.message}"
            + (f" (waiting: {problem})" if problem else "")
        )
        return TaskResultPublic(task_id=task_id, status=task.status, result=None, completed_at=None, message=detail)
    return TaskResultPublic(
        task_id=task_id, status="completed", result=task_result(meta, store, task),
        completed_at=task.completed_at,
    )


def _planned(meta, key: str) -> bool:
    video = meta.get_video(key)
    return bool(video and video.planned)


def _terminate_active(dagster, task_id: str) -> None:
    runs = dagster.task_runs(task_id)
    dagster.terminate([r.run_id for r in runs if r.status in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")])


@router.delete("/tasks/{task_id}", response_model=CancelPublic, responses=error_responses(401, 404, 503))
def cancel_task(task_id: str, principal: CurrentPrincipal, meta: Meta, dagster: Dagster):
    """Terminate every run of the task; finished scenes are kept."""
    task = task_for(meta, principal, task_id)
    if task.finished:
        return CancelPublic(task_id=task_id, message=f"Task already {task.status}", status=task.status)
    try:
        dagster.task_runs(task_id)  # reachable? Otherwise nothing is marked and the client may retry
    except DagsterUnavailable as exc:
        raise ApiError(503, f"the task cannot be cancelled now: {exc}", "SERVICE_UNAVAILABLE") from exc
    # Mark before listing the runs to stop: the chain sensor reads this and launches nothing more.
    cancel(meta, task_id, "Task cancelled by user")
    try:
        try:
            _terminate_active(dagster, task_id)
        except DagsterUnavailable:
            # A run that changed under the mutation (a scene run the plan run was creating, then
            # dropped on seeing the cancel): list the runs again and stop those still active.
            _terminate_active(dagster, task_id)
    except DagsterUnavailable as exc:
        raise ApiError(503, f"the task is marked cancelled, but its runs could not be stopped: {exc}",
                       "SERVICE_UNAVAILABLE") from exc
    return CancelPublic(task_id=task_id, message="Task cancellation requested", status="cancelled")


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=RetryAccepted, responses=error_responses(
    401, 404, 409, 503, notes={409: "only a failed task can be retried (a failed edit is sent again)",
                               503: "Dagster could not start the run"}))
def retry_task(task_id: str, principal: CurrentPrincipal, meta: Meta, dagster: Dagster):
    """Re-run only what failed of a failed task (its unfinished scenes, or the plan), then join."""
    task = task_for(meta, principal, task_id)
    if task.status != TaskStatus.FAILED:
        raise ApiError(409, f"task {task_id} is {task.status}; only a failed task can be retried", "CONFLICT")
    key = task.video_key
    planned = _planned(meta, key)
    scenes = scenes_to_retry(meta, key) if planned else []
    if planned and task.kind == TaskKind.EDIT:
        raise ApiError(409, "a failed edit is retried by sending the edit again", "CONFLICT")
    meta.reopen_task(task_id, "Retrying failed scenes" if scenes else "Retrying the plan")
    try:
        if not planned:
            dagster.launch(PLAN_JOB, plan_run_tags(key, task_id, load_request(meta, key)))
        titles = {s.scene_number: s.title for s in meta.list_scenes(key)}
        for n in scenes:
            dagster.launch(SCENE_JOB, scene_run_tags(key, n, task_id, titles.get(n)))
        if planned and not scenes:
            dagster.launch(COMBINE_JOB, combine_run_tags(key, task_id))
    except (DagsterUnavailable, DagsterRejected) as exc:
        raise launch_failed(meta, task_id, exc) from exc
    dagster.forget(task_id)
    return RetryAccepted(task_id=task_id, status="progress", scenes=scenes,
                         message=f"Retrying scene(s) {scenes}" if scenes else "Retrying")


@router.get("/health", response_model=HealthPublic, responses={
    503: {"model": HealthPublic, "description": "Unhealthy: the message names the failing part"}})
def health(meta: Meta, dagster: Dagster, store: Store, settings: SettingsDep):
    """Checks the Dagster webserver and daemon, the object store and the metadata store; in
    cluster mode also PostgreSQL, Redis and the Celery workers (the `cluster` field)."""
    checks = dict(dagster.health())  # the cached answer is shared: add to a copy
    try:
        meta.ping()
        checks["metadata_store"] = None
    except Exception as exc:
        checks["metadata_store"] = f"metadata store unavailable: {exc}"
    cluster = None
    if settings.cluster.enabled:
        cluster_checks, cluster = cluster_health_parts()  # its object_store check is S3's
        checks.update(cluster_checks)
    else:
        try:
            store.store_for(None).check()
            checks["object_store"] = None
        except Exception as exc:
            checks["object_store"] = f"object store unavailable: {exc}"
    bad = {k: v for k, v in checks.items() if v}
    body = HealthPublic(
        status="unhealthy" if bad else "healthy",
        message="; ".join(f"{k}: {v}" for k, v in bad.items()) if bad else "Video generation service is operational",
        checks={k: (v or "ok") for k, v in checks.items()},
        cluster=cluster,
    )
    return JSONResponse(body.model_dump(exclude={"cluster"} if cluster is None else None),
                        status_code=503 if bad else 200)

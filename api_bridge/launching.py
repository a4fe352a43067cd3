"""What the routes share: finding a task, one task per video, and failing a task whose launch failed."""

from __future__ import annotations

from collections.abc import Callable

from api_bridge.auth import Principal
from api_bridge.dagster_client import DagsterClient, DagsterRejected
from api_bridge.errors import ApiError
from api_bridge.tasks import reconcile_now
from videogen_dagster.pipeline.progress import fail
from videogen_dagster.stores.metastore import MetadataStore, Task, VideoBusy


def task_for(meta: MetadataStore, principal: Principal, task_id: str) -> Task:
    task = meta.get_task(task_id)
    # Another project's task is indistinguishable from a missing one.
    if task is None or not principal.may_use(task.project_id):
        raise ApiError(404, f"task {task_id!r} not found")
    return task


LAUNCH_FAILED = "Could not start the pipeline"


def launch_failed(meta: MetadataStore, task_id: str, exc: Exception) -> ApiError:
    """The task fails with the reason; the client gets one sentence: 503 when Dagster is
    unavailable (retried for a while already), 500 when it refused the launch outright."""
    fail(meta, task_id, None, exc, LAUNCH_FAILED)
    if isinstance(exc, DagsterRejected):
        return ApiError(500, f"the pipeline refused the task: {exc}", "INTERNAL_ERROR")
    return ApiError(503, f"the pipeline could not be started: {exc}", "SERVICE_UNAVAILABLE")


def create_exclusive(meta: MetadataStore, dagster: DagsterClient, create: Callable[[], Task]) -> Task:
    """`create()` a task that must be alone on its video; 409 while another task works on it.
    A blocking task whose runs already ended (nobody has polled it since) is settled with
    Dagster first, so a dead task never blocks a video."""
    try:
        return create()
    except VideoBusy as exc:
        settled = reconcile_now(meta, dagster, exc.task)
        if not settled.finished:
            raise ApiError(409, str(exc), "CONFLICT") from exc
    try:
        return create()
    except VideoBusy as exc:
        raise ApiError(409, str(exc), "CONFLICT") from exc


def first_busy(meta: MetadataStore, dagster: DagsterClient, video_key: str) -> Task | None:
    """The video's oldest task that is still queued or running, once settled with Dagster."""
    return next((t for t in meta.active_tasks(video_key) if not reconcile_now(meta, dagster, t).finished), None)

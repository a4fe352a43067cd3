"""What the routes share: finding a task, one task per video, failing a task whose launch failed,
and what the pipeline will do without an LLM (refuse, warn, or refuse an edit it cannot apply)."""

from __future__ import annotations

from collections.abc import Callable

from api_bridge.auth import Principal
from api_bridge.dagster_client import DagsterClient, DagsterRejected
from api_bridge.errors import ApiError
from api_bridge.settings import Settings
from api_bridge.tasks import reconcile_now
from videogen_dagster.authoring.llm_routes import load_routes
from videogen_dagster.authoring.planning import VideoPlan
from videogen_dagster.media.hwaccel import hardware_warnings
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline.edit import offline_edit
from videogen_dagster.pipeline.plan import LLM_REQUIRED, offline_warnings
from videogen_dagster.pipeline.progress import fail
from videogen_dagster.pipeline.services import PipelineError
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


def llm_configured(settings: Settings) -> bool:
    """Whether an LLM provider serves the agents (OPENAI_API_KEY or a models file)."""
    return bool(load_routes(settings.llm))


def generation_warnings(settings: Settings, request: GenerateRequest) -> list[str]:
    """What the accepted answer says about how the video will be made: refused outright (503)
    when VIDEOGEN_REQUIRE_LLM is on without a provider; without one, the offline planner's
    warnings (requested models ignored, topic unknown), which the result and manifest repeat.
    Fast: reads settings and matches the prompt against the bundled topics, plans nothing."""
    hardware = hardware_warnings(request.render_config)
    if llm_configured(settings):
        return hardware
    if settings.llm.require:
        # The deployment is not configured for the request (nothing wrong with the request):
        # 503, as for the agents' fix endpoint without an LLM.
        raise ApiError(503, LLM_REQUIRED, "SERVICE_UNAVAILABLE")
    return offline_warnings(request) + hardware


def check_offline_edit(settings: Settings, meta: MetadataStore, video_key: str, scene_number: int,
                       edit_prompt: str) -> None:
    """Without an LLM, an edit the offline editor cannot apply is refused now (400, saying what
    it understands) rather than accepted and failed a second later; the worker checks again."""
    if llm_configured(settings):
        return
    video = meta.get_video(video_key)
    if video is None or not video.plan:
        return  # nothing planned to check against: the worker decides
    try:
        offline_edit(VideoPlan.model_validate(video.plan).scene(scene_number), edit_prompt)
    except PipelineError as exc:
        raise ApiError(400, f"edit_prompt: {exc}") from exc
    except KeyError:
        return


def first_busy(meta: MetadataStore, dagster: DagsterClient, video_key: str) -> Task | None:
    """The video's oldest task that is still queued or running, once settled with Dagster."""
    return next((t for t in meta.active_tasks(video_key) if not reconcile_now(meta, dagster, t).finished), None)

"""Low-level agent operations for developers: /api/v1/video/agents/...

All four are synchronous: plan and code take milliseconds offline (seconds with an LLM); fix is
one LLM call; render runs in a Dagster run (agent_render_job) under the same cap as the
pipeline's scene renders, so it answers 429 with Retry-After when every slot is taken, and is
capped at 120 s of wall-clock time. Posted code is untrusted: static check, then a confined render.
"""

from __future__ import annotations

import math
import time
import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api_bridge.auth import CurrentPrincipal
from api_bridge.dagster_client import DagsterRejected, DagsterUnavailable
from api_bridge.deps import Dagster, Meta, SettingsDep, Store
from api_bridge.errors import ApiError
from api_bridge.schemas import error_responses
from api_bridge.tasks import scene_seconds
from videogen_dagster.authoring.codegen import GeneratedScene, generate_scene_code, scene_class_in
from videogen_dagster.authoring.llm import Agents, Budget, LLMClient, LLMError, load_routes
from videogen_dagster.authoring.planning import ScenePlan, VideoPlan
from videogen_dagster.media.agent_render import RENDER_TIMEOUT
from videogen_dagster.media.sandbox import check_code
from videogen_dagster.models import GenerateRequest, ModelConfig, RenderConfig, new_session_id
from videogen_dagster.pipeline import offline_planner
from videogen_dagster.tags import AGENT_RENDER_JOB, AGENT_RENDER_TAG, KIND_TAG

QUEUE_WAIT = 60.0  # seconds a render may wait for a slot before the request gets a 429

router = APIRouter(prefix="/api/v1/video/agents", tags=["agents"], responses=error_responses(400, 401, 413, 500))


class CodeRequest(BaseModel):
    scene_plan: ScenePlan
    max_scene_duration: float = Field(30.0, gt=0, le=600, allow_inf_nan=False, strict=True)


class CodePublic(BaseModel):
    code: str
    class_name: str
    expected_duration: float
    subtitles: list[dict]
    coder: str


class RenderRequest(BaseModel):
    code: str = Field(max_length=100_000)
    class_name: str | None = None
    render_config: RenderConfig = Field(default_factory=lambda: RenderConfig(quality="preview"))


class RenderPublic(BaseModel):
    class_name: str
    video_url: str
    duration: float
    width: int
    height: int
    fps: float
    render_seconds: float


class FixRequest(BaseModel):
    model_config = {"populate_by_name": True, "protected_namespaces": ()}

    code: str = Field(max_length=100_000)
    error: str = Field(max_length=20_000)
    llm: ModelConfig = Field(default_factory=ModelConfig, alias="model_config")
    max_scene_duration: float = Field(30.0, gt=0, le=600, allow_inf_nan=False, strict=True)


def _agents(config: ModelConfig) -> Agents:
    routes = load_routes()
    if not routes:
        raise ApiError(503, "no LLM provider is configured (set OPENAI_API_KEY)", "SERVICE_UNAVAILABLE")
    return Agents(client=LLMClient(routes, Budget()), config=config)


@router.post("/plan", response_model=VideoPlan, responses=error_responses(
    404, 502, notes={404: "the token does not cover project_id"}))
def plan_video(body: GenerateRequest, principal: CurrentPrincipal) -> VideoPlan:
    """Plan a prompt into scenes (synchronous; nothing is stored)."""
    if not principal.may_use(body.project_id):
        raise ApiError(404, f"project {body.project_id!r} not found")
    request = body if body.session_id else body.model_copy(update={"session_id": new_session_id(body.content_prompt)})
    if load_routes():
        try:
            return _agents(request.llm).plan(request)
        except LLMError as exc:
            raise ApiError(502, str(exc), "LLM_ERROR") from exc
    return offline_planner(request)


@router.post("/render", response_model=RenderPublic, responses=error_responses(
    400, 429, 503, notes={400: "`VALIDATION_ERROR` (code refused, by line) or `RENDER_ERROR` (trimmed traceback)",
                          429: "every render slot is busy; `Retry-After` says when to try again",
                          503: "Dagster (which runs the render) is unreachable"}))
def render_code(body: RenderRequest, principal: CurrentPrincipal, stores: Store, meta: Meta,
                dagster: Dagster, settings: SettingsDep) -> RenderPublic:
    """Render posted Manim code, checked and confined, in a Dagster run under the same cap as the
    pipeline's scene renders (synchronous: answers when the render ends, at most 120 s of render)."""
    violations = check_code(body.code)
    if violations:
        raise ApiError(400, "code refused: " + "; ".join(str(v) for v in violations), "VALIDATION_ERROR")
    try:
        name = body.class_name or scene_class_in(body.code)
    except ValueError as exc:
        raise ApiError(400, f"code: {exc}", "VALIDATION_ERROR") from exc
    retry_after = str(max(1, math.ceil(scene_seconds(meta, settings, body.render_config.quality))))
    try:
        busy = dagster.count_active_runs(KIND_TAG, "scene")
    except DagsterUnavailable as exc:
        raise ApiError(503, f"renders run in Dagster, which is unavailable: {exc}", "SERVICE_UNAVAILABLE") from exc
    if busy >= settings.scene_concurrency:
        raise ApiError(429, f"all {settings.scene_concurrency} render slots are busy ({busy} renders queued or "
                       "running); try again later", "RATE_LIMITED", headers={"Retry-After": retry_after})
    request_id = uuid.uuid4().hex
    meta.create_agent_render(request_id, None)
    config = {"request_id": request_id, "code": body.code, "class_name": name,
              "render_config": body.render_config.model_dump(mode="json")}
    try:
        run_id = dagster.launch(AGENT_RENDER_JOB, {KIND_TAG: "scene", AGENT_RENDER_TAG: request_id},
                                {"ops": {"render_posted_code_op": {"config": config}}})
    except (DagsterUnavailable, DagsterRejected) as exc:
        raise ApiError(503, f"the render could not be started: {exc}", "SERVICE_UNAVAILABLE") from exc
    record = _wait_for_render(meta, dagster, request_id, run_id, retry_after)
    if record["status"] != "completed":
        raise ApiError(400, f"render failed: {record.get('error')}\n{record.get('log') or ''}", "RENDER_ERROR")
    r = record["result"]
    return RenderPublic(class_name=r["class_name"], video_url=stores.store_for(None).url(r["key"]),
                        duration=r["duration"], width=r["width"], height=r["height"], fps=r["fps"],
                        render_seconds=r["render_seconds"])


def _wait_for_render(meta, dagster, request_id: str, run_id: str, retry_after: str) -> dict:
    """The render's record once its run wrote it. A run that stays queued past QUEUE_WAIT (the
    pipeline took the slots meanwhile) is cancelled: 429. A run that ends without a record
    (killed, out of memory) is a failed render."""
    started = time.monotonic()
    next_check = started + 2.0
    while True:
        record = meta.get_agent_render(request_id)
        if record and record["status"] != "queued":
            return record
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 2.0
            try:
                status = dagster.run_status(run_id)
            except DagsterUnavailable:
                status = None
            if status in ("FAILURE", "CANCELED"):
                record = meta.get_agent_render(request_id)
                if record and record["status"] != "queued":
                    return record
                return {"status": "failed", "error": f"the render's run {run_id} ended ({status}) without a result"}
            if status in ("QUEUED", "NOT_STARTED") and now - started > QUEUE_WAIT:
                _stop(dagster, run_id)
                raise ApiError(429, f"no render slot became free within {QUEUE_WAIT:.0f} s; try again later",
                               "RATE_LIMITED", headers={"Retry-After": retry_after})
            if now - started > QUEUE_WAIT + RENDER_TIMEOUT + 30:
                _stop(dagster, run_id)
                return {"status": "failed", "error": f"the render's run {run_id} did not finish in time"}
        time.sleep(0.1)


def _stop(dagster, run_id: str) -> None:
    """Terminate the render's run; if Dagster is unreachable, run monitoring ends it later."""
    try:
        dagster.terminate([run_id])
    except DagsterUnavailable:
        pass


@router.post("/fix", response_model=CodePublic, responses=error_responses(
    502, 503, notes={503: "no LLM provider is configured"}))
def fix_code(body: FixRequest, principal: CurrentPrincipal) -> CodePublic:
    """Ask the helper model for corrected code given a render error (needs an LLM)."""
    agents = _agents(body.llm)
    try:
        name = scene_class_in(body.code)
    except ValueError as exc:
        raise ApiError(400, f"code: {exc}", "VALIDATION_ERROR") from exc
    plan = ScenePlan(scene_number=1, title=name, kind="llm", narration=["(fix)"], visual={"duration": body.max_scene_duration})
    failed = GeneratedScene(code=body.code, class_name=name, cues=[], expected_duration=body.max_scene_duration)
    request = GenerateRequest.model_validate({"project_id": "agents", "content_prompt": "fix",
                                              "render_config": {"max_scene_duration": body.max_scene_duration}})
    try:
        fixed = agents.fix(plan, failed, body.error, request)
    except LLMError as exc:
        raise ApiError(502, str(exc), "LLM_ERROR") from exc
    return CodePublic(code=fixed.code, class_name=fixed.class_name, expected_duration=fixed.expected_duration,
                      subtitles=[], coder=fixed.coder)


@router.post("/code", response_model=CodePublic)
def generate_code(body: CodeRequest, principal: CurrentPrincipal) -> CodePublic:
    """Write the Manim code of one planned scene (synchronous)."""
    gen = generate_scene_code(body.scene_plan, body.max_scene_duration)
    return CodePublic(
        code=gen.code, class_name=gen.class_name, expected_duration=gen.expected_duration,
        subtitles=[{"start": c.start, "end": c.end, "text": c.text} for c in gen.cues], coder=gen.coder,
    )

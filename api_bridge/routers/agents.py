"""Low-level agent operations for developers: /api/v1/video/agents/...

All four are synchronous: plan and code take milliseconds offline (seconds with an LLM); render
takes seconds at preview quality and is capped at 120 s of wall-clock time; fix is one LLM call.
Posted code is untrusted: it goes through the static check and renders confined.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api_bridge.auth import CurrentPrincipal
from api_bridge.deps import Store
from api_bridge.errors import ApiError
from videogen_dagster.codegen import GeneratedScene, generate_scene_code, scene_class_in
from videogen_dagster.llm import Agents, Budget, LLMClient, LLMError, load_routes
from videogen_dagster.models import GenerateRequest, ModelConfig, RenderConfig, new_session_id
from videogen_dagster.pipeline import offline_planner
from videogen_dagster.planning import ScenePlan, VideoPlan
from videogen_dagster.rendering import RenderError, render_scene
from videogen_dagster.sandbox import check_code

RENDER_TIMEOUT = 120.0

router = APIRouter(prefix="/api/v1/video/agents", tags=["agents"])


class CodeRequest(BaseModel):
    scene_plan: ScenePlan
    max_scene_duration: float = 30.0


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
    max_scene_duration: float = 30.0


def _agents(config: ModelConfig) -> Agents:
    routes = load_routes()
    if not routes:
        raise ApiError(503, "no LLM provider is configured (set OPENAI_API_KEY)", "SERVICE_UNAVAILABLE")
    return Agents(client=LLMClient(routes, Budget()), config=config)


@router.post("/plan", response_model=VideoPlan)
def plan_video(body: GenerateRequest, principal: CurrentPrincipal) -> VideoPlan:
    """Plan a prompt into scenes (synchronous; nothing is stored)."""
    if not principal.may_use(body.project_id):
        raise ApiError(404, f"project {body.project_id!r} not found")
    request = body if body.session_id else body.model_copy(update={"session_id": new_session_id()})
    if load_routes():
        try:
            return _agents(request.llm).plan(request)
        except LLMError as exc:
            raise ApiError(502, str(exc), "LLM_ERROR") from exc
    return offline_planner(request)


@router.post("/render", response_model=RenderPublic)
def render_code(body: RenderRequest, principal: CurrentPrincipal, stores: Store) -> RenderPublic:
    """Render posted Manim code, checked and confined (synchronous, at most 120 s)."""
    violations = check_code(body.code)
    if violations:
        raise ApiError(400, "code refused: " + "; ".join(str(v) for v in violations), "VALIDATION_ERROR")
    try:
        name = body.class_name or scene_class_in(body.code)
    except ValueError as exc:
        raise ApiError(400, f"code: {exc}", "VALIDATION_ERROR") from exc
    with tempfile.TemporaryDirectory(prefix="agent-render-") as tmp:
        try:
            result = render_scene(body.code, name, Path(tmp) / "w", body.render_config, timeout=RENDER_TIMEOUT)
        except RenderError as exc:
            raise ApiError(400, f"render failed: {exc}\n{exc.log[-1500:]}", "RENDER_ERROR") from exc
        store = stores.store_for(None)
        obj = store.put_file(f"{stores.base_prefix}agents/renders/{uuid.uuid4().hex}/scene.mp4", result.video)
    info = result.info
    return RenderPublic(class_name=name, video_url=store.url(obj.key), duration=info.duration, width=info.width,
                        height=info.height, fps=info.fps, render_seconds=round(result.seconds, 3))


@router.post("/fix", response_model=CodePublic)
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

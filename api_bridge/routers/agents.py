"""Low-level agent operations for developers: /api/v1/video/agents/...

Both are synchronous (they take milliseconds with the offline planner and template coder).
Rendering arbitrary code and LLM code fixing are not exposed here yet: rendering untrusted code
needs the confinement of issue 6, and fixing needs an LLM provider (issue 7).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api_bridge.auth import CurrentPrincipal
from api_bridge.errors import ApiError
from videogen_dagster.codegen import generate_scene_code
from videogen_dagster.models import GenerateRequest, new_session_id
from videogen_dagster.pipeline import offline_planner
from videogen_dagster.planning import ScenePlan, VideoPlan

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


@router.post("/plan", response_model=VideoPlan)
def plan_video(body: GenerateRequest, principal: CurrentPrincipal) -> VideoPlan:
    """Plan a prompt into scenes (synchronous; nothing is stored)."""
    if not principal.may_use(body.project_id):
        raise ApiError(404, f"project {body.project_id!r} not found")
    request = body if body.session_id else body.model_copy(update={"session_id": new_session_id()})
    return offline_planner(request)


@router.post("/code", response_model=CodePublic)
def generate_code(body: CodeRequest, principal: CurrentPrincipal) -> CodePublic:
    """Write the Manim code of one planned scene (synchronous)."""
    gen = generate_scene_code(body.scene_plan, body.max_scene_duration)
    return CodePublic(
        code=gen.code, class_name=gen.class_name, expected_duration=gen.expected_duration,
        subtitles=[{"start": c.start, "end": c.end, "text": c.text} for c in gen.cues], coder=gen.coder,
    )

"""What every step needs: the services locator (stores, metadata, planner, coder, renderer,
LLM agents), the offline planner and coder, and the pipeline's error type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videogen_dagster.authoring.codegen import GeneratedScene, generate_scene_code
from videogen_dagster.authoring.planning import ScenePlan, VideoPlan, plan_offline
from videogen_dagster.media.rendering import (
    RenderError,
    RenderResult,
    latex_available,
    render_scene,
)
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline.narration import Narrator
from videogen_dagster.stores.metastore import MetadataStore
from videogen_dagster.stores.objectstore import ObjectStore, StoreConfig

# How far a measured duration may be from the expected one (frame rounding).
DURATION_TOLERANCE = 0.1


class PipelineError(RuntimeError):
    pass


Planner = Callable[[GenerateRequest], VideoPlan]
# (plan, request, speech=spoken length of each narration line or None) -> code.
Coder = Callable[..., GeneratedScene]


def offline_planner(request: GenerateRequest) -> VideoPlan:
    assert request.session_id
    return plan_offline(
        request.project_id,
        request.session_id,
        request.content_prompt,
        request.scene_count,
        latex_available(),
    )


def template_coder(
    plan: ScenePlan, request: GenerateRequest, speech: list[float] | None = None
) -> GeneratedScene:
    return generate_scene_code(plan, request.render_config.max_scene_duration, speech=speech)


def offline_fix(plan: ScenePlan, error: RenderError) -> ScenePlan | None:
    """The template coder's one repair: drop LaTeX when a LaTeX scene failed. None = no fix."""
    if plan.visual.get("use_latex"):
        return plan.model_copy(update={"visual": {**plan.visual, "use_latex": False}})
    return None


@dataclass
class Services:
    """The collaborators a step needs; resources build one of these per run."""

    stores: StoreConfig
    meta: MetadataStore
    workdir: Path
    planner: Planner = offline_planner
    coder: Coder = template_coder
    render_timeout: float = 300.0
    renderer: Callable[..., RenderResult] = field(default=render_scene)

    agents_factory: Callable[[GenerateRequest, dict], Any] | None = None
    # Speaks the narration (None: scenes are silent, with a silent audio track).
    narrator: Narrator | None = None
    # The cluster worker running this step (its run's `videogen/worker` tag), recorded with each
    # scene version and in the manifest; None on one machine.
    worker: str | None = None

    def agents_for(self, request: GenerateRequest, video_key: str):
        """LLM agents for this video (None: the offline planner/coder), with the budget left."""
        if self.agents_factory is None:
            return None
        video = self.meta.get_video(video_key)
        return self.agents_factory(request, (video.llm_usage if video else None) or {})

    def store_for(self, request: GenerateRequest) -> tuple[ObjectStore, str]:
        """The object store and key prefix of one video (its s3_config overrides the defaults)."""
        s3 = request.s3_config.model_dump()
        return self.stores.store_for(s3), self.stores.prefix_for(s3)

    def work_folder(self) -> Path:
        """The folder that steps make their temporary work folders in (created on first use)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self.workdir

"""The per-video plan: outline plus one implementation plan per scene."""

from typing import Any

import dagster as dg

from videogen_dagster.assets.common import services, task_id_of
from videogen_dagster.models import GenerateRequest, format_validation_error, split_video_key
from videogen_dagster.partitions import videos_partitions
from videogen_dagster.pipeline.plan import run_plan
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.stores.metastore import MetadataStore


class PlanConfig(dg.Config):
    """Optional: (re)define the video from the UI. Empty fields keep the registered request."""

    content_prompt: str = ""
    scene_count: int = 0
    quality: str = ""


@dg.asset(
    partitions_def=videos_partitions,
    group_name="video",
    kinds={"python"},
    tags={"videogen/kind": "plan"},
)
def scene_plan(
    context: dg.AssetExecutionContext,
    config: PlanConfig,
    storage: ObjectStoreResource,
    metadata: MetadataStoreResource,
    llm: LLMResource,
    renderer: ManimRendererResource,
) -> dg.MaterializeResult:
    """Scene outline and one implementation plan per scene, as JSON in the object store."""
    svc = services(storage, metadata, llm, renderer)
    video_key = context.partition_key
    if config.content_prompt or config.scene_count or config.quality:
        _apply_config(svc.meta, video_key, config)
    out = run_plan(svc, video_key, task_id_of(context))
    return dg.MaterializeResult(
        metadata={
            "uri": dg.MetadataValue.url(out.obj.uri),
            "sha256": out.obj.sha256,
            "bytes": out.obj.bytes,
            "version": out.version,
            "scene_count": out.plan.scene_count,
            "topic": out.plan.topic,
            "planner": out.plan.planner,
            "scenes": dg.MetadataValue.json(
                [{"n": s.scene_number, "title": s.title, "kind": s.kind} for s in out.plan.scenes]
            ),
        }
    )


def _apply_config(meta: MetadataStore, video_key: str, config: PlanConfig) -> None:
    project_id, session_id = split_video_key(video_key)
    video = meta.get_video(video_key)
    # The stored request's JSON (GenerateRequest.to_stored()), changed field by field on a copy.
    stored: dict[str, Any] = (
        dict(video.request) if video else {"project_id": project_id, "session_id": session_id}
    )
    if config.content_prompt:
        stored["content_prompt"] = config.content_prompt
    if config.scene_count:
        stored["scene_count"] = config.scene_count
    if config.quality:
        stored["render_config"] = {**stored.get("render_config", {}), "quality": config.quality}
    try:
        request = GenerateRequest.model_validate(stored)
    except Exception as exc:
        raise dg.Failure(f"invalid scene_plan config: {format_validation_error(exc)}") from exc
    meta.register_video(video_key, project_id, session_id, request.to_stored())

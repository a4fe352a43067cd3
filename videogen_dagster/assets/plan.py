"""The per-video plan: outline plus one implementation plan per scene."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster._core.definitions.data_version import (
    DATA_VERSION_IS_USER_PROVIDED_TAG,
    DATA_VERSION_TAG,
)

from videogen_dagster.assets.common import services, step_logs, task_id_of
from videogen_dagster.models import GenerateRequest, format_validation_error, split_video_key
from videogen_dagster.partitions import (
    no_partition_dependency,
    scenes_partitions,
    sync_scene_partitions,
    videos_partitions,
)
from videogen_dagster.pipeline.plan import run_plan
from videogen_dagster.pipeline.reuse import finish_if_unchanged
from videogen_dagster.plan_submit import submit_scene_runs
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
    # Plan again even when the request and the planner are unchanged (an LLM plan differs).
    force: bool = False


# What each scene is made from, materialised by the plan step for each scene partition with a
# data version of exactly that (versions.scene_inputs): the UI marks a scene stale when it changes.
scene_brief = dg.AssetSpec(
    "scene_brief",
    deps=[dg.AssetDep("scene_plan", partition_mapping=no_partition_dependency)],
    partitions_def=scenes_partitions,
    group_name="scenes",
    kinds={"json"},
    description="One scene's storyboard, render settings and voice, as the plan step left them "
    "(materialised by scene_plan; its data version says whether the scene must be made again).",
)


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
) -> Iterator[dg.MaterializeResult]:
    """Scene outline and one implementation plan per scene, as JSON in the object store."""
    video_key = context.partition_key
    meta, result = _plan(context, config, video_key, storage, metadata, llm, renderer)
    yield result
    # Dagster has logged the materialisation before resuming this generator: the scene runs go
    # to the run queue now, not at the chain sensor's next tick (which does it if this cannot).
    submit_scene_runs(context, meta, video_key)


def _plan(
    context: dg.AssetExecutionContext, config: PlanConfig, video_key: str, storage: ObjectStoreResource,
    metadata: MetadataStoreResource, llm: LLMResource, renderer: ManimRendererResource,
) -> tuple[MetadataStore, dg.MaterializeResult]:
    with step_logs(context, video_key) as log:
        svc = services(storage, metadata, llm, renderer)
        if config.content_prompt or config.scene_count or config.quality:
            _apply_config(svc.meta, video_key, config)
        out = run_plan(svc, video_key, task_id_of(context), force=config.force)
        # Nothing changed at all (plan, every scene, the join): the task completes here, and the
        # chain sensor launches no scene run (`unchanged` below).
        unchanged = out.reused and finish_if_unchanged(svc, video_key, task_id_of(context), out.briefs)
        if unchanged:
            context.log.info(f"{video_key}: plan, scenes and joined video unchanged; nothing to make")
        log.info("planned", version=out.version, scene_count=out.plan.scene_count, planner=out.plan.planner,
                 reused=out.reused, unchanged=unchanged)
        # The video's scene partitions are exactly its planned scenes, added before any scene run.
        keys = sync_scene_partitions(context.instance, video_key, out.plan.scene_count)
        for key, s in zip(keys, out.plan.scenes, strict=True):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key="scene_brief",
                    partition=key,
                    description=s.title,
                    metadata={
                        "title": s.title,
                        "kind": s.kind,
                        "video": video_key,
                        "topic": out.plan.topic,
                        "narration": dg.MetadataValue.md("\n".join(f"- {line}" for line in s.narration) or "(none)"),
                        "plan_version": out.version,
                    },
                    tags={DATA_VERSION_TAG: out.briefs[s.scene_number], DATA_VERSION_IS_USER_PROVIDED_TAG: "true"},
                )
            )
        return svc.meta, dg.MaterializeResult(
            data_version=dg.DataVersion(out.obj.sha256[:16]),
            metadata={
                "reused": out.reused,
                # True: every scene and the joined video were made from these inputs already.
                "unchanged": unchanged,
                "scene_partitions": dg.MetadataValue.json(keys),
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

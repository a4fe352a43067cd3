"""One job per step of the chain; each selects assets of a single partitions definition."""

import datetime
import json
from pathlib import Path

import dagster as dg

from videogen_dagster import batches
from videogen_dagster.media.agent_render import RENDER_TIMEOUT, render_posted_code
from videogen_dagster.models import RenderConfig
from videogen_dagster.partitions import scenes_partitions, videos_partitions
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.tags import (
    AGENT_RENDER_JOB,
    BATCH_JOB,
    COMBINE_JOB,
    KIND_TAG,
    MAX_RUNTIME_TAG,
    PLAN_JOB,
    SCENE_JOB,
)

plan_job = dg.define_asset_job(
    PLAN_JOB,
    selection=dg.AssetSelection.assets("scene_plan"),
    partitions_def=videos_partitions,
    # Run monitoring fails a run that outlives this (a worker that died unnoticed, say), so a
    # chain never waits forever.
    tags={KIND_TAG: "plan", MAX_RUNTIME_TAG: "900"},
    description="Plan one video (its scenes are then rendered by the chain sensor).",
)

scene_job = dg.define_asset_job(
    SCENE_JOB,
    selection=dg.AssetSelection.assets("scene_source", "scene_video", "scene_thumbnail", "scene_subtitles"),
    partitions_def=scenes_partitions,
    # dagster.yaml limits concurrent runs with this tag (default 3).
    tags={KIND_TAG: "scene", MAX_RUNTIME_TAG: "1800"},
    description="Write, render and store one scene of one video.",
)

combine_job = dg.define_asset_job(
    COMBINE_JOB,
    selection=dg.AssetSelection.assets("combined_video", "video_manifest"),
    partitions_def=videos_partitions,
    tags={KIND_TAG: "combine", MAX_RUNTIME_TAG: "900"},
    description="Join a video's scenes and write its manifest.",
)


class TopicsBatchConfig(dg.Config):
    """Which topics tonight's batch takes: `size` of them, rotating through the list by date."""

    topics_path: str
    date: str  # YYYY-MM-DD, the scheduled day
    size: int = 5
    scene_count: int = 3
    quality: str = "preview"
    project_id: str = "nightly"


@dg.op
def write_topics_batch(context: dg.OpExecutionContext, config: TopicsBatchConfig, storage: ObjectStoreResource) -> None:
    """Writes a batch file of the day's topics into batches/incoming/ (the batch sensor runs it)."""
    data = json.loads(Path(config.topics_path).read_text(encoding="utf-8"))
    topics = data if isinstance(data, list) else data.get("topics", [])
    day = datetime.date.fromisoformat(config.date)
    body = batches.topics_batch(topics, day, config.size, config.scene_count, config.quality, config.project_id)
    key = f"{batches.INCOMING}{config.project_id}-{config.date}.jsonl"
    storage.store_config().store_for(None).put_bytes(key, body)
    context.log.info(f"wrote {key}: {len(body.splitlines())} topics from {config.topics_path}")


@dg.job(name=BATCH_JOB, description="Write a batch of topics (e.g. TheoremExplainBench) for the batch sensor.")
def batch_from_topics_job():
    write_topics_batch()


class AgentRenderConfig(dg.Config):
    """Posted Manim code to render (the REST bridge's /api/v1/video/agents/render)."""

    request_id: str
    code: str
    class_name: str
    render_config: dict = {}


@dg.op
def render_posted_code_op(
    context: dg.OpExecutionContext, config: AgentRenderConfig, storage: ObjectStoreResource,
    metadata: MetadataStoreResource, renderer: ManimRendererResource,
) -> None:
    """Renders posted code, checked and confined, and records the outcome for the bridge."""
    outcome = render_posted_code(
        metadata.get_store(), storage.store_config(), renderer.work_path() / "agents", config.request_id,
        config.code, config.class_name, RenderConfig.model_validate(config.render_config or {"quality": "preview"}),
        timeout=min(RENDER_TIMEOUT, renderer.timeout_seconds),
    )
    context.log.info(f"agent render {config.request_id}: {outcome.get('status')} {outcome.get('error') or ''}")


@dg.job(
    name=AGENT_RENDER_JOB,
    # A render like a scene's: the same cap in dagster.yaml (videogen/kind=scene) covers both.
    tags={KIND_TAG: "scene", MAX_RUNTIME_TAG: "600"},
    description="Render Manim code posted to the REST bridge's agents/render endpoint.",
)
def agent_render_job():
    render_posted_code_op()

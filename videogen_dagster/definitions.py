"""The code location: assets, jobs, the chain sensor and resources on the embedded defaults."""

import os
from pathlib import Path

import dagster as dg

from videogen_dagster.assets.plan import scene_plan
from videogen_dagster.assets.scenes import scene_assets
from videogen_dagster.assets.video import video_outputs
from videogen_dagster.jobs import (
    agent_render_job,
    batch_from_topics_job,
    combine_job,
    plan_job,
    scene_job,
)
from videogen_dagster.objectstore import StoreConfig
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.schedules import nightly_batch_schedule
from videogen_dagster.sensors import batch_sensor, convex_outbox_sensor, video_chain_sensor


def var_dir() -> Path:
    """Local state (objects, metadata, scratch): VIDEOGEN_VAR_DIR or ./var."""
    return Path(os.environ.get("VIDEOGEN_VAR_DIR", "var")).resolve()


def default_resources(base: Path | None = None) -> dict:
    base = base or var_dir()
    return {
        # S3_BUCKET (and the other S3_*/AWS_* variables) switch objects to S3.
        "storage": ObjectStoreResource.from_store_config(StoreConfig.from_env(str(base / "objects"))),
        # CONVEX_DEPLOYMENT_URL (+ CONVEX_DEPLOY_KEY) mirrors every record to Convex.
        "metadata": MetadataStoreResource(
            sqlite_path=str(base / "metadata.sqlite"),
            convex_url=os.environ.get("CONVEX_DEPLOYMENT_URL", ""),
        ),
        # OPENAI_API_KEY (+ OPENAI_BASE_URL) or VIDEOGEN_MODELS_FILE switch to the LLM agents.
        "llm": LLMResource(
            budget_tokens=int(os.environ.get("VIDEOGEN_BUDGET_TOKENS", "0")),
            budget_usd=float(os.environ.get("VIDEOGEN_BUDGET_USD", "0")),
        ),
        "renderer": ManimRendererResource(workdir=str(base / "work")),
    }


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[scene_plan, scene_assets, video_outputs],
        jobs=[plan_job, scene_job, combine_job, batch_from_topics_job, agent_render_job],
        sensors=[video_chain_sensor, convex_outbox_sensor, batch_sensor],
        # VIDEOGEN_BATCH_TOPICS: a topic list (e.g. a TheoremExplainBench file) for the nightly batch.
        schedules=[nightly_batch_schedule(
            topics_path=os.environ.get("VIDEOGEN_BATCH_TOPICS", ""),
            cron=os.environ.get("VIDEOGEN_BATCH_CRON", "0 2 * * *"),
            timezone=os.environ.get("VIDEOGEN_BATCH_TZ", "UTC"),
            size=int(os.environ.get("VIDEOGEN_BATCH_SIZE", "5")),
            scene_count=int(os.environ.get("VIDEOGEN_BATCH_SCENES", "3")),
            quality=os.environ.get("VIDEOGEN_BATCH_QUALITY", "preview"),
        )],
        resources=resources or default_resources(),
        # Every run of the chain has a single step: running it in the run worker's process saves
        # a second Python start-up (and imports of Dagster and Manim) per run.
        executor=dg.in_process_executor,
    )


defs = build_definitions()

"""The code location: assets, jobs, the chain sensor and resources on the embedded defaults."""

import logging
from pathlib import Path

import dagster as dg

from videogen_dagster.assets.plan import scene_brief, scene_plan
from videogen_dagster.assets.scenes import scene_assets
from videogen_dagster.assets.video import video_outputs
from videogen_dagster.dagster_removal import remove_video_job
from videogen_dagster.jobs import (
    agent_render_job,
    batch_from_topics_job,
    combine_job,
    plan_job,
    scene_job,
)
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.schedules import nightly_batch_schedule
from videogen_dagster.sensors import batch_sensor, convex_outbox_sensor, video_chain_sensor
from videogen_dagster.settings import Settings, SettingsError, get_settings, state_paths

log = logging.getLogger(__name__)
_reported: set[str] = set()


def _settings() -> tuple[Settings | None, str]:
    """The settings, or why they are invalid. An invalid value does not stop the code location
    from loading: runs and sensors that need the settings fail naming the variable, and the
    nightly schedule stays stopped saying why."""
    try:
        return get_settings(), ""
    except SettingsError as exc:
        if str(exc) not in _reported:
            _reported.add(str(exc))
            log.error("invalid settings (runs that need them will fail): %s", exc)
        return None, str(exc)


def var_dir() -> Path:
    """Local state (objects, metadata, scratch): VIDEOGEN_VAR_DIR or ./var."""
    settings, _ = _settings()
    return (settings.var_dir if settings else Path("var")).resolve()


def default_resources(base: Path | None = None) -> dict:
    """The resources on the embedded defaults, local state under `base` (default:
    VIDEOGEN_VAR_DIR). S3, Convex and the LLM agents are switched on by their settings
    (videogen_dagster/settings/), which each resource reads when it is used."""
    paths = state_paths(base or var_dir())
    return {
        "storage": ObjectStoreResource(root=str(paths.objects)),
        "metadata": MetadataStoreResource(sqlite_path=str(paths.metadata)),
        "llm": LLMResource(),
        "renderer": ManimRendererResource(workdir=str(paths.work)),
    }


def _nightly_batch() -> dg.ScheduleDefinition:
    # VIDEOGEN_BATCH_TOPICS: a topic list (e.g. a TheoremExplainBench file) for the nightly batch.
    settings, problem = _settings()
    if settings is None:
        return nightly_batch_schedule("", unavailable=problem)
    b = settings.batch
    return nightly_batch_schedule(
        topics_path=b.topics_path, cron=b.cron, timezone=b.timezone, size=b.size,
        scene_count=b.scene_count, quality=b.quality,
    )


def build_definitions(resources: dict | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[scene_plan, scene_brief, scene_assets, video_outputs],
        jobs=[plan_job, scene_job, combine_job, batch_from_topics_job, agent_render_job, remove_video_job],
        sensors=[video_chain_sensor, convex_outbox_sensor, batch_sensor],
        schedules=[_nightly_batch()],
        resources=resources or default_resources(),
        # Every run of the chain has a single step: running it in the run worker's process saves
        # a second Python start-up (and imports of Dagster and Manim) per run.
        executor=dg.in_process_executor,
    )


defs = build_definitions()

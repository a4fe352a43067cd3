"""Glue between Dagster resources/context and the plain pipeline services."""

from contextlib import AbstractContextManager
from typing import Any

import dagster as dg

from videogen_dagster.observability.logs import ensure_worker_logging, step_context
from videogen_dagster.pipeline.narration import Narrator
from videogen_dagster.pipeline.services import Services
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.settings import get_settings
from videogen_dagster.tags import DRIVER_TAG, TASK_TAG


def services(
    storage: ObjectStoreResource,
    metadata: MetadataStoreResource,
    llm: LLMResource,
    renderer: ManimRendererResource,
) -> Services:
    return Services(
        stores=storage.store_config(),
        meta=metadata.get_store(),
        workdir=renderer.work_path(),
        planner=llm.planner(),
        coder=llm.coder(),
        agents_factory=llm.agents_factory(),
        render_timeout=renderer.timeout_seconds,
        narrator=Narrator.from_settings(get_settings()),
    )


def task_id_of(context: dg.AssetExecutionContext) -> str | None:
    return context.run.tags.get(TASK_TAG)


def step_logs(
    context: dg.AssetExecutionContext, video_key: str, scene: int | None = None
) -> AbstractContextManager[Any]:
    """The step's structured log lines (observability/logs.py): task, run, video and scene ids
    bound for every line it logs, with started / finished / failed lines. A run worker sends
    them to stderr (Dagster's compute log of the step); the CLI, which prints its own progress,
    leaves the logging configuration alone."""
    if context.run.tags.get(DRIVER_TAG) != "cli":
        ensure_worker_logging()
    return step_context(
        context.op_def.name, task_id=task_id_of(context), run_id=context.run_id,
        video_key=video_key, scene=scene,
    )

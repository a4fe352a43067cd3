"""Glue between Dagster resources/context and the plain pipeline services."""

import dagster as dg

from videogen_dagster.pipeline.narration import Narrator
from videogen_dagster.pipeline.services import Services
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.settings import get_settings
from videogen_dagster.tags import TASK_TAG


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

"""Which Celery queue a run goes to: renders to `render`, everything else to `light`. A run
tagged `dagster-celery/queue` keeps its own choice."""

from __future__ import annotations

from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from videogen_dagster.cluster.names import LIGHT_QUEUE, RENDER_QUEUE
from videogen_dagster.tags import AGENT_RENDER_JOB, KIND_TAG, SCENE_JOB

# Assets whose materialisation renders (a UI launch of them has no videogen/kind tag).
RENDER_ASSETS = {"scene_source", "scene_video", "scene_thumbnail", "scene_subtitles"}


def queue_for(run) -> str:
    tags = run.tags or {}
    if tags.get(DAGSTER_CELERY_QUEUE_TAG):
        return tags[DAGSTER_CELERY_QUEUE_TAG]
    if tags.get(KIND_TAG) == "scene" or run.job_name in (SCENE_JOB, AGENT_RENDER_JOB):
        return RENDER_QUEUE
    selected = {k.to_user_string() for k in (run.asset_selection or ())}
    return RENDER_QUEUE if selected & RENDER_ASSETS else LIGHT_QUEUE

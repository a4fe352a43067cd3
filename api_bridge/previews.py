"""Progressive rendering in the status answer: the scene previews a task has published so far
(the task row lists their keys; URLs are made when read, as presigned ones expire)."""

from __future__ import annotations

from videogen_dagster.stores.metastore import MetadataStore, Task
from videogen_dagster.stores.objectstore import StoreConfig

FIELDS = ("scene_id", "scene_number", "version", "duration", "width", "height", "fps", "created_at")


def scene_previews(meta: MetadataStore, stores: StoreConfig, task: Task) -> list[dict] | None:
    """The task's published previews with their URLs; None when it has none (no store read)."""
    if not task.previews:
        return None
    video = meta.get_video(task.video_key)
    store = stores.store_for((video.request if video else {}).get("s3_config"))
    return [{**{k: p.get(k) for k in FIELDS}, "preview_url": store.url(p["key"])} for p in task.previews]

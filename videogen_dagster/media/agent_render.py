"""The developers' render endpoint's work, done in a Dagster run like every other render.

`POST /api/v1/video/agents/render` launches `agent_render_job` (tagged as a scene render, so
dagster.yaml's cap on concurrent renders covers it too) and waits for the record this step
writes. Posted code is untrusted: static check, then a confined render (rendering.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from videogen_dagster.media import voiceover
from videogen_dagster.media.rendering import RenderError, render_scene
from videogen_dagster.models import RenderConfig
from videogen_dagster.stores.metastore import MetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

RENDER_TIMEOUT = 120.0


def agent_render_key(base_prefix: str, request_id: str) -> str:
    return f"{base_prefix}agents/renders/{request_id}/scene.mp4"


def render_posted_code(
    meta: MetadataStore, stores: StoreConfig, workdir: Path, request_id: str, code: str,
    class_name: str, render: RenderConfig, timeout: float = RENDER_TIMEOUT,
) -> dict:
    """Render, store the video, and record the outcome under `request_id` (also returned):
    {"status": "completed", "result": {...}} or {"status": "failed", "error", "log"}."""
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agent-render-", dir=workdir) as tmp:
        try:
            folder = Path(tmp) / "w"
            if voiceover.uses_voiceover(code):
                # Posted code has no narration of ours: its voiceover blocks are timed at a
                # speaking pace, silently.
                voiceover.install(folder, {})
            result = render_scene(code, class_name, folder, render, timeout=timeout)
        except RenderError as exc:
            meta.finish_agent_render(request_id, "failed", error=str(exc), log=exc.log[-1500:])
            return meta.get_agent_render(request_id) or {}
        store = stores.store_for(None)
        obj = store.put_file(agent_render_key(stores.base_prefix, request_id), result.video)
    info = result.info
    meta.finish_agent_render(request_id, "completed", result={
        "class_name": class_name, "key": obj.key, "duration": info.duration, "width": info.width,
        "height": info.height, "fps": info.fps, "render_seconds": round(result.seconds, 3),
    })
    return meta.get_agent_render(request_id) or {}

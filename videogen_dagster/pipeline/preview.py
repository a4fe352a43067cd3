"""Progressive rendering (`render_config.progressive`): before a scene's final render, the same
source is rendered at the preview preset (854x480, 15 fps: Manim's -ql), with the same
confinement and narration timing, stored beside the version's files (`v{n}/preview.mp4`) and
published at once: the tasks working on the scene list it (the status's `previews`) and get a
`scene.preview` event (SSE and webhooks), so an app shows the scene within seconds while the
final quality renders. The finished version keeps it among its assets (the result's
`preview_url`, the manifest).

A preview that fails (its render, its sound, its upload) is logged and left out: the final
render and its own fix loop decide what becomes of the scene."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from videogen_dagster.authoring.codegen import GeneratedScene
from videogen_dagster.media import ffmpeg
from videogen_dagster.models import RenderConfig
from videogen_dagster.pipeline import narration
from videogen_dagster.pipeline.scene_job import Rendered, SceneJob
from videogen_dagster.pipeline.scene_render import render_once
from videogen_dagster.pipeline.scene_store import object_key, version_slot
from videogen_dagster.stores.metastore import now_iso

log = logging.getLogger(__name__)

PREVIEW_FILE = "preview.mp4"
PREVIEW_QUALITY = "preview"


def preview_config(render: RenderConfig) -> RenderConfig | None:
    """The settings of a scene's preview render; None when there is none to make (progressive
    off, or the requested format is no larger than the preview preset's)."""
    if not render.progressive:
        return None
    preview = RenderConfig(
        quality=PREVIEW_QUALITY,
        max_scene_duration=render.max_scene_duration,
        max_retries=0,
    )
    w, h, fps = render.output_format()
    pw, ph, pfps = preview.output_format()
    if w * h * fps <= pw * ph * pfps:
        return None
    return preview


def publish_preview(
    job: SceneJob, generated: GeneratedScene, work: Path, errors: list[str]
) -> tuple[tuple[int, str], dict] | None:
    """Render, store and publish the preview of `generated`: (the version slot it was stored
    under, its asset record), or None when there is none (off, or it failed: said in `errors`)."""
    config = preview_config(job.request.render_config)
    if config is None:
        return None
    started = time.perf_counter()
    try:
        rendered = render_once(job, generated, work / "preview", config)
        video = _with_sound(job, rendered, work / "preview-out")
        info = ffmpeg.probe(video)
        slot = version_slot(job)
        store, _ = job.svc.store_for(job.request)
        stored = store.put_file(object_key(job, slot, PREVIEW_FILE), video)
    except Exception as exc:  # noqa: BLE001 - a preview is optional; the final render decides
        log.warning("scene %s of %s: no preview: %s", job.number, job.video_key, exc)
        errors.append(f"preview: not published ({str(exc)[:300]})")
        return None
    seconds = round(time.perf_counter() - started, 3)
    asset = {
        **stored.as_dict(),
        "media": info.as_metadata(),
        "render_seconds": round(rendered.result.seconds, 3),
    }
    job.svc.meta.record_scene_preview(
        job.video_key,
        job.number,
        {
            "version": slot[0],
            "key": stored.key,
            "duration": round(info.duration, 3),
            "width": info.width,
            "height": info.height,
            "fps": round(info.fps, 3),
            "render_seconds": asset["render_seconds"],
            "seconds": seconds,  # render, sound and upload
            "created_at": now_iso(),
        },
    )
    return slot, asset


def _with_sound(job: SceneJob, rendered: Rendered, out: Path) -> Path:
    """The preview with the scene's narration placed as the final's will be (or a silent track):
    the same streams as the final video, so a player can swap one for the other."""
    out.mkdir(parents=True, exist_ok=True)
    result = rendered.result
    if job.voice is None:
        return narration.silent_video(result.video, out)
    placed = narration.place(job.voice, rendered.generated, rendered.workdir, result.info.duration)
    video, _ = narration.voice_video(result.video, placed, result.info.duration, out)
    return video

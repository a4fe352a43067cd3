"""The API's view of a video: a task's fixed result record (versions and object keys, made when
the task finishes) and the spec's task result rendered from it (URLs made when read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from videogen_dagster.authoring.planning import VideoPlan
from videogen_dagster.media.hwaccel import hardware_warnings
from videogen_dagster.models import scene_id, split_video_key
from videogen_dagster.stores.metastore import (
    MetadataStore,
    SceneEdit,
    SceneStatus,
    Task,
    TaskStatus,
    now_iso,
)
from videogen_dagster.stores.objectstore import StoreConfig

URL_FIELDS = {
    "video": "s3_video_url",
    "source": "s3_source_url",
    "thumbnail": "s3_thumbnail_url",
    "subtitles": "s3_subtitles_url",
}
# Progressive rendering: the scene's preview render, listed only where there is one.
PREVIEW_FIELD = ("preview", "preview_url")
RECORD_VERSION = 1


def _edit_entry(e: SceneEdit) -> dict:
    """One edit as a result record lists it."""
    return {
        "from_version": e.from_version,
        "to_version": e.to_version,
        "edit_prompt": e.edit_prompt,
        "model": e.model,
        "applied": e.applied,
        "task_id": e.task_id,
        "created_at": e.created_at,
    }


def snapshot_result(meta: MetadataStore, video_key: str, task_id: str | None = None) -> dict:
    """What the video is made of now, as a fixed record: versions, titles, durations and object
    keys (no URLs: presigned URLs expire). A finished task keeps the record of what it made, so a
    later re-generation or edit of the same video never changes an earlier task's result."""
    project_id, session_id = split_video_key(video_key)
    video = meta.get_video(video_key)
    plan = VideoPlan.model_validate(video.plan) if video and video.plan else None
    count = plan.scene_count if plan else 0
    by_number = {s.scene_number: s for s in meta.list_scenes(video_key)}
    scenes: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        assert plan is not None  # count is 0 without a plan
        s = by_number.get(n)
        assets = s.assets if s else {}
        scenes.append(
            {
                "scene_id": scene_id(session_id, n),
                "scene_number": n,
                "title": (s and s.title) or plan.scene(n).title,
                "duration": s.duration if s else None,
                "status": str(s.status if s else SceneStatus.QUEUED),
                "objects": {
                    kind: a["key"]
                    for kind, a in assets.items()
                    if kind in URL_FIELDS or kind == PREVIEW_FIELD[0]
                },
                "version": s.version if s else 0,
                "error": s.error if s else None,
                "edit_history": [_edit_entry(e) for e in meta.edit_history(video_key, n)],
                "narration": _narration(meta, video_key, n, s.version) if s and s.version else None,
            }
        )
    # The join's record (free-form JSON the join wrote): what the combined objects are.
    combined = (video.combined if video else None) or {}
    task = meta.get_task(task_id) if task_id else None
    started = task and (task.started_at or task.created_at)
    completed_at = (task and task.completed_at) or now_iso()
    gen_time = None
    if started:
        gen_time = round((_parse(completed_at) - _parse(started)).total_seconds(), 1)
    all_done = bool(combined) and all(s["status"] == SceneStatus.COMPLETED for s in scenes)
    return {
        "record_version": RECORD_VERSION,
        "s3_config": video.request.get("s3_config") if video else None,
        "project_id": project_id,
        "session_id": session_id,
        "status": str(TaskStatus.COMPLETED if all_done else (video.status if video else "queued")),
        "scene_count": count,
        "scenes": scenes,
        "total_duration": round(
            (video.total_duration if video else None) or sum(s["duration"] or 0 for s in scenes), 3
        ),
        "combined_objects": {
            k: combined[k]["key"] for k in ("video", "subtitles_srt", "manifest") if combined.get(k)
        },
        "combined_version": combined.get("version"),
        "plan_version": video.plan_version if video else None,
        "llm_usage": video.llm_usage if video else None,
        # What the plan says about how it was made (an unknown topic, requested models ignored).
        "warnings": (list(plan.warnings) if plan else [])
        + hardware_warnings((video.request or {}).get("render_config") if video else None),
        "generation_time_seconds": gen_time,
        "completed_at": completed_at,
    }


def _narration(meta: MetadataStore, video_key: str, n: int, version: int) -> dict | None:
    """Who spoke the scene's current version (None: silent, or made before narration)."""
    for h in meta.scene_history(video_key, n):
        if h.version == version and (spoken := h.extra.get("narration")):
            keys = ("engine", "voice", "speed", "language", "duration")
            return {k: spoken.get(k) for k in keys}
    return None


def render_result(record: dict, stores: StoreConfig) -> dict:
    """The spec's task result from a record, with URLs made now (fields in the spec's order)."""
    store = stores.store_for(record.get("s3_config"))

    def url(key: str | None) -> str | None:
        return store.url(key) if key else None

    scenes = []
    for s in record["scenes"]:
        objects = s.get("objects") or {}
        scene = {k: s.get(k) for k in ("scene_id", "scene_number", "title", "duration", "status")}
        scene.update(
            {field_name: url(objects.get(kind)) for kind, field_name in URL_FIELDS.items()}
        )
        scene.update({k: s.get(k) for k in ("version", "error", "edit_history", "narration")})
        if objects.get(PREVIEW_FIELD[0]):
            scene[PREVIEW_FIELD[1]] = url(objects[PREVIEW_FIELD[0]])
        scenes.append(scene)
    objs = record.get("combined_objects") or {}
    out = {k: record.get(k) for k in ("project_id", "session_id", "status", "scene_count")}
    out.update(
        scenes=scenes,
        total_duration=record.get("total_duration"),
        s3_combined_video_url=url(objs.get("video")),
        s3_subtitles_url=url(objs.get("subtitles_srt")),
        s3_manifest_url=url(objs.get("manifest")),
    )
    internal = {"record_version", "s3_config", "combined_objects", "scenes", *out}
    out.update({k: v for k, v in record.items() if k not in internal})
    return out


def build_result(
    meta: MetadataStore, stores: StoreConfig, video_key: str, task_id: str | None = None
) -> dict:
    """The spec's task result for the video as it is now (URLs made now, never stored)."""
    return render_result(snapshot_result(meta, video_key, task_id), stores)


def task_result(meta: MetadataStore, stores: StoreConfig, task: Task) -> dict:
    """A finished task's result: the record it stored when it finished (what *it* made), or, for
    a task stored before records existed, the video as it is now."""
    record = task.result
    if isinstance(record, dict) and record.get("record_version"):
        return render_result(record, stores)
    return build_result(meta, stores, task.video_key, task.task_id)


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)

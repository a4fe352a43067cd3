"""Videos as resources: GET /api/v1/videos/{project_id}/{session_id} reads one (its plan and
scenes), GET .../scenes/{n}/source a scene's current source, DELETE removes one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api_bridge.auth import CurrentPrincipal
from api_bridge.dagster_client import DagsterRejected, DagsterUnavailable
from api_bridge.dagster_videos import VideoRemovalFailed
from api_bridge.deps import Dagster, Meta, Store
from api_bridge.errors import ApiError
from api_bridge.launching import first_busy
from api_bridge.schemas import (
    SceneSourcePublic,
    VideoDeleted,
    VideoPartitionsPublic,
    VideoPublic,
    VideoRecordsPublic,
    error_responses,
)
from videogen_dagster.models import ID_PATTERN, MAX_SCENES, scene_id, video_key
from videogen_dagster.pipeline import build_result
from videogen_dagster.removal import video_objects
from videogen_dagster.stores.metastore import VideoBusy, now_iso
from videogen_dagster.stores.objectstore import ObjectStoreError

router = APIRouter(prefix="/api/v1/videos", tags=["videos"], responses=error_responses(500))

_ID = "1-64 letters, digits, `_` or `-`"
ProjectIdPath = Annotated[str, Path(pattern=ID_PATTERN, description=f"the video's project id ({_ID})")]
SessionIdPath = Annotated[str, Path(pattern=ID_PATTERN, description=f"the video's session id ({_ID})")]
SceneNumberPath = Annotated[int, Path(ge=1, le=MAX_SCENES, description="the scene's number (1-based)")]
DeleteObjects = Annotated[bool, Query(
    description="also delete the video's stored objects (plan, scenes, joined video: every version); "
    "by default they are kept")]


def _unavailable(what: str, exc: Exception, done: str = "") -> ApiError:
    return ApiError(503, f"{what} is unavailable: {exc}{done}", "SERVICE_UNAVAILABLE")


def _video(meta: Meta, principal: CurrentPrincipal, project_id: str, session_id: str):
    key = video_key(project_id, session_id)
    video = meta.get_video(key) if principal.may_use(project_id) else None
    if video is None:
        raise ApiError(404, f"video {key!r} not found")
    return key, video


def _scene_plans(plan: dict | None) -> dict[int, dict]:
    return {s.get("scene_number"): s for s in (plan or {}).get("scenes", []) if isinstance(s, dict)}


@router.get("/{project_id}/{session_id}", response_model=VideoPublic, responses=error_responses(
    400, 401, 404, 503, notes={404: "no such video, or another project's",
                               503: "the object store is unavailable (URLs cannot be made)"}))
def get_video(project_id: ProjectIdPath, session_id: SessionIdPath, principal: CurrentPrincipal,
              meta: Meta, store: Store) -> VideoPublic:
    """A video as it is now: its plan, and each scene's title, status, current version, URLs
    (video, source, thumbnail, subtitles; made when read) and plan."""
    key, video = _video(meta, principal, project_id, session_id)
    try:
        result = build_result(meta, store, key)
    except ObjectStoreError as exc:
        raise _unavailable("the object store", exc) from exc
    plans = _scene_plans(video.plan)
    return VideoPublic(
        video_key=key, project_id=project_id, session_id=session_id, status=str(video.status),
        scene_count=result["scene_count"],
        scenes=[{**s, "plan": plans.get(s["scene_number"])} for s in result["scenes"]],
        total_duration=result.get("total_duration"), s3_combined_video_url=result.get("s3_combined_video_url"),
        combined_version=result.get("combined_version"), plan_version=video.plan_version, plan=video.plan,
    )


@router.get("/{project_id}/{session_id}/scenes/{scene_number}/source", response_model=SceneSourcePublic,
            responses=error_responses(400, 401, 404, 503, notes={
                404: "no such video or scene, another project's, or a scene not rendered yet",
                503: "the object store is unavailable"}))
def get_scene_source(project_id: ProjectIdPath, session_id: SessionIdPath, scene_number: SceneNumberPath,
                     principal: CurrentPrincipal, meta: Meta, store: Store) -> SceneSourcePublic:
    """A scene's current Manim source (the file its current version was rendered from)."""
    key, video = _video(meta, principal, project_id, session_id)
    scene = meta.get_scene(key, scene_number)
    source = (scene.assets or {}).get("source") if scene else None
    if scene is None or not source:
        raise ApiError(404, f"scene {scene_id(session_id, scene_number)!r} of video {key!r} has no source yet")
    objects = store.store_for(video.request.get("s3_config"))
    try:
        code = objects.get_bytes(source["key"]).decode("utf-8", errors="replace")
        url = objects.url(source["key"])
    except KeyError as exc:  # recorded but gone (deleted by hand, another bucket)
        raise ApiError(404, f"the source of scene {scene.scene_id!r} is missing from the object store") from exc
    except ObjectStoreError as exc:
        raise _unavailable("the object store", exc) from exc
    return SceneSourcePublic(
        scene_id=scene.scene_id, scene_number=scene_number, title=scene.title, version=scene.version,
        status=str(scene.status), object_key=source["key"], s3_source_url=url, code=code,
    )


@router.delete("/{project_id}/{session_id}", response_model=VideoDeleted, responses=error_responses(
    400, 401, 404, 409, 503, notes={
        404: "no such video (no records and no Dagster partitions), or another project's",
        409: "the video is being generated or edited, or a Dagster run of it is queued or running "
             "(nothing is deleted)",
        503: "Dagster (or, with delete_objects, the object store) is unavailable; what was already "
             "removed stays removed, and the same DELETE finishes the rest"}))
def delete_video(project_id: ProjectIdPath, session_id: SessionIdPath, principal: CurrentPrincipal,
                 meta: Meta, store: Store, dagster: Dagster, delete_objects: DeleteObjects = False) -> VideoDeleted:
    """Remove a video: its Dagster partitions (`videos` and its `scenes`) with their
    materialisations, its records (video, scenes, versions, edits, tasks) and, with
    delete_objects, its stored objects. Refused while it is being generated or edited."""
    key = video_key(project_id, session_id)
    if not principal.may_use(project_id):
        raise ApiError(404, f"video {key!r} not found")
    records = meta.video_records(key)
    try:
        partitions = dagster.video_partitions(key)
        busy = first_busy(meta, dagster, key)  # a task whose runs ended unnoticed is settled first
        running = dagster.active_video_runs(key)
    except DagsterUnavailable as exc:
        raise _unavailable("Dagster, which holds the video's partitions,", exc) from exc
    objects = video_objects(store, key, meta.get_video(key))
    try:
        known = bool(records.total or any(partitions.values()) or (delete_objects and objects.count()))
    except ObjectStoreError as exc:
        raise _unavailable("the object store", exc) from exc
    if not known:
        raise ApiError(404, f"video {key!r} not found")
    if busy:
        raise ApiError(409, f"{VideoBusy(key, busy)}; nothing deleted", "CONFLICT")
    if running:
        run_id, job, partition = running[0]
        raise ApiError(409, f"video {key} has {len(running)} run(s) queued or running in Dagster (run {run_id}, "
                       f"{job}, {partition}); wait for them to end or cancel them; nothing deleted", "CONFLICT")
    removed = meta.delete_video(key)  # VideoBusy (a task started meanwhile): 409, nothing removed
    try:
        dagster.remove_video(key)
    except VideoRemovalFailed as exc:
        if exc.running:
            raise ApiError(409, f"{exc}; its records were removed: DELETE again once the run has ended",
                           "CONFLICT") from exc
        raise ApiError(500, f"removing the video's Dagster partitions failed: {exc}", "INTERNAL_ERROR") from exc
    except (DagsterUnavailable, DagsterRejected) as exc:
        raise _unavailable("Dagster", exc, "; the video's records were removed: DELETE again to finish") from exc
    deleted = None
    if delete_objects:
        try:
            deleted = objects.delete()
        except ObjectStoreError as exc:
            raise _unavailable("the object store", exc, "; the video's records and partitions were removed: "
                               "DELETE again with delete_objects=true to delete its objects") from exc
    kept = "" if delete_objects else "; its objects are kept"
    return VideoDeleted(
        video_key=key, project_id=project_id, session_id=session_id,
        message=f"Video {key} deleted: {sum(len(v) for v in partitions.values())} partition(s), "
                f"{removed.total} record(s)" + (f", {deleted} object(s)" if deleted is not None else kept),
        partitions=VideoPartitionsPublic.model_validate(partitions),
        records=VideoRecordsPublic.model_validate(removed.as_dict()), objects=deleted, deleted_at=now_iso(),
    )

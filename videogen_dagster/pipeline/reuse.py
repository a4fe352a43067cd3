"""Nothing made twice: a scene whose inputs are those of its current version is not written or
rendered again, and a video whose scenes are those it was last joined from is not joined again.

The outcome of a reused step is read back from the metadata store (the same record a fresh one
writes), so the Dagster assets, the CLI and the task's result cannot tell it apart except by
`reused`; its objects are checked to exist first (a store emptied by hand is rendered again).
"""

from __future__ import annotations

from videogen_dagster.media import ffmpeg
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline.checks import scene_checks
from videogen_dagster.pipeline.scene_job import SceneOutcome
from videogen_dagster.pipeline.services import Services
from videogen_dagster.stores.objectstore import StoredObject

SCENE_KINDS = ("source", "video", "thumbnail", "subtitles")


def stored_scene(
    svc: Services, request: GenerateRequest, video_key: str, scene_number: int
) -> SceneOutcome | None:
    """The scene's current version as an outcome (None before its first render)."""
    scene = next((s for s in svc.meta.list_scenes(video_key) if s.scene_number == scene_number), None)
    if scene is None or not scene.version or not all(k in scene.assets for k in SCENE_KINDS):
        return None
    extra = next(
        (h.extra for h in svc.meta.scene_history(video_key, scene_number) if h.version == scene.version),
        {},
    )
    objects = {kind: _stored_object(scene.assets[kind]) for kind in SCENE_KINDS}
    info = ffmpeg.VideoInfo.from_metadata(
        scene.assets["video"].get("media") or {}, objects["video"].bytes
    )
    if info is None:  # a record from before the probe was kept: not reusable
        return None
    layout = extra.get("layout") or {}
    findings, inspected = list(layout.get("findings", [])), int(layout.get("checks", 0))
    outcome = SceneOutcome(
        scene_number, scene.version, objects, info, 0.0, 0, str(extra.get("coder", "")), []
    )
    outcome.narration = extra.get("narration")
    outcome.layout, outcome.layout_checks = findings, inspected
    outcome.checks = scene_checks(info, request.render_config, findings, inspected)
    outcome.inputs = extra.get("inputs")
    outcome.data_version = extra.get("data_version")
    return outcome


def reusable_scene(
    svc: Services, request: GenerateRequest, video_key: str, scene_number: int, inputs: str
) -> SceneOutcome | None:
    """The current version when it was made from exactly `inputs` and its files are all there."""
    outcome = stored_scene(svc, request, video_key, scene_number)
    if outcome is None or outcome.inputs != inputs:
        return None
    store, _ = svc.store_for(request)
    if not all(store.exists(obj.key) for obj in outcome.objects.values()):
        return None
    outcome.reused = True
    return outcome


def _stored_object(d: dict) -> StoredObject:
    fields = StoredObject.__dataclass_fields__
    return StoredObject(**{k: v for k, v in d.items() if k in fields})

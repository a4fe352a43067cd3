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
from videogen_dagster.pipeline.join import joined_from, reuse_join, scenes_by_number, versions_token
from videogen_dagster.pipeline.plan import load_plan, load_request
from videogen_dagster.pipeline.scene_job import SceneOutcome
from videogen_dagster.pipeline.services import Services
from videogen_dagster.stores.metastore import SceneStatus
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
    objects = {kind: StoredObject.from_dict(scene.assets[kind]) for kind in SCENE_KINDS}
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


def finish_if_unchanged(svc: Services, video_key: str, task_id: str | None, briefs: dict[int, str]) -> bool:
    """After a reused plan: when every scene's current version was made from its brief and the
    joined video from exactly those versions, nothing is to be made. The scenes go back to
    completed, the task completes with the joined video as it is, and True tells the caller that
    no scene run is needed (False: the scene runs decide scene by scene)."""
    request, plan = load_request(svc.meta, video_key), load_plan(svc.meta, video_key)
    if set(briefs) != set(range(1, plan.scene_count + 1)):
        return False
    outs = {n: reusable_scene(svc, request, video_key, n, brief) for n, brief in briefs.items()}
    if any(o is None for o in outs.values()):
        return False
    # From the versions themselves: the plan step marked the scenes queued.
    token = versions_token((n, o.version, o.objects["video"].sha256) for n, o in sorted(outs.items()) if o)
    if not joined_from(svc.meta.get_video(video_key), token):
        # Scenes unchanged but joined from other versions (an edit since): the scene runs reuse
        # their renders and the last one joins.
        return False
    scenes = scenes_by_number(svc.meta, video_key)
    for s in plan.scenes:
        svc.meta.set_scene_status(video_key, s.scene_number, scenes[s.scene_number].scene_id, s.title, SceneStatus.COMPLETED)
    reuse_join(svc, video_key, plan, task_id)
    return True

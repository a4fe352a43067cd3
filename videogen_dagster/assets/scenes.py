"""Per-scene assets: source, rendered video, thumbnail and subtitles, made by one step."""

import dagster as dg

from videogen_dagster.assets.common import services, step_logs, task_id_of
from videogen_dagster.assets.scene_events import scene_events, scene_title
from videogen_dagster.assets.video import output_metadata
from videogen_dagster.partitions import scenes_partitions, split_scene_partition_key
from videogen_dagster.pipeline import checks
from videogen_dagster.pipeline.edit import EditSpec
from videogen_dagster.pipeline.join import join_when_complete, run_combine
from videogen_dagster.pipeline.plan import load_request
from videogen_dagster.pipeline.reuse import stored_scene
from videogen_dagster.pipeline.scene import run_scene
from videogen_dagster.pipeline.versions import code_version
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.tags import DRIVER_TAG, WORKER_TAG


class SceneConfig(dg.Config):
    """Optional edit: re-render this scene following a prompt (e.g. "make it blue and slower")."""

    edit_prompt: str = ""
    preserve_timing: bool = True
    version_increment: bool = True
    expected_version: int = 0  # 0: no check
    # Join the video in this run: always after an edit, otherwise when this run finds every
    # planned scene rendered first (one run start-up less, no wait for the chain sensor's next
    # tick). False leaves the join to the chain sensor's combine run.
    rejoin: bool = True
    # Write and render again even when the scene's inputs are those of its current version.
    force: bool = False


# Same partitions definition: each scene partition depends on its own brief (identity).
_deps = ["scene_brief"]
# Manim's version and the templates' digest: an upgrade marks every scene stale in the UI.
_code = code_version()

SCENE_SPECS = [
    dg.AssetSpec("scene_source", deps=_deps, code_version=_code, description="Manim source of one scene (.py).", group_name="scenes", kinds={"python"}),
    dg.AssetSpec("scene_video", deps=_deps, code_version=_code, description="One rendered scene (.mp4), probed.", group_name="scenes", kinds={"manim"}),
    dg.AssetSpec("scene_thumbnail", deps=_deps, code_version=_code, description="A representative frame of one scene (.jpg).", group_name="scenes", kinds={"ffmpeg"}),
    dg.AssetSpec("scene_subtitles", deps=_deps, code_version=_code, description="The narration of one scene as subtitles (.srt).", group_name="scenes", kinds={"ffmpeg"}),
]


SCENE_CHECKS = [
    dg.AssetCheckSpec(checks.LAYOUT, asset="scene_video", description="Text inside the frame (with a margin), not overlapping other text, readable at the output size, with enough contrast: inspected after each animation of the render."),
    dg.AssetCheckSpec(checks.DURATION, asset="scene_video", description="The scene lasts at most the request's max_scene_duration."),
    dg.AssetCheckSpec(checks.STREAMS, asset="scene_video", description="Probed streams as asked: H.264 at the requested size and rate, AAC 48 kHz mono audio (so scenes join by stream copy)."),
]


@dg.multi_asset(
    specs=SCENE_SPECS,
    check_specs=SCENE_CHECKS,
    partitions_def=scenes_partitions,
    op_tags={"videogen/kind": "scene"},
    name="scene_assets",
)
def scene_assets(
    context: dg.AssetExecutionContext,
    config: SceneConfig,
    storage: ObjectStoreResource,
    metadata: MetadataStoreResource,
    llm: LLMResource,
    renderer: ManimRendererResource,
):
    """Write, render and store one scene: code, video, thumbnail and subtitles; then join the
    video when this run finds every planned scene rendered (always after an edit)."""
    video_key, number = split_scene_partition_key(context.partition_key)
    with step_logs(context, video_key, number) as log:
        svc = services(storage, metadata, llm, renderer)
        svc.worker = context.run.tags.get(WORKER_TAG)
        edit = EditSpec(
            config.edit_prompt, config.preserve_timing, config.version_increment,
            config.expected_version or None,
        ) if config.edit_prompt else None
        try:
            out = run_scene(
                svc, video_key, number, task_id_of(context), context.run_id, edit=edit, force=config.force
            )
        except Exception as exc:
            request = load_request(svc.meta, video_key)
            kept = stored_scene(svc, request, video_key, number) if edit else None
            if kept is None:
                raise
            # A refused edit leaves the scene at its last good version, and says so there: the
            # partition stays materialised (same data version) while the run fails with the reason.
            store = svc.store_for(request)[0]
            title = scene_title(svc, video_key, number)
            yield from scene_events(store, kept, video_key, title, refused=str(exc))
            raise dg.Failure(f"edit of scene {number} not applied: {exc}") from exc
        log.info("scene reused" if out.reused else "scene rendered", version=out.version,
                 render_seconds=round(out.render_seconds, 3), duration=out.info.duration,
                 attempts=out.attempts, coder=out.coder)
        store = svc.store_for(load_request(svc.meta, video_key))[0]
        events = list(scene_events(store, out, video_key, scene_title(svc, video_key, number)))
        if not config.rejoin or context.run.tags.get(DRIVER_TAG) == "cli":  # the CLI joins by itself
            yield from events
            return
        # The join (which completes the task) runs before the scene's events are logged: writing
        # them to Dagster's event log takes ~0.5 s that the task's client need not wait for. The
        # log's order is unchanged: the scene's materialisations, then the join's, so the chain
        # sensor sees the video as already joined and requests nothing more.
        try:
            if config.edit_prompt:
                joined = run_combine(svc, video_key, task_id_of(context))
            else:
                joined = join_when_complete(svc, video_key, task_id_of(context))
        except BaseException:
            yield from events  # the scene is stored: it is materialised even if its join failed
            raise
        yield from events
        if joined is not None:
            context.log.info(f"joined {video_key} (version {joined.version}) in this run")
            log.info("video joined", version=joined.version, method=joined.method, reused=joined.reused)
            for asset, meta in output_metadata(joined, store).items():
                context.log_event(dg.AssetMaterialization(asset_key=asset, partition=video_key, metadata=meta))

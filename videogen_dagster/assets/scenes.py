"""Per-scene assets: source, rendered video, thumbnail and subtitles, made by one step."""

import dagster as dg

from videogen_dagster.assets.common import services, task_id_of
from videogen_dagster.assets.video import output_metadata
from videogen_dagster.partitions import scene_partitions, video_to_scenes
from videogen_dagster.pipeline import checks
from videogen_dagster.pipeline.edit import EditSpec
from videogen_dagster.pipeline.join import join_when_complete, run_combine
from videogen_dagster.pipeline.scene import run_scene
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.tags import DRIVER_TAG


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


_plan_dep = dg.AssetDep("scene_plan", partition_mapping=video_to_scenes)

SCENE_SPECS = [
    dg.AssetSpec("scene_source", deps=[_plan_dep], description="Manim source of one scene (.py).", group_name="scenes", kinds={"python"}),
    dg.AssetSpec("scene_video", deps=[_plan_dep], description="One rendered scene (.mp4), probed.", group_name="scenes", kinds={"manim"}),
    dg.AssetSpec("scene_thumbnail", deps=[_plan_dep], description="A representative frame of one scene (.jpg).", group_name="scenes", kinds={"ffmpeg"}),
    dg.AssetSpec("scene_subtitles", deps=[_plan_dep], description="The narration of one scene as subtitles (.srt).", group_name="scenes", kinds={"ffmpeg"}),
]


SCENE_CHECKS = [
    dg.AssetCheckSpec(checks.LAYOUT, asset="scene_video", description="Text inside the frame (with a margin), not overlapping other text, readable at the output size, with enough contrast: inspected after each animation of the render."),
    dg.AssetCheckSpec(checks.DURATION, asset="scene_video", description="The scene lasts at most the request's max_scene_duration."),
    dg.AssetCheckSpec(checks.STREAMS, asset="scene_video", description="Probed streams as asked: H.264 at the requested size and rate, AAC 48 kHz mono audio (so scenes join by stream copy)."),
]


@dg.multi_asset(
    specs=SCENE_SPECS,
    check_specs=SCENE_CHECKS,
    partitions_def=scene_partitions,
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
    key = context.partition_key.keys_by_dimension  # type: ignore[attr-defined]
    svc = services(storage, metadata, llm, renderer)
    out = run_scene(
        svc, key["video"], int(key["scene"]), task_id_of(context), context.run_id,
        edit=EditSpec(
            config.edit_prompt, config.preserve_timing, config.version_increment,
            config.expected_version or None,
        ) if config.edit_prompt else None,
    )
    common = {"version": out.version, "scene_number": out.scene_number}
    for kind, asset in (("source", "scene_source"), ("video", "scene_video"), ("thumbnail", "scene_thumbnail"), ("subtitles", "scene_subtitles")):
        obj = out.objects[kind]
        meta = {
            "uri": dg.MetadataValue.url(obj.uri),
            "sha256": obj.sha256,
            "bytes": obj.bytes,
            **common,
        }
        if kind == "video":
            meta.update(
                duration=round(out.info.duration, 3),
                resolution=f"{out.info.width}x{out.info.height}",
                fps=out.info.fps,
                codec=out.info.codec,
                render_seconds=round(out.render_seconds, 3),
                attempts=out.attempts,
                coder=out.coder,
            )
            if out.narration:
                spoken = out.narration
                meta.update(
                    narration_engine=spoken["engine"],
                    narration_voice=spoken["voice"],
                    narration_seconds=spoken["duration"],
                    narration=dg.MetadataValue.md(
                        "\n".join(f"- {line['start']:.2f} s: {line['text']}" for line in spoken["lines"])
                    ),
                )
            else:
                meta["narration_engine"] = "none (silent track)"
            if out.edits:
                meta["edits_applied"] = dg.MetadataValue.json(out.edits)
            if out.errors:
                meta["attempt_errors"] = dg.MetadataValue.json(out.errors)
        yield dg.MaterializeResult(asset_key=asset, metadata=meta)
    for check in out.checks:
        yield dg.AssetCheckResult(
            asset_key="scene_video",
            check_name=check.name,
            passed=check.passed,
            severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
            description=check.description,
            metadata={**check.metadata, "version": out.version},
        )
    if not config.rejoin or context.run.tags.get(DRIVER_TAG) == "cli":  # the CLI joins by itself
        return
    # The scene's materialisations are logged above; the join's come after them, so the chain
    # sensor sees the video as already joined and requests nothing more.
    if config.edit_prompt:
        joined = run_combine(svc, key["video"], task_id_of(context))
    else:
        joined = join_when_complete(svc, key["video"], task_id_of(context))
    if joined is not None:
        context.log.info(f"joined {key['video']} (version {joined.version}) in this run")
        for asset, meta in output_metadata(joined).items():
            context.log_event(dg.AssetMaterialization(asset_key=asset, partition=key["video"], metadata=meta))

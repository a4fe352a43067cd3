"""Per-video outputs: the joined video (with subtitles) and the manifest of every asset."""

import dagster as dg

from videogen_dagster.assets.common import services, step_logs, task_id_of
from videogen_dagster.assets.scene_events import http_url
from videogen_dagster.partitions import no_partition_dependency, videos_partitions
from videogen_dagster.pipeline.join import CombineOutcome, run_combine
from videogen_dagster.pipeline.plan import load_request
from videogen_dagster.resources.llm import LLMResource
from videogen_dagster.resources.metadata import MetadataStoreResource
from videogen_dagster.resources.renderer import ManimRendererResource
from videogen_dagster.resources.storage import ObjectStoreResource
from videogen_dagster.stores.objectstore import ObjectStore

# Lineage scene -> joined video at the asset level (see partitions.py for why no partition one).
_scene_deps = [
    dg.AssetDep("scene_video", partition_mapping=no_partition_dependency),
    dg.AssetDep("scene_subtitles", partition_mapping=no_partition_dependency),
]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("combined_video", deps=_scene_deps, description="All scenes of a video joined, with SRT/WebVTT subtitles.", group_name="video", kinds={"ffmpeg"}),
        dg.AssetSpec("video_manifest", deps=["combined_video"], description="Every asset, version, URL, checksum and timing of a video (JSON).", group_name="video", kinds={"json"}),
    ],
    partitions_def=videos_partitions,
    op_tags={"videogen/kind": "combine"},
    name="video_outputs",
)
def video_outputs(
    context: dg.AssetExecutionContext,
    storage: ObjectStoreResource,
    metadata: MetadataStoreResource,
    llm: LLMResource,
    renderer: ManimRendererResource,
):
    """Join the scenes the plan names (all of them, or fail) and write the manifest."""
    with step_logs(context, context.partition_key) as log:
        svc = services(storage, metadata, llm, renderer)
        out = run_combine(svc, context.partition_key, task_id_of(context))
        log.info("video joined", version=out.version, method=out.method, reused=out.reused)
        store = svc.store_for(load_request(svc.meta, context.partition_key))[0]
        for key, meta in output_metadata(out, store).items():
            sha = meta["sha256"]
            yield dg.MaterializeResult(asset_key=key, metadata=meta, data_version=dg.DataVersion(sha[:16]))


def output_metadata(out: CombineOutcome, store: ObjectStore | None = None) -> dict[str, dict]:
    """The metadata of `combined_video` and `video_manifest` for one join (with `store`, the
    addresses a browser opens)."""
    meta = {
        "combined_video": {
            "uri": dg.MetadataValue.url(out.video.uri),
            "sha256": out.video.sha256,
            "bytes": out.video.bytes,
            "version": out.version,
            # True: its scenes are exactly those it was joined from last time; nothing was joined.
            "reused": out.reused,
            "scenes": dg.MetadataValue.json(
                [{"scene": s["scene_id"], "version": s.get("version"), "title": s.get("title")} for s in out.result["scenes"]]
            ),
            "duration": round(out.info.duration, 3),
            "scene_count": len(out.result["scenes"]),
            "join_method": out.method,
            "subtitles_srt": dg.MetadataValue.url(out.subtitles_srt.uri),
            "subtitles_vtt": dg.MetadataValue.url(out.subtitles_vtt.uri),
        },
        "video_manifest": {
            "uri": dg.MetadataValue.url(out.manifest.uri),
            "sha256": out.manifest.sha256,
            "bytes": out.manifest.bytes,
            "version": out.version,
        },
    }
    for asset, obj in (("combined_video", out.video), ("video_manifest", out.manifest)):
        url = http_url(store, obj.key) if store else None
        if url:
            meta[asset]["url"] = dg.MetadataValue.url(url)
    return meta

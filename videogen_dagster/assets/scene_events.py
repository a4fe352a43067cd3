"""What one scene run tells Dagster: a materialisation per scene asset (with its data version,
readable names and a preview the UI can show) and the scene video's checks."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg

from videogen_dagster.pipeline.scene_job import SceneOutcome
from videogen_dagster.pipeline.services import Services
from videogen_dagster.stores.objectstore import ObjectStore

# Previews in the Dagster UI are signed (or presigned) URLs kept in the event log: they stay
# openable for a week, S3's longest presign; later, the API's result gives fresh ones.
PREVIEW_SECONDS = 7 * 24 * 3600

ASSETS = (
    ("source", "scene_source"),
    ("video", "scene_video"),
    ("thumbnail", "scene_thumbnail"),
    ("subtitles", "scene_subtitles"),
)


def scene_events(
    store: ObjectStore, out: SceneOutcome, video_key: str, title: str,
    refused: str | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The scene's four materialisations and its checks. `refused`: an edit that was not applied
    (the outcome is then the scene's unchanged current version, said so in the metadata)."""
    common: dict = {
        "video": video_key,
        "scene_title": title,
        "version": out.version,
        "scene_number": out.scene_number,
        # True: nothing was written or rendered (the inputs were those of this version).
        "reused": out.reused,
    }
    if refused:
        common["edit_refused"] = dg.MetadataValue.md(f"Not applied; the scene stays at version {out.version}.\n\n{refused}")
    urls = {kind: http_url(store, obj.key) for kind, obj in out.objects.items()}
    for kind, asset in ASSETS:
        obj = out.objects[kind]
        meta = {
            "uri": dg.MetadataValue.url(obj.uri),
            "sha256": obj.sha256,
            "bytes": obj.bytes,
            **common,
        }
        if urls[kind]:
            meta["url"] = dg.MetadataValue.url(urls[kind])
        if urls["thumbnail"] and kind in ("video", "thumbnail"):
            link = f"[![scene {out.scene_number}: {title}]({urls['thumbnail']})]({urls['video'] or urls['thumbnail']})"
            meta["preview"] = dg.MetadataValue.md(link)
        if kind == "video":
            meta.update(_video_metadata(out))
        version = out.data_version if kind == "video" and out.data_version else obj.sha256[:16]
        yield dg.MaterializeResult(asset_key=asset, metadata=meta, data_version=dg.DataVersion(version))
    for check in out.checks:
        yield dg.AssetCheckResult(
            asset_key="scene_video",
            check_name=check.name,
            passed=check.passed,
            severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
            description=check.description,
            metadata={**check.metadata, "version": out.version},
        )


def scene_title(svc: Services, video_key: str, number: int) -> str:
    scene = next((s for s in svc.meta.list_scenes(video_key) if s.scene_number == number), None)
    return scene.title if scene else f"scene {number}"


def http_url(store: ObjectStore, key: str) -> str | None:
    """An address a browser opens (a signed or public URL); None for file:// ones."""
    try:
        url = store.url(key, expires_in=PREVIEW_SECONDS)
    except Exception:  # noqa: BLE001 - a preview is optional; the uri is always there
        return None
    return url if url.startswith(("http://", "https://")) else None


def _video_metadata(out: SceneOutcome) -> dict:
    meta: dict = {
        "duration": round(out.info.duration, 3),
        "resolution": f"{out.info.width}x{out.info.height}",
        "fps": out.info.fps,
        "codec": out.info.codec,
        "render_seconds": round(out.render_seconds, 3),
        "attempts": out.attempts,
        "coder": out.coder,
    }
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
    if out.preview:
        media = out.preview.get("media") or {}
        meta.update(
            preview_key=out.preview["key"],
            preview_resolution=f"{media.get('width')}x{media.get('height')}",
            preview_render_seconds=out.preview.get("render_seconds"),
        )
    if out.edits:
        meta["edits_applied"] = dg.MetadataValue.json(out.edits)
    if out.errors:
        meta["attempt_errors"] = dg.MetadataValue.json(out.errors)
    return meta

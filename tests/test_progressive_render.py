"""Progressive rendering with the real renderer (confined Manim): one short scene at `low`
(1280x720, 30 fps) publishes a playable 854x480 preview before its final version, and the
result lists it."""

import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline import (
    Services,
    build_result,
    join_when_complete,
    register_request,
    run_plan,
    run_scene,
)
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

from .conftest import ffprobe

pytestmark = pytest.mark.slow
VIDEO = "prog.s1"


def _video_stream(path: Path) -> dict:
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


def test_a_progressive_scene_publishes_a_playable_preview_before_its_final(tmp_path):
    svc = Services(
        stores=StoreConfig(local_root=str(tmp_path / "objects")),
        meta=SqliteMetadataStore(tmp_path / "metadata.sqlite"),
        workdir=tmp_path / "work",
    )
    request = GenerateRequest.model_validate({
        "project_id": "prog", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 1,
        "render_config": {"quality": "low", "max_scene_duration": 3, "progressive": True},
    })
    register_request(svc.meta, request, "t1")
    run_plan(svc, VIDEO, "t1")
    started = time.monotonic()
    out = run_scene(svc, VIDEO, 1, "t1", "run-1")
    join_when_complete(svc, VIDEO, "t1")
    took = time.monotonic() - started

    events = svc.meta.task_events("t1")
    types = [e.type for e in events]
    assert types.index("scene.preview") < types.index("scene.rendered"), types
    [preview] = svc.meta.get_task("t1").previews
    store = svc.stores.store_for()
    preview_file = store.root / preview["key"]
    # A playable video at the preview preset, as long as the final (same source, same timing).
    stream = _video_stream(preview_file)
    assert (stream["width"], stream["height"], stream["codec_name"]) == (854, 480, "h264")
    assert stream["r_frame_rate"] == "15/1"
    assert float(ffprobe(preview_file)["format"]["duration"]) == pytest.approx(out.info.duration, abs=0.15)
    final = _video_stream(store.root / out.objects["video"].key)
    assert (final["width"], final["height"], final["r_frame_rate"]) == (1280, 720, "30/1")

    result = build_result(svc.meta, svc.stores, VIDEO, "t1")
    [scene] = result["scenes"]
    assert Path(urlparse(scene["preview_url"]).path) == preview_file
    # When it was ready, against the whole scene (render, store, join): printed for the record.
    published = [e.created_at for e in events if e.type == "scene.preview"][0]
    print(f"preview {preview['render_seconds']:.2f}s render ({preview['seconds']:.2f}s published), "
          f"final {out.render_seconds:.2f}s render, scene + join {took:.2f}s, preview at {published}")

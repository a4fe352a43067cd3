"""Progressive rendering (render_config.progressive): each scene's preview render is stored and
published (task status, `scene.preview` event, result) before its final render; a failed preview
changes nothing else; the option does not make stored scenes stale."""

import json
from pathlib import Path

import pytest

from videogen_dagster.authoring.planning import plan_offline
from videogen_dagster.models import RenderConfig
from videogen_dagster.pipeline import (
    build_result,
    join_when_complete,
    run_plan,
    run_scene,
)
from videogen_dagster.pipeline.preview import preview_config
from videogen_dagster.pipeline.versions import render_version, scene_inputs
from videogen_dagster.removal import video_objects

from .conftest import SESSION, VIDEO, edit_task, render_error, request, start_task


@pytest.fixture
def qualities(renderer):
    """The quality of every render call, in order (the fake renders the same tiny mp4)."""
    seen: list[str] = []
    inner = renderer.__call__

    class Recording(type(renderer)):
        def __call__(self, code, class_name, workdir, render, timeout=300.0):
            seen.append(render.quality)
            return inner(code, class_name, workdir, render, timeout)

    renderer.__class__ = Recording
    return seen


def _events(svc, task_id="t1"):
    return [(e.type, e.data) for e in svc.meta.task_events(task_id)]


def test_preview_config_only_when_asked_and_larger_than_the_preview():
    assert preview_config(RenderConfig(quality="medium")) is None
    assert preview_config(RenderConfig(quality="preview", progressive=True)) is None
    preview = preview_config(RenderConfig(quality="low", progressive=True, max_scene_duration=7))
    assert preview.output_format() == (854, 480, 15)
    assert (preview.max_scene_duration, preview.max_retries, preview.progressive) == (7, 0, False)
    # A preview quality asked at a larger size is larger than the preview: it gets one.
    assert preview_config(RenderConfig(quality="preview", resolution="1080p", progressive=True))


def test_a_progressive_scene_publishes_its_preview_before_the_final_render(svc, qualities):
    start_task(svc, quality="low", progressive=True)
    run_plan(svc, VIDEO, "t1")

    out = run_scene(svc, VIDEO, 1, "t1", "run-1")

    assert qualities == ["preview", "low"]  # the preview first, then the final
    assert out.preview and out.preview["key"].endswith(f"/{SESSION}/scenes/01/v1/preview.mp4")
    assert svc.stores.store_for().get_bytes(out.preview["key"])
    assert out.preview["media"]["width"] == 854 and out.preview["media"]["audio"]
    scene = svc.meta.get_scene(VIDEO, 1)
    assert scene.assets["preview"]["key"] == out.preview["key"]

    types = [t for t, _ in _events(svc)]
    assert types.index("scene.preview") < types.index("scene.rendered")
    [preview] = [d for t, d in _events(svc) if t == "scene.preview"]
    assert preview["objects"] == {"preview": out.preview["key"]}
    assert (preview["scene_number"], preview["version"], preview["width"], preview["height"]) == (1, 1, 854, 480)
    # The task lists it, and said so in its message.
    task = svc.meta.get_task("t1")
    assert [(p["scene_number"], p["key"]) for p in task.previews] == [(1, out.preview["key"])]
    assert any(
        t == "task.progress" and "scene 1 preview published" in d["message"] for t, d in _events(svc)
    )
    # The rendered scene's event names the preview too.
    [rendered] = [d for t, d in _events(svc) if t == "scene.rendered"]
    assert rendered["objects"]["preview"] == out.preview["key"]


def test_the_result_and_the_manifest_list_each_scenes_preview(svc, qualities):
    start_task(svc, quality="low", progressive=True)
    run_plan(svc, VIDEO, "t1")
    outs = [run_scene(svc, VIDEO, n, "t1", f"run-{n}") for n in (1, 2)]
    combined = join_when_complete(svc, VIDEO, "t1")
    assert combined is not None

    result = build_result(svc.meta, svc.stores, VIDEO, "t1")
    for s in result["scenes"]:
        assert Path(s["preview_url"].removeprefix("file://")).name == "preview.mp4"
    assert [p["scene_number"] for p in svc.meta.get_task("t1").previews] == [1, 2]
    manifest = json.loads(svc.stores.store_for().get_bytes(combined.manifest.key))
    assert [s["assets"]["preview"]["key"] for s in manifest["scenes"]] == [o.preview["key"] for o in outs]

    # Removing the video's objects removes its previews (they are under the video's prefix).
    objects = video_objects(svc.stores, VIDEO, svc.meta.get_video(VIDEO))
    objects.delete()
    assert not svc.stores.store_for().exists(outs[0].preview["key"])


def test_without_progressive_nothing_changes(svc, qualities):
    start_task(svc, quality="low")
    run_plan(svc, VIDEO, "t1")
    out = run_scene(svc, VIDEO, 1, "t1", "run-1")
    assert qualities == ["low"] and out.preview is None
    assert "preview" not in svc.meta.get_scene(VIDEO, 1).assets
    assert svc.meta.get_task("t1").previews == []
    assert "preview_url" not in build_result(svc.meta, svc.stores, VIDEO, "t1")["scenes"][0]


def test_a_failed_preview_is_logged_and_the_final_render_goes_on(svc, renderer, qualities):
    start_task(svc, quality="low", progressive=True)
    run_plan(svc, VIDEO, "t1")
    renderer.fail = lambda name, attempt: render_error(name) if attempt == 1 else None

    out = run_scene(svc, VIDEO, 1, "t1", "run-1")

    assert qualities == ["preview", "low"] and out.preview is None
    assert out.attempts == 1 and out.errors[0].startswith("preview: not published")
    assert "scene.preview" not in [t for t, _ in _events(svc)]
    assert svc.meta.get_task("t1").previews == []


def test_an_edit_of_a_progressive_video_previews_the_edit(svc, qualities):
    from videogen_dagster.pipeline import EditSpec

    start_task(svc, quality="low", progressive=True)
    run_plan(svc, VIDEO, "t1")
    run_scene(svc, VIDEO, 1, "t1", "run-1")
    svc.meta.update_task("t1", status="completed", progress=100)
    edit_task(svc)
    qualities.clear()

    out = run_scene(svc, VIDEO, 1, "e1", "run-e", edit=EditSpec("make it blue"))

    assert qualities == ["preview", "low"] and out.version == 2
    assert out.preview["key"].endswith("/scenes/01/v2/preview.mp4")
    [preview] = svc.meta.get_task("e1").previews
    assert preview["version"] == 2
    assert "scene.preview" in [t for t, _ in _events(svc, "e1")]


def test_progressive_does_not_change_what_a_scene_is_made_from():
    plain, progressive = request(quality="low"), request(quality="low", progressive=True)
    scene = plan_offline("p", "s", "Explain the Pythagorean theorem", 1, False).scenes[0]
    assert scene_inputs(plain, scene, None, "c") == scene_inputs(progressive, scene, None, "c")
    assert render_version("abc", plain, None) == render_version("abc", progressive, None)

"""One scene: generate, render, fix, store; a failure keeps the other scenes."""

import pytest

from videogen_dagster.authoring.planning import ScenePlan
from videogen_dagster.media.ffmpeg import parse_srt
from videogen_dagster.pipeline import (
    PipelineError,
    offline_planner,
    run_plan,
    run_scene,
    scenes_to_retry,
)

from .conftest import SESSION, VIDEO, register, render_error, start_task


def test_fresh_render_stores_every_file_and_reports_progress(svc, renderer):
    start_task(svc)
    run_plan(svc, VIDEO, "t1")
    seen = []
    renderer.fail = lambda name, attempt: seen.append(svc.meta.get_task("t1")) or None

    out = run_scene(svc, VIDEO, 1, "t1", "run-1")

    assert (out.scene_number, out.version, out.attempts, out.errors, out.edits) == (1, 1, 1, [], [])
    assert sorted(out.objects) == ["source", "subtitles", "thumbnail", "video"]
    store = svc.stores.store_for()
    for kind, name in (
        ("source", "scene.py"),
        ("video", "scene.mp4"),
        ("thumbnail", "thumbnail.jpg"),
        ("subtitles", "subtitles.srt"),
    ):
        assert out.objects[kind].key.endswith(f"/{SESSION}/scenes/01/v1/{name}")
        assert store.get_bytes(out.objects[kind].key)
    assert store.get_bytes(out.objects["source"].key).decode() == renderer.calls[0][1]
    cues = parse_srt(store.get_bytes(out.objects["subtitles"].key).decode())
    assert cues and cues[-1].end <= 2.0 + 1e-6
    assert abs(out.info.duration - 2.0) < 0.1 and (out.info.width, out.info.height) == (854, 480)

    scene = svc.meta.get_scene(VIDEO, 1)
    assert (scene.status, scene.version) == ("completed", 1)
    assert scene.assets["video"]["media"]["width"] == 854
    [history] = svc.meta.scene_history(VIDEO, 1)
    assert (history.run_id, history.task_id, history.render_seconds) == (
        "run-1",
        "t1",
        0.01,
    )
    # The fake renderer reports no layout inspection (checks 0), so no findings either.
    assert history.extra == {
        "attempts": [], "coder": out.coder, "layout": {"checks": 0, "findings": []},
        "inputs": out.inputs, "data_version": out.data_version,
    }
    assert out.inputs and out.data_version
    # While rendering: the task says which scene started; after: how many are done.
    started = seen[0]
    assert (started.progress, started.current_step) == (20, "render_scene_1")
    assert started.message == "Rendering scenes: 0 of 2 done (scene 1 started)"
    task = svc.meta.get_task("t1")
    assert (task.progress, task.current_step) == (40, "render_scene_1")
    assert task.message == "Rendering scenes: 1 of 2 done (scene 1 finished)"
    assert scenes_to_retry(svc.meta, VIDEO) == [2]


def _latex_planner(request):
    plan = offline_planner(request)
    diagram = ScenePlan(
        scene_number=1,
        title="The picture",
        kind="diagram",
        narration=["A right triangle."],
        visual={"diagram": "triangle", "center": "Triangle", "use_latex": True},
    )
    return plan.model_copy(update={"scenes": [diagram, *plan.scenes[1:]]})


def test_a_failed_attempt_goes_through_the_fix_loop(svc, renderer):
    svc.planner = _latex_planner
    start_task(svc, max_retries=1)
    run_plan(svc, VIDEO, "t1")
    renderer.fail = lambda name, attempt: render_error(name) if attempt == 1 else None

    out = run_scene(svc, VIDEO, 1, "t1", None)

    assert out.attempts == 2 and out.errors == [
        "attempt 1: manim exited with code 1 rendering Scene01"
    ]
    (_, first), (_, second) = renderer.calls
    assert first != second  # the offline fix dropped LaTeX
    store = svc.stores.store_for()
    assert store.get_bytes(out.objects["source"].key).decode() == second
    [history] = svc.meta.scene_history(VIDEO, 1)
    [attempt] = history.extra["attempts"]
    assert attempt["attempt"] == 1
    assert attempt["error"] == "manim exited with code 1 rendering Scene01\nTraceback: boom"
    assert attempt["source"]["key"].endswith("/scenes/01/v1/attempts/attempt1.py")
    assert store.get_bytes(attempt["source"]["key"]).decode() == first
    assert svc.meta.get_task("t1").status == "progress"


def test_a_failed_scene_keeps_the_others(svc, renderer):
    start_task(svc)
    run_plan(svc, VIDEO, "t1")
    renderer.fail = lambda name, attempt: render_error(name) if name == "Scene02" else None
    run_scene(svc, VIDEO, 1, "t1", None)

    with pytest.raises(
        PipelineError, match=r"scene 2 failed after 1 attempt\(s\): manim exited"
    ) as err:
        run_scene(svc, VIDEO, 2, "t1", None)

    assert "Traceback: boom" in str(err.value)
    task = svc.meta.get_task("t1")
    assert (task.status, task.message) == ("failed", "Scene 2 of 2 failed")
    assert task.error == f"scene 2: {err.value}"
    first, second = svc.meta.get_scene(VIDEO, 1), svc.meta.get_scene(VIDEO, 2)
    assert (first.status, first.version) == ("completed", 1)
    assert second.status == "failed" and second.error == str(err.value)
    assert scenes_to_retry(svc.meta, VIDEO) == [2]
    assert renderer.attempts("Scene02") == 1  # max_retries 0: no second attempt


def test_an_unused_slot_is_refused(svc):
    register(svc)
    run_plan(svc, VIDEO, None)
    with pytest.raises(PipelineError, match="has 2 scenes; slot 03 is unused"):
        run_scene(svc, VIDEO, 3, None, None)


def test_a_scene_run_without_a_plan_is_named(svc):
    register(svc)
    with pytest.raises(PipelineError, match="has no plan yet: materialise scene_plan first"):
        run_scene(svc, VIDEO, 1, None, None)

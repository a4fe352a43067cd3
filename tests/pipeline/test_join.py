"""The join: claimed once per set of scene versions, all planned scenes or a named failure."""

import json

import pytest

from videogen_dagster.media.ffmpeg import parse_srt
from videogen_dagster.pipeline import (
    EditSpec,
    PipelineError,
    join_when_complete,
    run_combine,
    run_plan,
    run_scene,
    scenes_by_number,
    scenes_token,
)

from .conftest import SESSION, VIDEO, edit_task, register, start_task


def _render_all(svc, task_id="t1", scenes=(1, 2)):
    run_plan(svc, VIDEO, task_id)
    for n in scenes:
        run_scene(svc, VIDEO, n, task_id, None)


def _record_task_writes(svc) -> list[dict]:
    writes, update = [], svc.meta.update_task
    svc.meta.update_task = lambda task_id, **fields: (
        writes.append(dict(fields)) or update(task_id, **fields)
    )
    return writes


def test_the_join_is_claimed_once_per_set_of_scenes(svc):
    start_task(svc)
    _render_all(svc)
    writes = _record_task_writes(svc)

    out = join_when_complete(svc, VIDEO, "t1")

    assert out is not None and out.version == 1
    assert abs(out.info.duration - 4.0) < 0.1 and out.method in ("stream-copy", "re-encode")
    assert out.video.key.endswith(f"/{SESSION}/video/v1/combined.mp4")
    assert [(w.get("progress"), w.get("current_step"), w.get("message")) for w in writes] == [
        (60, "combine", "Combining scenes..."),
        (80, "manifest", "Writing manifest..."),
        (100, "completed", "Video generation completed"),
    ]
    task = svc.meta.get_task("t1")
    assert task.status == "completed" and task.result["combined_version"] == 1
    assert task.completed_at == task.result["completed_at"]
    # The same set of scenes is joined once; a new version of a scene is a new set.
    assert join_when_complete(svc, VIDEO, "t1") is None
    assert join_when_complete(svc, VIDEO, None) is None
    run_scene(svc, VIDEO, 1, None, None, force=True)  # unchanged inputs: forced
    again = join_when_complete(svc, VIDEO, None)
    assert again is not None and again.version == 2


def test_the_joined_subtitles_and_manifest(svc):
    register(svc)
    _render_all(svc, None)
    out = run_combine(svc, VIDEO, None)
    store = svc.stores.store_for()
    cues = parse_srt(store.get_bytes(out.subtitles_srt.key).decode())
    assert cues[0].start == 0.0 and any(c.start >= 2.0 - 1e-6 for c in cues)
    assert store.get_bytes(out.subtitles_vtt.key).decode().startswith("WEBVTT")
    manifest = json.loads(store.get_bytes(out.manifest.key))
    assert (manifest["manifest_version"], manifest["session_id"], manifest["plan"]["version"]) == (
        1,
        SESSION,
        1,
    )
    assert manifest["render"] == {"quality": "preview", "width": 854, "height": 480, "fps": 15}
    assert [(s["scene_number"], s["version"], s["edit_prompt"]) for s in manifest["scenes"]] == [
        (1, 1, None),
        (2, 1, None),
    ]
    assert manifest["scenes"][0]["attempts"] == [] and manifest["scenes"][0]["coder"]
    assert manifest["combined"]["version"] == 1 and "manifest" not in manifest["combined"]
    assert out.result["s3_combined_video_url"].startswith("file://")
    assert svc.meta.get_video(VIDEO).join_token == scenes_token(
        scenes_by_number(svc.meta, VIDEO), 2
    )


def test_a_missing_scene_is_named(svc):
    start_task(svc)
    _render_all(svc, scenes=(1,))
    assert join_when_complete(svc, VIDEO, "t1") is None
    with pytest.raises(
        PipelineError, match=r"'unit.s1' cannot be joined: scene\(s\) \[2\] of 2 are not rendered"
    ):
        run_combine(svc, VIDEO, "t1")
    assert svc.meta.get_task("t1").status == "progress"


def test_a_failed_or_cancelled_task_does_not_join(svc):
    start_task(svc)
    _render_all(svc)
    svc.meta.update_task("t1", status="cancelled", message="Task cancelled by user")
    assert join_when_complete(svc, VIDEO, "t1") is None
    assert svc.meta.get_video(VIDEO).combined is None


def test_a_failed_join_fails_the_task_and_gives_the_claim_back(svc):
    start_task(svc)
    _render_all(svc)
    store = svc.stores.store_for()
    video = svc.meta.get_scene(VIDEO, 2).assets["video"]["key"]
    kept = store.get_bytes(video)
    store.delete(video)
    with pytest.raises(FileNotFoundError):
        join_when_complete(svc, VIDEO, "t1")
    task = svc.meta.get_task("t1")
    assert (task.status, task.message) == ("failed", "Combining scenes failed")
    assert task.error.startswith("combine: [Errno 2] No such file")
    store.put_bytes(video, kept)
    assert join_when_complete(svc, VIDEO, None) is not None  # the claim was released


def test_an_edit_rejoins_and_names_the_new_version(svc):
    register(svc)
    _render_all(svc, None)
    run_combine(svc, VIDEO, None)
    edit_task(svc, scene_number=2)
    run_scene(svc, VIDEO, 2, "e1", None, edit=EditSpec("make it green"))
    writes = _record_task_writes(svc)

    out = run_combine(svc, VIDEO, "e1")

    assert out.version == 2
    assert [(w.get("progress"), w.get("current_step")) for w in writes] == [
        (50, "combine"),
        (75, "manifest"),
        (100, "completed"),
    ]
    assert writes[0]["message"] == f"Re-joining the video with the edited {SESSION}_scene_2..."
    task = svc.meta.get_task("e1")
    assert task.message == "Edit completed: scene 2 is at version 2; video re-joined (version 2)"
    assert task.total_steps == 4

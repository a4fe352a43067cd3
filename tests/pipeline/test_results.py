"""Task results: a finished task keeps the record of what it made; URLs are made when read."""

import dataclasses

from videogen_dagster.pipeline import (
    build_result,
    join_when_complete,
    register_request,
    run_plan,
    run_scene,
    snapshot_result,
    task_result,
)

from .conftest import VIDEO, request, start_task

SPEC_FIELDS = [
    "project_id",
    "session_id",
    "status",
    "scene_count",
    "scenes",
    "total_duration",
    "s3_combined_video_url",
    "s3_subtitles_url",
    "s3_manifest_url",
    "combined_version",
    "plan_version",
    "llm_usage",
    "warnings",
    "generation_time_seconds",
    "completed_at",
]
SCENE_FIELDS = [
    "scene_id",
    "scene_number",
    "title",
    "duration",
    "status",
    "s3_video_url",
    "s3_source_url",
    "s3_thumbnail_url",
    "s3_subtitles_url",
    "version",
    "error",
    "edit_history",
    "narration",
]


def _generate(svc, task_id):
    # Forced: a second generation of the same request would otherwise reuse everything.
    run_plan(svc, VIDEO, task_id, force=True)
    for n in (1, 2):
        run_scene(svc, VIDEO, n, task_id, None, force=True)
    assert join_when_complete(svc, VIDEO, task_id) is not None


def test_a_finished_tasks_result_is_not_changed_by_a_later_generation(svc):
    start_task(svc, "g1")
    _generate(svc, "g1")
    first = task_result(svc.meta, svc.stores, svc.meta.get_task("g1"))
    assert first["status"] == "completed" and first["combined_version"] == 1
    assert [s["version"] for s in first["scenes"]] == [1, 1]

    register_request(svc.meta, request(), "g2")
    _generate(svc, "g2")

    assert task_result(svc.meta, svc.stores, svc.meta.get_task("g1")) == first
    second = task_result(svc.meta, svc.stores, svc.meta.get_task("g2"))
    assert second["combined_version"] == 2 and second["plan_version"] == 2
    assert [s["version"] for s in second["scenes"]] == [2, 2]
    assert (
        build_result(svc.meta, svc.stores, VIDEO)["s3_combined_video_url"]
        == second["s3_combined_video_url"]
    )
    assert second["s3_combined_video_url"] != first["s3_combined_video_url"]


def test_the_result_keeps_the_specs_field_order(svc):
    start_task(svc, "g1")
    _generate(svc, "g1")
    result = task_result(svc.meta, svc.stores, svc.meta.get_task("g1"))
    assert list(result) == SPEC_FIELDS
    assert list(result["scenes"][0]) == SCENE_FIELDS
    assert result["scenes"][0]["s3_thumbnail_url"].endswith("/scenes/01/v1/thumbnail.jpg")
    assert abs(result["total_duration"] - 4.0) < 0.1
    assert result["generation_time_seconds"] is not None


def test_a_running_task_and_an_old_task_see_the_video_as_it_is(svc):
    start_task(svc, "g1")
    run_plan(svc, VIDEO, "g1")
    run_scene(svc, VIDEO, 1, "g1", None)
    record = snapshot_result(svc.meta, VIDEO, "g1")
    assert record["record_version"] == 1 and record["combined_objects"] == {}
    assert [s["status"] for s in record["scenes"]] == ["completed", "queued"]
    assert record["scenes"][0]["objects"]["video"].endswith("/scenes/01/v1/scene.mp4")
    # A task stored before records existed (no result): the video as it is now.
    legacy = dataclasses.replace(svc.meta.get_task("g1"), result=None)
    assert task_result(svc.meta, svc.stores, legacy) == build_result(
        svc.meta, svc.stores, VIDEO, "g1"
    )

"""The one writer of task progress and failure."""

from videogen_dagster.pipeline.progress import ERROR_LIMIT, advance, cancel, complete, fail

from .conftest import start_task


def test_progress_is_a_share_of_the_steps_and_only_moves_forward(svc):
    start_task(svc)
    advance(
        svc.meta, "t1", 3, 5, "Rendering scenes: 2 of 2 done (scene 2 finished)", "render_scene_2"
    )
    # A scene run that finished earlier but reports later does not move progress back.
    advance(
        svc.meta, "t1", 2, 5, "Rendering scenes: 1 of 2 done (scene 1 finished)", "render_scene_1"
    )
    task = svc.meta.get_task("t1")
    assert (task.progress, task.total_steps, task.current_step) == (
        60,
        5,
        "render_scene_2",
    )
    assert task.message == "Rendering scenes: 2 of 2 done (scene 2 finished)"
    advance(svc.meta, "t1", 9, 5, "over", "x")
    assert svc.meta.get_task("t1").progress == 100
    advance(svc.meta, None, 1, 5, "no task", "x")  # a run started without a task writes nothing


def test_a_failure_names_what_failed_and_is_cut_at_one_length(svc):
    start_task(svc)
    fail(
        svc.meta,
        "t1",
        "scene 2",
        RuntimeError("boom " + "x" * 2 * ERROR_LIMIT),
        "Scene 2 of 2 failed",
    )
    task = svc.meta.get_task("t1")
    assert (task.status, task.message) == ("failed", "Scene 2 of 2 failed")
    assert task.error.startswith("scene 2: boom xx") and len(task.error) == ERROR_LIMIT
    start_task(svc, "t2")
    fail(svc.meta, "t2", None, "run r1 (plan_job, a.b) failed", "A pipeline run failed")
    assert svc.meta.get_task("t2").error == "run r1 (plan_job, a.b) failed"
    fail(svc.meta, None, "plan", RuntimeError("ignored"), "Planning failed")


def test_completion_and_cancellation(svc):
    start_task(svc)
    complete(
        svc.meta,
        "t1",
        5,
        "Video generation completed",
        {"completed_at": "2024-01-01T00:00:00Z", "x": 1},
    )
    task = svc.meta.get_task("t1")
    assert (task.status, task.progress, task.current_step) == (
        "completed",
        100,
        "completed",
    )
    assert task.result == {"completed_at": "2024-01-01T00:00:00Z", "x": 1}
    assert task.completed_at == "2024-01-01T00:00:00Z"
    start_task(svc, "t2")
    cancel(svc.meta, "t2", "Task cancelled")
    assert (svc.meta.get_task("t2").status, svc.meta.get_task("t2").message) == (
        "cancelled",
        "Task cancelled",
    )

"""The plan step: the plan is stored under a new version, every scene is queued, progress moves."""

import json

import pytest

from videogen_dagster.pipeline import PipelineError, load_plan, run_plan, total_steps

from .conftest import SESSION, VIDEO, start_task


def test_run_plan_stores_the_plan_and_queues_every_scene(svc):
    start_task(svc, scene_count=3)
    out = run_plan(svc, VIDEO, "t1")

    assert (out.version, out.plan.scene_count) == (1, 3)
    assert out.obj.key.endswith(f"/{SESSION}/plan/v1/plan.json")
    stored = json.loads(svc.stores.store_for().get_bytes(out.obj.key))
    assert stored == out.plan.model_dump(mode="json")
    assert load_plan(svc.meta, VIDEO) == out.plan
    scenes = svc.meta.list_scenes(VIDEO)
    assert [(s.scene_number, s.scene_id, s.status) for s in scenes] == [
        (1, f"{SESSION}_scene_1", "queued"),
        (2, f"{SESSION}_scene_2", "queued"),
        (3, f"{SESSION}_scene_3", "queued"),
    ]
    task = svc.meta.get_task("t1")
    assert task.status == "progress" and task.started_at
    assert (task.progress, task.total_steps) == (100 * 1 // total_steps(3), 6)
    assert (task.message, task.current_step) == ("Planned 3 scenes; rendering...", "planned")


def test_a_second_plan_is_a_new_version(svc):
    start_task(svc)
    run_plan(svc, VIDEO, None)
    # The same request by the same planner reuses the plan, unless forced.
    assert run_plan(svc, VIDEO, None).version == 1
    assert run_plan(svc, VIDEO, None, force=True).version == 2


def test_a_failing_planner_fails_the_task(svc):
    def broken(request):
        raise RuntimeError("planner down " + "x" * 5000)

    svc.planner = broken
    start_task(svc)
    with pytest.raises(RuntimeError, match="planner down"):
        run_plan(svc, VIDEO, "t1")
    task = svc.meta.get_task("t1")
    assert (task.status, task.message) == ("failed", "Planning failed")
    assert task.error.startswith("plan: planner down") and len(task.error) == 4000
    assert svc.meta.list_scenes(VIDEO) == []


def test_an_unregistered_video_is_named(svc):
    with pytest.raises(PipelineError, match="video 'unit.s1' is not registered"):
        run_plan(svc, VIDEO, None)

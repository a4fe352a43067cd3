"""Nothing made twice: unchanged inputs reuse the stored plan, scene and join; a changed source,
quality or voice makes them again."""

from videogen_dagster.media.speech.voices import Voice
from videogen_dagster.pipeline import (
    EditSpec,
    join_when_complete,
    register_request,
    run_combine,
    run_plan,
    run_scene,
)
from videogen_dagster.pipeline.versions import code_version, render_version, scene_inputs

from .conftest import VIDEO, edit_task, request, start_task


def _generate(svc, task_id: str, **kw):
    """One generation as the chain runs it: plan, every scene, the join."""
    req = request(**kw)
    register_request(svc.meta, req, task_id)
    plan = run_plan(svc, VIDEO, task_id)
    scenes = [run_scene(svc, VIDEO, n, task_id, f"run-{task_id}-{n}") for n in (1, 2)]
    joined = run_combine(svc, VIDEO, task_id)
    return plan, scenes, joined


def test_a_second_generation_with_unchanged_inputs_makes_nothing(svc, renderer):
    plan1, scenes1, joined1 = _generate(svc, "t1")
    assert not plan1.reused and not any(s.reused for s in scenes1) and not joined1.reused
    calls = len(renderer.calls)

    plan2, scenes2, joined2 = _generate(svc, "t2")

    assert len(renderer.calls) == calls  # nothing rendered
    assert plan2.reused and plan2.version == plan1.version and plan2.briefs == plan1.briefs
    assert all(s.reused for s in scenes2)
    assert [s.version for s in scenes2] == [1, 1]
    assert [s.data_version for s in scenes2] == [s.data_version for s in scenes1]
    assert joined2.reused and joined2.version == joined1.version == 1
    assert [h.version for h in svc.meta.scene_history(VIDEO, 1)] == [1]
    task = svc.meta.get_task("t2")
    assert task.status == "completed" and "nothing changed" in task.message
    assert task.result["combined_version"] == 1
    # The plan step's brief of each scene is the inputs hash its stored version was made from.
    assert [s.inputs for s in scenes2] == [plan2.briefs[1], plan2.briefs[2]]


def test_a_changed_quality_renders_again_with_the_same_plan(svc, renderer):
    _generate(svc, "t1")
    calls = len(renderer.calls)

    plan2, scenes2, joined2 = _generate(svc, "t2", quality="low")

    assert plan2.reused  # the quality does not change what is planned
    assert len(renderer.calls) == calls + 2
    assert [s.version for s in scenes2] == [2, 2] and not any(s.reused for s in scenes2)
    assert not joined2.reused and joined2.version == 2


def test_a_changed_prompt_plans_again(svc, renderer):
    _generate(svc, "t1")
    req = request().model_copy(update={"content_prompt": "Explain Bayes' theorem"})
    register_request(svc.meta, req, "t2")
    plan2 = run_plan(svc, VIDEO, "t2")
    assert not plan2.reused and plan2.version == 2


def test_force_renders_again(svc, renderer):
    _generate(svc, "t1")
    calls = len(renderer.calls)
    start_task(svc, "t2")
    plan = run_plan(svc, VIDEO, "t2", force=True)
    out = run_scene(svc, VIDEO, 1, "t2", "r", force=True)
    assert not plan.reused and plan.version == 2
    assert not out.reused and out.version == 2 and len(renderer.calls) == calls + 1


def test_an_edit_always_renders_and_its_version_is_then_current(svc, renderer):
    _generate(svc, "t1")
    edit_task(svc, "e1", 1)
    edited = run_scene(svc, VIDEO, 1, "e1", "r", edit=EditSpec("make the triangle blue and slower"))
    assert not edited.reused and edited.version == 2
    joined = run_combine(svc, VIDEO, "e1")
    assert joined.version == 2 and not joined.reused
    calls = len(renderer.calls)

    # Generating the same request again keeps the edited scene (its storyboard is the plan now).
    _, scenes, joined = _generate(svc, "t3")
    assert len(renderer.calls) == calls
    assert [s.version for s in scenes] == [2, 1] and joined.reused and joined.version == 2


def test_a_missing_object_is_made_again(svc, renderer):
    _, scenes1, _ = _generate(svc, "t1")
    svc.stores.store_for().delete(scenes1[0].objects["thumbnail"].key)
    calls = len(renderer.calls)
    _, scenes2, joined2 = _generate(svc, "t2")
    assert len(renderer.calls) == calls + 1
    assert [s.reused for s in scenes2] == [False, True] and not joined2.reused


def test_the_chain_join_completes_an_unchanged_generation(svc, renderer):
    """Scene runs that find every scene unchanged complete the task without a new join."""
    _generate(svc, "t1")
    start_task(svc, "t2")
    run_plan(svc, VIDEO, "t2")
    for n in (1, 2):
        run_scene(svc, VIDEO, n, "t2", "r")
    assert join_when_complete(svc, VIDEO, "t2") is None
    task = svc.meta.get_task("t2")
    assert task.status == "completed" and task.result["combined_version"] == 1


def test_inputs_hashes_follow_what_a_scene_is_made_from():
    req = request()
    plan_scene = __import__("videogen_dagster.pipeline", fromlist=["offline_planner"]).offline_planner(req).scene(1)
    piper = Voice("piper", "joe", 1.0, None)
    base = scene_inputs(req, plan_scene, piper, "offline:x")
    assert base == scene_inputs(req, plan_scene, Voice("piper", "joe", 1.0, None), "offline:x")
    assert base != scene_inputs(req, plan_scene, Voice("piper", "joe", 1.2, None), "offline:x")
    assert base != scene_inputs(req, plan_scene, None, "offline:x")
    assert base != scene_inputs(req, plan_scene, piper, "llm:gpt-4o")
    assert base != scene_inputs(request(quality="high"), plan_scene, piper, "offline:x")
    changed = plan_scene.model_copy(update={"title": "Another title"})
    assert base != scene_inputs(req, changed, piper, "offline:x")
    assert render_version("a" * 64, req, piper) != render_version("b" * 64, req, piper)
    assert code_version().startswith("manim-")


def test_the_plan_step_finishes_a_generation_where_nothing_changed(svc, renderer):
    from videogen_dagster.pipeline.reuse import finish_if_unchanged

    _generate(svc, "t1")
    start_task(svc, "t2")
    plan = run_plan(svc, VIDEO, "t2")
    assert finish_if_unchanged(svc, VIDEO, "t2", plan.briefs)
    task = svc.meta.get_task("t2")
    assert task.status == "completed" and task.result["combined_version"] == 1
    assert [s.status for s in svc.meta.list_scenes(VIDEO)] == ["completed", "completed"]

    # One scene's voice (or anything in its brief) changed: the scene runs decide.
    start_task(svc, "t3", quality="low")
    plan = run_plan(svc, VIDEO, "t3")
    assert plan.reused and not finish_if_unchanged(svc, VIDEO, "t3", plan.briefs)
    assert svc.meta.get_task("t3").status != "completed"

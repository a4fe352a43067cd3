from videogen_dagster.authoring.planning import plan_offline


def test_plan_shape_for_each_count():
    for n in range(1, 13):
        plan = plan_offline("p", "s", "Explain the Pythagorean theorem", n, latex_available=True)
        assert [s.scene_number for s in plan.scenes] == list(range(1, n + 1))
        assert all(s.narration for s in plan.scenes)
        if n >= 3:
            assert plan.scenes[0].kind == "title" and plan.scenes[-1].kind == "summary"
    kinds = {s.kind for s in plan_offline("p", "s", "Explain the Pythagorean theorem", 6, True).scenes}
    assert {"title", "points", "equation", "diagram", "plot", "summary"} <= kinds


def test_plan_is_deterministic_and_honest():
    a = plan_offline("p", "s", "Explain the Pythagorean theorem", 4, True)
    b = plan_offline("p", "s", "Explain the Pythagorean theorem", 4, True)
    assert a == b
    assert a.planner == "offline-template-planner"
    assert a.source and "TheoremExplainBench" in a.source


def test_unknown_topic_still_plans():
    plan = plan_offline("p", "s", "Explain how sourdough bread rises", 3, False)
    assert plan.topic.startswith("How sourdough bread rises")
    assert plan.source is None


def test_no_latex_means_plain_text_formula():
    plan = plan_offline("p", "s", "Explain the Pythagorean theorem", 5, latex_available=False)
    eq = next(s for s in plan.scenes if s.kind == "equation")
    assert eq.visual["use_latex"] is False


def test_offline_editor():
    import pytest

    from videogen_dagster.pipeline import PipelineError, offline_edit

    plan = plan_offline("p", "s", "Explain the Pythagorean theorem", 3, True)
    points = plan.scenes[1]
    edited, applied = offline_edit(points, 'make it red and faster, title: "Two facts", add a point: squares add up')
    assert edited.visual["accent"] == "#ef4444" and edited.visual["speed"] == 1.6
    assert edited.title == "Two facts" and edited.narration[-1] == "squares add up."
    assert len(edited.visual["points"]) == len(points.visual["points"]) + 1
    assert applied == ["accent colour red", "faster animations", "title 'Two facts'", "added point 'squares add up'"]
    removed, _ = offline_edit(edited, "remove point 1")
    assert len(removed.visual["points"]) == len(points.visual["points"])
    with pytest.raises(PipelineError, match="cannot apply 'add a dancing cat'.*'remove point N'"):
        offline_edit(points, "add a dancing cat")
    # A figure or a graph has no points (a title or formula scene may carry some).
    diagram = next(s for s in plan_offline("p", "s", "Explain the Pythagorean theorem", 5, True).scenes
                   if s.kind == "diagram")
    with pytest.raises(PipelineError, match="has no points"):
        offline_edit(diagram, "add a point: x")

"""Editing one scene through the scene step: the offline editor, in place or as a new version,
and the checks that leave the scene as it was."""

import pytest

from videogen_dagster.pipeline import (
    EDIT_COLOURS,
    EditSpec,
    PipelineError,
    load_plan,
    run_plan,
    run_scene,
)

from .conftest import SESSION, VIDEO, edit_task, register, render_error


@pytest.fixture
def rendered(svc):
    """A two-scene video with scene 1 rendered at version 1 (no task)."""
    register(svc)
    run_plan(svc, VIDEO, None)
    run_scene(svc, VIDEO, 1, None, None)
    return svc.meta.get_scene(VIDEO, 1)


def test_an_offline_edit_is_a_new_version(svc, renderer, rendered):
    edit_task(svc)
    seen = []
    renderer.fail = lambda name, attempt: seen.append(svc.meta.get_task("e1")) or None

    out = run_scene(svc, VIDEO, 1, "e1", "run-e", edit=EditSpec("make it blue and slower"))

    assert (out.version, out.edits) == (2, ["accent colour blue", "slower animations"])
    assert out.objects["video"].key.endswith(f"/{SESSION}/scenes/01/v2/scene.mp4")
    scene = svc.meta.get_scene(VIDEO, 1)
    assert (scene.status, scene.version) == ("completed", 2)
    # Later re-renders keep the edit: the scene's plan is the edited one.
    assert load_plan(svc.meta, VIDEO).scene(1).visual["accent"] == EDIT_COLOURS["blue"]
    assert "accent" not in load_plan(svc.meta, VIDEO).scene(2).visual
    [edit] = svc.meta.edit_history(VIDEO, 1)
    assert (edit.from_version, edit.to_version, edit.model, edit.task_id) == (
        1,
        2,
        "offline-editor",
        "e1",
    )
    assert edit.applied == out.edits and edit.edit_prompt == "make it blue and slower"
    assert svc.meta.scene_history(VIDEO, 1)[1].edit_prompt == "make it blue and slower"
    assert (seen[0].progress, seen[0].current_step) == (25, "render_edit")
    assert seen[0].message == "Editing scene 1 (version 1): rendering..."
    task = svc.meta.get_task("e1")
    assert (task.progress, task.current_step, task.message) == (
        50,
        "edited",
        "Scene 1 edited: version 2",
    )


def test_an_in_place_edit_keeps_the_version_and_the_earlier_files(svc, rendered):
    store = svc.stores.store_for()
    old = {k: store.get_bytes(a["key"]) for k, a in rendered.assets.items()}
    edit_task(svc)

    out = run_scene(
        svc, VIDEO, 1, "e1", None, edit=EditSpec("title: Right triangles", version_increment=False)
    )

    assert out.version == 1 and out.edits == ["title 'Right triangles'"]
    assert out.objects["video"].key.endswith(f"/{SESSION}/scenes/01/v1/r1/scene.mp4")
    scene = svc.meta.get_scene(VIDEO, 1)
    assert (scene.version, scene.title) == (1, "Right triangles")
    assert scene.assets["source"]["key"].endswith("/v1/r1/scene.py")
    # Every file of the version as it was is still there, unchanged.
    assert {k: store.get_bytes(a["key"]) for k, a in rendered.assets.items()} == old
    [history] = svc.meta.scene_history(VIDEO, 1)
    assert history.assets == scene.assets
    [edit] = svc.meta.edit_history(VIDEO, 1)
    assert (edit.from_version, edit.to_version) == (1, 1)


def test_a_conflicting_expected_version_changes_nothing(svc, renderer, rendered):
    edit_task(svc)
    calls = len(renderer.calls)
    with pytest.raises(PipelineError) as err:
        run_scene(svc, VIDEO, 1, "e1", None, edit=EditSpec("make it blue", expected_version=3))
    assert str(err.value) == (
        "conflict: scene 1 is at version 1, the edit was made against version 3; nothing was changed"
    )
    task = svc.meta.get_task("e1")
    assert (task.status, task.error, task.message) == (
        "failed",
        str(err.value),
        "Edit not applied",
    )
    assert len(renderer.calls) == calls
    assert svc.meta.get_scene(VIDEO, 1) == rendered
    assert svc.meta.edit_history(VIDEO, 1) == []


def test_an_edit_the_offline_editor_cannot_apply_is_refused(svc, rendered):
    edit_task(svc)
    with pytest.raises(PipelineError, match="the offline editor cannot apply 'make it sparkle'"):
        run_scene(svc, VIDEO, 1, "e1", None, edit=EditSpec("make it sparkle"))
    assert svc.meta.get_task("e1").message == "Edit not applied"
    assert svc.meta.get_scene(VIDEO, 1) == rendered


def test_an_edit_of_an_unrendered_scene_is_refused(svc, rendered):
    edit_task(svc, scene_number=2)
    with pytest.raises(PipelineError, match="scene 2 of unit.s1 has no rendered version to edit"):
        run_scene(svc, VIDEO, 2, "e1", None, edit=EditSpec("make it blue"))
    assert svc.meta.get_task("e1").status == "failed"


def test_a_failed_edit_render_leaves_the_scene_as_it_was(svc, renderer, rendered):
    edit_task(svc)
    renderer.fail = lambda name, attempt: render_error(name)
    with pytest.raises(PipelineError, match="scene 1 failed after 1 attempt"):
        run_scene(svc, VIDEO, 1, "e1", None, edit=EditSpec("make it red"))
    after = svc.meta.get_scene(VIDEO, 1)
    assert (after.status, after.version, after.assets) == (
        "completed",
        1,
        rendered.assets,
    )
    task = svc.meta.get_task("e1")
    assert task.status == "failed" and task.error.startswith(
        "edit of scene 1: scene 1 failed after 1 attempt"
    )
    assert task.message == "Edit of scene 1 failed after 1 attempt(s)"
    assert svc.meta.edit_history(VIDEO, 1) == []
    assert "accent" not in load_plan(svc.meta, VIDEO).scene(1).visual

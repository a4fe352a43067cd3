"""Offline edits that understand the spec's own example (issue 16): the common intents of an edit
prompt change the scene's storyboard, the templates draw them, and an edit the offline editor
cannot apply is refused at submission."""

import ast

import pytest
from fastapi.testclient import TestClient

from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from tests.api_bridge.test_routes import BASE, RecordingDagster
from tests.pipeline import conftest as pipeline_setup
from tests.pipeline.conftest import VIDEO, edit_task, register
from videogen_dagster.authoring.codegen import generate_scene_code, template_visual
from videogen_dagster.authoring.planning import plan_offline
from videogen_dagster.media.sandbox import check_code
from videogen_dagster.pipeline import (
    EditSpec,
    PipelineError,
    load_plan,
    run_plan,
    run_scene,
)
from videogen_dagster.pipeline.edit import (
    BIGGER_TEXT,
    EDIT_COLOURS,
    VIVID_PALETTE,
    EditNotUnderstood,
    offline_edit,
)
from videogen_dagster.settings import Settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

# tests/pipeline/'s fixtures: two seconds of black (made once per session), a renderer double,
# and the pipeline with real stores in tmp_path.
tiny_mp4, renderer, svc = pipeline_setup.tiny_mp4, pipeline_setup.renderer, pipeline_setup.svc


SPEC_EXAMPLE = "Add more colorful animations and emphasize key points"
PYTHAGORAS = "Explain the Pythagorean theorem"


def _scenes(n: int = 6):
    return plan_offline("p", "s", PYTHAGORAS, n, latex_available=True).scenes


@pytest.mark.parametrize("kind", ["title", "points", "equation", "diagram", "plot", "summary"])
def test_the_specs_example_applies_to_every_kind_of_scene(kind):
    scene = next(s for s in _scenes() if s.kind == kind)
    edited, applied = offline_edit(scene, SPEC_EXAMPLE)
    assert applied == ["colour palette (vivid)", "emphasis on each key point"]
    assert edited.visual["palette"] == VIVID_PALETTE and edited.visual["emphasis"] is True
    # Nothing else changed: the same words, so the same spoken lines and the same timing.
    assert (edited.title, edited.narration) == (scene.title, scene.narration)
    before, after = generate_scene_code(scene, 60), generate_scene_code(edited, 60)
    assert after.beats == before.beats and after.expected_duration == before.expected_duration
    assert f"PALETTE = {VIVID_PALETTE!r}" in after.code and "EMPHASIS = True" in after.code
    assert "EMPHASIS = False" in before.code
    ast.parse(after.code)
    assert check_code(after.code) == []


@pytest.mark.parametrize(
    ("prompt", "applied", "visual"),
    [
        (
            "make it blue and slower",
            ["accent colour blue", "slower animations"],
            {"accent": EDIT_COLOURS["blue"], "speed": 0.6},
        ),
        ("bigger text please", ["bigger text"], {"text_scale": BIGGER_TEXT}),
        ("make the font smaller", ["smaller text"], {"text_scale": 0.8}),
        ("use a white background", ["background white"], {"background": EDIT_COLOURS["white"]}),
        ("switch to a light theme", ["light background"], {"background": "#f1f5f9"}),
        (
            "highlight the key points in red",
            ["emphasis on each key point in red"],
            {"emphasis": True, "highlight": EDIT_COLOURS["red"]},
        ),
        (
            "use red, green and blue",
            ["colour palette (red and green and blue)", "accent colour red"],
            {
                "palette": [EDIT_COLOURS[c] for c in ("red", "green", "blue")],
                "accent": EDIT_COLOURS["red"],
            },
        ),
        (
            "pastel colours, and make it faster",
            ["colour palette (pastel)", "faster animations"],
            {"speed": 1.6},
        ),
        (
            "a navy background and yellow accents",
            ["background navy", "accent colour yellow"],
            {"background": EDIT_COLOURS["navy"], "accent": EDIT_COLOURS["yellow"]},
        ),
        ("no emphasis", ["no emphasis"], {"emphasis": False}),
    ],
)
def test_each_intent_changes_the_storyboard(prompt, applied, visual):
    scene = next(s for s in _scenes() if s.kind == "points")
    edited, said = offline_edit(scene, prompt)
    assert said == applied
    assert {k: edited.visual[k] for k in visual} == visual
    ast.parse(generate_scene_code(edited, 60).code)


def test_the_templates_read_the_look():
    scene = next(s for s in _scenes() if s.kind == "summary")
    edited, _ = offline_edit(scene, "white background, bigger text, highlight the points in red")
    _, visual = template_visual(edited)
    # Dark text and a darker warm colour on a light background; the text scale and highlight.
    assert (visual["background"], visual["foreground"]) == (EDIT_COLOURS["white"], "#0f172a")
    assert visual["text_scale"] == BIGGER_TEXT and visual["highlight"] == EDIT_COLOURS["red"]
    code = generate_scene_code(edited, 60).code
    assert "BG = '#f8fafc'" in code and "FG = '#0f172a'" in code and "TEXT_SCALE = 1.25" in code
    # Text sizes only grow so far: the templates still fit the frame.
    for _ in range(5):
        edited, _ = offline_edit(edited, "bigger text")
    assert template_visual(edited)[1]["text_scale"] == 1.6


def test_points_of_a_formula_scene_can_be_added_and_removed():
    equation = next(s for s in _scenes(3) if s.kind == "equation")
    added, applied = offline_edit(equation, "add a point: the legs meet at a right angle")
    assert applied == ["added point 'the legs meet at a right angle'"]
    assert added.visual["points"][-1] == "the legs meet at a right angle"
    assert added.narration[-1] == "the legs meet at a right angle."
    removed, _ = offline_edit(added, "remove point 1")
    # The formula's own line stays; the first point and its line go.
    assert removed.narration == [equation.narration[0], "the legs meet at a right angle."]
    assert removed.visual["points"] == ["the legs meet at a right angle"]


def test_an_edit_it_cannot_apply_is_refused_saying_what_it_understands():
    scene = _scenes(3)[0]
    with pytest.raises(EditNotUnderstood) as err:
        offline_edit(scene, "add a dancing cat")
    message = str(err.value)
    for intent in (
        "more colorful",
        "emphasize",
        "slower",
        "bigger text",
        "white background",
        "title: ...",
        "add a point: ...",
        "remove point N",
        "OPENAI_API_KEY",
    ):
        assert intent in message
    diagram = next(s for s in _scenes() if s.kind == "diagram")
    with pytest.raises(PipelineError, match="has no points"):
        offline_edit(diagram, "add a point: x")


def test_the_specs_example_edit_runs_through_the_scene_step(svc):
    register(svc)
    run_plan(svc, VIDEO, None)
    run_scene(svc, VIDEO, 1, None, None)
    edit_task(svc)
    out = run_scene(svc, VIDEO, 1, "e1", "run-e", edit=EditSpec(SPEC_EXAMPLE))
    assert out.version == 2 and out.edits == [
        "colour palette (vivid)",
        "emphasis on each key point",
    ]
    source = svc.stores.store_for().get_bytes(out.objects["source"].key).decode()
    assert "EMPHASIS = True" in source and "PALETTE = ['#38bdf8'" in source
    assert load_plan(svc.meta, VIDEO).scene(1).visual["emphasis"] is True


# --- refused at submission ------------------------------------------------------------------------


@pytest.fixture
def bridge(tmp_path):
    """The bridge with Dagster recorded, and a two-scene video whose scene 1 is rendered."""
    app = create_app()
    meta = SqliteMetadataStore(tmp_path / "metadata.sqlite")
    store = StoreConfig(local_root=str(tmp_path / "objects"))
    dagster = RecordingDagster()
    state = {"settings": Settings.from_env({})}
    app.dependency_overrides.update(
        {
            provide_meta: lambda: meta,
            provide_store: lambda: store,
            provide_dagster: lambda: dagster,
            provide_settings: lambda: state["settings"],
        }
    )
    plan = plan_offline("p1", "s1", PYTHAGORAS, 2, latex_available=False)
    meta.register_video(
        "p1.s1", "p1", "s1", {"project_id": "p1", "content_prompt": PYTHAGORAS, "scene_count": 2}
    )
    meta.save_plan("p1.s1", plan.model_dump(mode="json"), 1, {})
    meta.record_scene_version("p1.s1", 1, "s1_scene_1", "T", 1, {}, 3.0, 1.0, "preview", None, None)
    return TestClient(app), meta, dagster, state


def _edit(client, prompt: str):
    return client.post(
        f"{BASE}/edit-scene",
        json={"scene_id": "s1_scene_1", "project_id": "p1", "edit_prompt": prompt},
    )


def test_an_edit_it_cannot_apply_is_a_400_at_submission(bridge):
    client, meta, dagster, _ = bridge
    r = _edit(client, "add a dancing cat")
    assert r.status_code == 400
    body = r.json()
    assert body["error_code"] == "VALIDATION_ERROR" and set(body) == {
        "detail",
        "error_code",
        "timestamp",
    }
    assert body["detail"].startswith(
        "edit_prompt: the offline editor cannot apply 'add a dancing cat'"
    )
    assert "more colorful" in body["detail"] and "remove point N" in body["detail"]
    # Nothing was queued: no task, no run.
    assert dagster.launches == [] and meta.active_tasks("p1.s1") == []


def test_the_specs_example_is_accepted_and_any_edit_with_an_llm(bridge):
    client, _, dagster, state = bridge
    r = _edit(client, SPEC_EXAMPLE)
    assert r.status_code == 202
    assert dagster.launches[-1][2]["ops"]["scene_assets"]["config"]["edit_prompt"] == SPEC_EXAMPLE
    _, meta, _, _ = bridge
    meta.update_task(r.json()["task_id"], status="completed")
    # With an LLM the scene model reads any prompt: the bridge does not judge it.
    state["settings"] = Settings.from_env({"OPENAI_API_KEY": "sk-test"})
    assert _edit(client, "add a dancing cat").status_code == 202


@pytest.mark.slow
def test_an_emphasised_colourful_scene_renders_as_long_as_before(tmp_path):
    """The spec's example, rendered: the emphasis plays inside each beat's pause, so the edited
    scene lasts as long as the original (preserve_timing holds) and its subtitles stay in step."""
    from videogen_dagster.media.rendering import render_scene
    from videogen_dagster.models import RenderConfig

    scene = next(s for s in _scenes(3) if s.kind == "equation")
    edited, _ = offline_edit(scene, SPEC_EXAMPLE + ", bigger text, white background")
    durations = []
    for name, plan in (("before", scene), ("after", edited)):
        gen = generate_scene_code(plan, 30)
        out = render_scene(
            gen.code, gen.class_name, tmp_path / name, RenderConfig(quality="preview"), timeout=300
        )
        assert abs(out.info.duration - gen.expected_duration) <= 0.2
        durations.append(out.info.duration)
    assert abs(durations[0] - durations[1]) <= 0.1

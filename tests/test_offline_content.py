"""Honest offline content (issue 16): the visual that fits the topic at every scene count, whole
sentences on screen, and warnings when the offline planner knows nothing or a model is ignored."""

import json
import subprocess

import pytest
from fastapi.testclient import TestClient

from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from tests.api_bridge.test_routes import BASE, RecordingDagster
from tests.pipeline import conftest as pipeline_setup
from videogen_dagster.authoring.codegen import generate_scene_code, template_visual
from videogen_dagster.authoring.planning import plan_offline, theorem_library
from videogen_dagster.authoring.topics import find_equation
from videogen_dagster.media.rendering import render_scene
from videogen_dagster.media.sandbox import check_code
from videogen_dagster.models import GenerateRequest, RenderConfig
from videogen_dagster.pipeline import join_when_complete, run_plan, run_scene, task_result
from videogen_dagster.pipeline.plan import LLM_REQUIRED, register_request
from videogen_dagster.settings import Settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

# tests/pipeline/'s fixtures: two seconds of black (made once per session), a renderer double,
# and the pipeline with real stores in tmp_path.
tiny_mp4, renderer, svc = pipeline_setup.tiny_mp4, pipeline_setup.renderer, pipeline_setup.svc


PYTHAGORAS = "Explain the Pythagorean theorem"
# Bundled topics with a formula: (prompt, the formula as the plain text shows it).
FORMULAS = [
    (PYTHAGORAS, "a² + b² = c²"),
    ("Explain the ideal gas law", "PV = nRT"),
    ("Explain Ohm's law", "V = IR"),
    ("Explain the law of sines", "a/sin(A) = b/sin(B) = c/sin(C)"),
    ("Explain Newton's second law of motion", "F_net = ma"),
    ("Explain the law of universal gravitation", "F = G(m₁m₂)/r²"),
    ("Explain Euler's formula", "e^(ix) = cos(x) + i*sin(x)"),
]
UNKNOWN = ["Explain binary search", "photosynthesis", "Explain how sourdough bread rises"]


def _sources(prompt: str, scene_count: int, latex: bool = True) -> list[str]:
    plan = plan_offline("p", "s", prompt, scene_count, latex_available=latex)
    return [generate_scene_code(s, max_scene_duration=60).code for s in plan.scenes]


@pytest.mark.parametrize("scene_count", [1, 2, 3])
def test_a_short_pythagorean_video_has_the_formula_and_the_triangle(scene_count):
    code = "\n".join(_sources(PYTHAGORAS, scene_count))
    assert "MathTex('a^2 + b^2 = c^2'" in code
    assert "figure('triangle')" in code
    assert all(check_code(c) == [] for c in _sources(PYTHAGORAS, scene_count))
    # Without LaTeX the formula is written as text, and the triangle is still drawn.
    plain = "\n".join(_sources(PYTHAGORAS, scene_count, latex=False))
    assert "Text('a² + b² = c²'" in plain and "figure('triangle')" in plain


@pytest.mark.parametrize(("prompt", "formula"), FORMULAS)
def test_a_three_scene_video_of_a_topic_with_a_formula_shows_it(prompt, formula):
    plan = plan_offline("p", "s", prompt, 3, latex_available=True)
    [equation] = [s for s in plan.scenes if s.kind == "equation"]
    assert (
        equation.visual["plain"] == formula and equation.narration[0] == f"In symbols, {formula}."
    )
    # The facts that state it are shown under it.
    assert equation.visual["points"]
    assert "MathTex(" in generate_scene_code(equation, 60).code
    assert plan.warnings == []


def test_larger_videos_give_the_figure_its_own_scene():
    kinds = [s.kind for s in plan_offline("p", "s", PYTHAGORAS, 5, True).scenes]
    assert kinds == ["title", "points", "equation", "diagram", "summary"]
    diagram = plan_offline("p", "s", PYTHAGORAS, 5, True).scenes[3]
    assert diagram.visual["diagram"] == "triangle"
    # A topic with no figure of its own gets a concept map of its terms, never a made-up graph.
    kinds = [s.kind for s in plan_offline("p", "s", "Explain binary search", 6, False).scenes]
    assert "plot" not in kinds and "diagram" in kinds


def _on_screen(visual: dict, title: str) -> list[str]:
    texts = [title, visual.get("subtitle", ""), visual.get("plain", ""), visual.get("center", "")]
    return [t for t in texts + list(visual.get("points", [])) + list(visual.get("terms", [])) if t]


def test_no_on_screen_sentence_is_cut_over_every_bundled_topic():
    """Every bundled theorem at 1, 2, 3 and 5 scenes: no text ends in an ellipsis, and each key
    point of a points scene is its whole narration line (wrapped, not shortened)."""
    checked = 0
    for item in theorem_library():
        for n in (1, 2, 3, 5):
            plan = plan_offline("p", "s", f"Explain {item['theorem']}", n, latex_available=True)
            for scene in plan.scenes:
                _, visual = template_visual(scene)
                for text in _on_screen(visual, scene.title) + scene.narration:
                    assert not text.rstrip().endswith(("...", "…")), (item["theorem"], n, text)
                if scene.kind == "points":
                    lines = scene.narration[len(scene.narration) - len(visual["points"]) :]
                    for point, line in zip(visual["points"], lines, strict=True):
                        assert point.replace("\n", " ") == line.rstrip("."), (
                            item["theorem"],
                            point,
                        )
                        assert max(len(row) for row in point.split("\n")) <= 48 or " " not in point
                checked += 1
    assert checked > 2000


def test_long_sentences_become_two_points_where_they_split_well():
    from videogen_dagster.authoring.topics import key_points

    long = (
        "The lemma counts the distinct orbits of a set under the action of a finite group; "
        "it averages the number of points each element of the group leaves fixed in place."
    )
    assert key_points([long]) == [
        "The lemma counts the distinct orbits of a set under the action of a finite group.",
        "It averages the number of points each element of the group leaves fixed in place.",
    ]
    # No good split: the sentence stays whole (the template scales it).
    whole = "word " * 40
    assert key_points([whole]) == [whole]


def test_formulas_are_found_in_the_bundled_descriptions():
    found = [find_equation(t["description"]) for t in theorem_library()]
    assert sum(1 for f in found if f) >= 20
    assert find_equation("the pressure and temperature: PV = nRT. This law") == (
        "PV = nRT",
        "PV = nRT",
    )
    assert find_equation("F_net = ma. This law")[1] == r"F_{\text{net}} = ma"
    assert find_equation("states that n₁sin(θ₁) = n₂sin(θ₂), where")[1] == (
        r"n_{1}\sin(\theta _{1}) = n_{2}\sin(\theta _{2})"
    )


@pytest.mark.parametrize("prompt", UNKNOWN)
def test_an_unknown_topic_carries_a_warning(prompt):
    plan = plan_offline("p", "s", prompt, 3, latex_available=False)
    [warning] = plan.warnings
    assert "has no notes on" in warning and plan.topic in warning and "OPENAI_API_KEY" in warning
    assert plan_offline("p", "s", PYTHAGORAS, 3, False).warnings == []


# --- the warnings in the result, the manifest and the 202 ------------------------------------------


def _request(prompt: str, **extra) -> GenerateRequest:
    return GenerateRequest.model_validate(
        {
            "project_id": "unit",
            "session_id": "s1",
            "content_prompt": prompt,
            "scene_count": 2,
            "render_config": {"quality": "preview", "max_scene_duration": 3, "max_retries": 0},
            **extra,
        }
    )


def _generate(svc, request: GenerateRequest) -> dict:
    register_request(svc.meta, request, "g1")
    run_plan(svc, request.video_key, "g1")
    for n in (1, 2):
        run_scene(svc, request.video_key, n, "g1", None)
    out = join_when_complete(svc, request.video_key, "g1")
    assert out is not None
    return json.loads(svc.stores.store_for().get_bytes(out.manifest.key))


def test_the_result_and_manifest_say_the_topic_is_unknown_and_the_models_ignored(svc):
    request = _request("Explain binary search", model_config={"planner_model": "gpt-4o-mini"})
    manifest = _generate(svc, request)
    result = task_result(svc.meta, svc.stores, svc.meta.get_task("g1"))
    assert result["warnings"] == manifest["warnings"]
    ignored, unknown = result["warnings"]
    assert ignored.startswith("model_config asked for planner_model 'gpt-4o-mini', but no LLM")
    assert "has no notes on 'Binary search'" in unknown


def test_a_known_topic_without_model_config_has_no_warning(svc):
    manifest = _generate(svc, _request(PYTHAGORAS))
    assert manifest["warnings"] == []
    assert task_result(svc.meta, svc.stores, svc.meta.get_task("g1"))["warnings"] == []


@pytest.fixture
def bridge(tmp_path):
    """The bridge with Dagster recorded, and settings the test sets."""
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
    return TestClient(app), meta, dagster, state


def _post(client, prompt: str, session: str, **extra):
    return client.post(
        f"{BASE}/generate",
        json={"project_id": "p1", "session_id": session, "content_prompt": prompt, **extra},
    )


def test_the_accepted_answer_carries_the_warnings(bridge):
    client, _, _, state = bridge
    r = _post(client, "Explain binary search", "a", model_config={"planner_model": "gpt-4o-mini"})
    assert r.status_code == 202
    ignored, unknown = r.json()["warnings"]
    assert "planner_model 'gpt-4o-mini'" in ignored and "has no notes on 'Binary search'" in unknown
    assert _post(client, PYTHAGORAS, "b").json()["warnings"] == []
    # With a provider, the models are used and the model knows the topic: nothing to say.
    state["settings"] = Settings.from_env({"OPENAI_API_KEY": "sk-test"})
    assert _post(client, "Explain binary search", "c").json()["warnings"] == []


def test_require_llm_refuses_generation_without_a_provider(bridge):
    client, meta, dagster, state = bridge
    state["settings"] = Settings.from_env({"VIDEOGEN_REQUIRE_LLM": "true"})
    r = _post(client, PYTHAGORAS, "a")
    assert r.status_code == 503
    assert r.json()["error_code"] == "SERVICE_UNAVAILABLE" and r.json()["detail"] == LLM_REQUIRED
    assert dagster.launches == [] and meta.get_video("p1.a") is None
    state["settings"] = Settings.from_env(
        {"VIDEOGEN_REQUIRE_LLM": "true", "OPENAI_API_KEY": "sk-test"}
    )
    assert _post(client, PYTHAGORAS, "b").status_code == 202


def test_require_llm_fails_the_plan_step_with_the_same_sentence(svc, monkeypatch):
    from videogen_dagster.pipeline import PipelineError

    monkeypatch.setenv("VIDEOGEN_REQUIRE_LLM", "true")
    request = _request(PYTHAGORAS)
    register_request(svc.meta, request, "g1")
    with pytest.raises(PipelineError, match="VIDEOGEN_REQUIRE_LLM is on"):
        run_plan(svc, request.video_key, "g1")
    task = svc.meta.get_task("g1")
    assert task.status == "failed" and LLM_REQUIRED in task.error


@pytest.mark.slow
def test_require_llm_makes_the_cli_exit_with_the_sentence(var_dir):
    from tests.conftest import run_cli

    out = run_cli(
        ["generate", PYTHAGORAS, "--scenes", "1"],
        var_dir,
        env={"VIDEOGEN_REQUIRE_LLM": "true", "OPENAI_API_KEY": "", "VIDEOGEN_MODELS_FILE": ""},
    )
    # Refused before anything is registered: no task, no video.
    assert out.returncode == 2
    assert LLM_REQUIRED in out.stderr and "task" not in out.stderr
    assert not (var_dir / "metadata.sqlite").exists()


@pytest.mark.slow
def test_the_rendered_formula_scene_shows_the_formula_beside_the_triangle(tmp_path):
    """The 3-scene Pythagorean video's second scene, rendered: its last full frame has the
    triangle (accent-coloured strokes) on the left and the formula (white) on the right."""
    import numpy as np

    scene = plan_offline("p", "s", PYTHAGORAS, 3, latex_available=True).scenes[1]
    gen = generate_scene_code(scene, 30)
    result = render_scene(
        gen.code, gen.class_name, tmp_path, RenderConfig(quality="preview"), timeout=300
    )
    frame = tmp_path / "frame.png"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-ss",
            str(result.info.duration - 0.9),
            "-i",
            str(result.video),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            str(frame),
        ],
        check=True,
        timeout=60,
    )
    pixels = np.frombuffer(frame.read_bytes(), np.uint8).reshape(480, 854, 3).astype(int)
    accent = np.abs(pixels - [0x38, 0xBD, 0xF8]).sum(axis=2) < 60
    white = pixels.min(axis=2) > 220
    left, right = slice(0, 427), slice(427, 854)
    # Below the heading: the triangle's blue legs on the left, the white formula on the right.
    assert accent[100:300, left].sum() > 200
    assert white[100:300, right].sum() > 500

import ast
import subprocess

import pytest

from videogen_dagster.authoring.codegen import (
    DEFAULT_ACCENT,
    Cue,
    cues_for,
    generate_scene_code,
    scene_class_in,
    template_visual,
    timeline,
)
from videogen_dagster.authoring.planning import ScenePlan, plan_offline
from videogen_dagster.media import ffmpeg
from videogen_dagster.media.ffmpeg import fit_cues, offset_cues, parse_srt, to_srt, to_vtt
from videogen_dagster.media.rendering import render_scene
from videogen_dagster.media.sandbox import check_code
from videogen_dagster.models import RenderConfig

KINDS = ["title", "points", "equation", "diagram", "plot", "summary", "llm"]


def test_every_template_makes_valid_python():
    plan = plan_offline("p", "s", "Explain the Pythagorean theorem", 6, latex_available=True)
    for scene in plan.scenes:
        gen = generate_scene_code(scene, max_scene_duration=20)
        ast.parse(gen.code)
        assert scene_class_in(gen.code) == gen.class_name
        assert len(gen.cues) == len(scene.narration)


def test_text_is_quoted_not_injected():
    plan = plan_offline("p", "s", 'Explain "quotes" and \\ backslashes\')\nimport os', 1, False)
    gen = generate_scene_code(plan.scenes[0], 10)
    tree = ast.parse(gen.code)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["manim"]


def _plan(kind, visual=None, **extra):
    fields = {"scene_number": 2, "title": "Circles and their radius", "kind": kind,
              "narration": ["A circle is the set of points at one distance: its radius r.",
                            "The area is A = r² * k, and the diameter d = 2 * r."],
              "visual": visual or {}, **extra}
    return ScenePlan.model_validate(fields)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_without_visual_keys_makes_checked_code(kind):
    """A schema-valid plan always gets code: missing visual keys get defaults (issue 13, 6)."""
    gen = generate_scene_code(_plan(kind), max_scene_duration=12)
    ast.parse(gen.code)
    assert check_code(gen.code) == []
    assert scene_class_in(gen.code) == gen.class_name == "Scene02"
    assert len(gen.cues) == 2 and gen.expected_duration <= 12


def test_defaults_come_from_the_title_and_narration():
    _, eq = template_visual(_plan("equation"))
    assert eq["plain"] == "A = r² * k" and eq["use_latex"] is False
    _, diagram = template_visual(_plan("diagram"))
    assert diagram["diagram"] == "circle" and diagram["center"] == "Circles and their radius"
    assert 1 <= len(diagram["terms"]) <= 4 and all(isinstance(t, str) and t for t in diagram["terms"])
    _, plot = template_visual(_plan("plot"))
    assert plot["function"] in ("exp", "sin", "gauss", "log", "square")
    _, title = template_visual(_plan("title"))
    assert title["subtitle"] and title["accent"] == DEFAULT_ACCENT
    # Points keep the whole narration line, colon included.
    _, points = template_visual(_plan("points"))
    assert points["points"][0].startswith("A circle is the set of points") and "radius r" in points["points"][0]


def test_an_llm_plan_without_a_model_falls_back_to_its_narration_as_key_points():
    plan = _plan("llm", {"plan": "Draw a circle, then grow its radius", "duration": 8})
    template, visual = template_visual(plan)
    assert template == "points" and len(visual["points"]) == 2
    gen = generate_scene_code(plan, 12)
    assert "template: points, for a 'llm' scene" in gen.code and gen.coder == "offline-template-coder"


def test_planner_visuals_are_kept_as_they_are():
    for scene in plan_offline("p", "s", "Explain the Pythagorean theorem", 6, latex_available=True).scenes:
        template, visual = template_visual(scene)
        assert template == scene.kind
        assert {k: visual[k] for k in scene.visual} == scene.visual


@pytest.mark.parametrize("visual", [
    {"points": "not a list", "speed": "fast", "accent": "red\nimport os"},
    {"points": [], "terms": [1, None, {"x": 1}, "", "T"] * 3, "speed": 0, "diagram": ["x"]},
    {"latex": None, "plain": 42, "use_latex": "yes", "function": "tan", "speed": float("nan")},
    {"subtitle": {"nested": True}, "center": [], "speed": -3, "accent": 7},
    {"speed": 1e308, "terms": [], "points": [None, ""], "diagram": "hexagon"},
])
@pytest.mark.parametrize("kind", KINDS)
def test_unusable_visual_values_get_defaults(kind, visual):
    gen = generate_scene_code(_plan(kind, visual), max_scene_duration=float("inf"))
    ast.parse(gen.code)
    assert check_code(gen.code) == []
    assert "import os" not in gen.code.replace("\\nimport os", "")
    assert all(r > 0 and w >= 0 for r, w in gen.beats)
    _, filled = template_visual(_plan(kind, visual))
    assert filled["accent"] == DEFAULT_ACCENT
    assert len(filled.get("terms", [])) <= 4 and all(filled.get("points", ["x"]))


def test_odd_titles_and_numbers_stay_inside_literals():
    gen = generate_scene_code(_plan("title", title="x\nimport os\r#", scene_number=-4), 10)
    tree = ast.parse(gen.code)
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["manim"]
    assert gen.class_name == "Scene04" and scene_class_in(gen.code) == "Scene04"
    blank = generate_scene_code(_plan("points", title="   ", narration=["  "]), 10)
    assert "Scene 2" in blank.code  # a blank title is shown as the scene's number


@pytest.mark.slow
def test_defaults_render(tmp_path):
    """The defaults are real Manim: the kinds that used to fail render with no visual keys."""
    for kind in ("equation", "diagram", "llm"):
        gen = generate_scene_code(_plan(kind, narration=["A circle.", "Its radius r."]), 3)
        result = render_scene(gen.code, gen.class_name, tmp_path / kind, RenderConfig(quality="preview"),
                              timeout=120)
        assert abs(result.info.duration - gen.expected_duration) < 0.2


def test_timeline_fits_max_duration():
    beats = timeline(["word " * 30] * 6, max_duration=8)
    assert sum(r + w for r, w in beats) <= 8 - 0.5 + 0.05
    assert all(r > 0 and w >= 0 for r, w in beats)


def test_cues_follow_the_beats():
    cues = cues_for(["a", "b"], [(1.0, 1.0), (0.5, 1.5)])
    assert cues == [Cue(0.0, 2.0, "a"), Cue(2.0, 4.0, "b")]


def test_srt_and_vtt_round_trip():
    cues = [Cue(0.0, 1.5, "Hello"), Cue(1.5, 3661.25, "World")]
    srt = to_srt(cues)
    assert "00:00:01,500 --> 01:01:01,250" in srt
    assert parse_srt(srt) == cues
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT") and "00:00:01.500 --> 01:01:01.250" in vtt


def test_offsets_and_fitting():
    a = fit_cues([Cue(0, 2, "x"), Cue(2, 4, "y")], duration=4.5)
    assert a[-1].end == 4.5
    joined = offset_cues([(a, 4.5), ([Cue(0, 1, "z")], 1.0)])
    assert joined[-1] == Cue(4.5, 5.5, "z")


def test_scene_class_required():
    with pytest.raises(ValueError):
        scene_class_in("x = 1")


def _clip(path, size="320x240", seconds=1):
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15:duration={seconds}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-y", str(path)], check=True)
    return path


def test_join_reuses_stored_probes_and_falls_back(tmp_path):
    a, b = _clip(tmp_path / "a.mp4"), _clip(tmp_path / "b.mp4", seconds=2)
    other = _clip(tmp_path / "c.mp4", size="160x120")
    info = ffmpeg.probe(a)
    stored = ffmpeg.VideoInfo.from_metadata(info.as_metadata(), a.stat().st_size)
    assert stored == info
    assert ffmpeg.VideoInfo.from_metadata({"duration": 1.0}, 1) is None  # older records: probed
    assert ffmpeg.concat([a, b], tmp_path / "ab.mp4", [stored, None]) == "stream-copy"
    assert abs(ffmpeg.probe(tmp_path / "ab.mp4").duration - 3.0) < 0.1
    # Stored streams that differ still force a re-encode, at the first scene's size.
    assert ffmpeg.concat([a, other], tmp_path / "ac.mp4", [stored, ffmpeg.probe(other)]) == "re-encode"
    assert (ffmpeg.probe(tmp_path / "ac.mp4").width, ffmpeg.probe(tmp_path / "ac.mp4").height) == (320, 240)

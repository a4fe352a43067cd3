"""Layout checks on every render: text off the frame, overlapping, too small or low in contrast is
found during a real (sandboxed) render with the right mobject and time; a clean scene has no
finding; what the render writes back is bounded and checked before it is believed."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

from videogen_dagster.media import layout
from videogen_dagster.media.layout import Finding, LayoutKind, read_report
from videogen_dagster.media.rendering import latex_available, render_scene
from videogen_dagster.models import RenderConfig

PREVIEW = RenderConfig(quality="preview")  # 854x480, 15 fps


# --- messages ------------------------------------------------------------------------------------


def test_a_finding_says_what_where_when_and_the_fix():
    finding = Finding(
        LayoutKind.OUT_OF_FRAME, "Text", "a² + b² = c²", 3.2, 3.2, 1, 0.6, "right", 0.4
    )
    assert finding.message == (
        "Text 'a² + b² = c²' leaves the frame by 0.40 units at the right edge at 3.2 s: "
        "scale it down or move it inside."
    )
    overlap = Finding(
        LayoutKind.OVERLAP, "MathTex", "x" * 80, 1.0, 2.5, 3, 0.3, other_mobject="Text",
        other_text="label",
    )  # fmt: skip
    assert overlap.message.startswith(f"MathTex '{'x' * 39}…' overlaps Text 'label' by 0.30")
    assert "at 1.0 s (until 2.5 s)" in overlap.message
    assert overlap.to_dict()["kind"] == "overlap" and overlap.to_dict()["message"]
    assert "- " + overlap.message in layout.feedback([finding, overlap])


# --- what comes back from the sandbox is checked --------------------------------------------------


def _entry(**over: object) -> dict:
    base = {
        "kind": "out_of_frame", "mobject": "Text", "text": "hello", "time": 1.0, "until": 2.0,
        "count": 2, "amount": 0.3, "edge": "right", "past_edge": 0.1,
    }  # fmt: skip
    return {**base, **over}


def _write(workdir: Path, findings: list, **top: object) -> None:
    report = {"version": 1, "checks": 3, "errors": 0, "findings": findings, **top}
    (workdir / layout.FINDINGS_FILE).write_text(json.dumps(report), encoding="utf-8")


def test_a_valid_report_is_read(tmp_path):
    _write(tmp_path, [_entry(limit=0.2)], seconds=0.01)
    report = read_report(tmp_path, video_duration=5.0)
    assert report.checks == 3 and report.refused is None and report.seconds == 0.01
    [finding] = report.findings
    assert (finding.kind, finding.text, finding.time, finding.count) == (
        LayoutKind.OUT_OF_FRAME, "hello", 1.0, 2,
    )  # fmt: skip
    assert finding.message == (
        "Text 'hello' leaves the frame by 0.10 units at the right edge at 1.0 s (until 2.0 s): "
        "scale it down or move it inside (keep 0.2 units from the edges)."
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "explode"},
        {"mobject": "Text; rm -rf /"},
        {"mobject": 3},
        {"time": float("nan")},
        {"time": -1.0},
        {"time": 99.0, "until": 99.0},  # after the video's end
        {"until": 0.5},  # before it started
        {"count": 0},
        {"count": True},
        {"amount": "0.3"},
        {"edge": "inside"},
        {"kind": "overlap"},  # no other mobject
        {"kind": "low_contrast", "color": "red", "background": "#000000"},
        {"kind": "low_contrast", "color": "#ffffff", "background": "#000000", "amount": 40.0},
        {"kind": "too_small", "pixel_height": -1},
    ],
)
def test_malformed_entries_are_dropped(tmp_path, bad):
    _write(tmp_path, [_entry(), _entry(**bad)])
    report = read_report(tmp_path, video_duration=5.0)
    assert len(report.findings) == 1 and report.dropped == 1


def test_huge_counts_and_strings_are_bounded(tmp_path):
    _write(tmp_path, [_entry(text="y" * 900, time=i / 1000, until=i / 1000) for i in range(400)])
    report = read_report(tmp_path, video_duration=5.0)
    assert len(report.findings) == layout.MAX_FINDINGS
    assert report.dropped == 400 - layout.MAX_FINDINGS
    assert all(len(f.text) <= layout.MAX_TEXT for f in report.findings)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"{" * 10 + b"x", "not JSON"),
        (b"\xff\xfe garbage", "not JSON"),
        (b"[" * 100_000, "not JSON"),  # nesting deep enough to exhaust the parser
        (b'["findings"]', "no findings list"),
        (b'{"findings": [], "checks": "3"}', "no count of checks"),
        (b'{"findings": []}' + b" " * (layout.MAX_BYTES + 1), "bytes (limit"),
    ],
)
def test_a_malformed_or_huge_file_is_refused(tmp_path, content, reason):
    (tmp_path / layout.FINDINGS_FILE).write_bytes(content)
    report = read_report(tmp_path, video_duration=5.0)
    assert report.findings == [] and report.checks == 0
    assert reason in (report.refused or "")


def test_a_link_or_fifo_is_never_followed(tmp_path):
    secret = tmp_path / "host_secret.json"
    _write(tmp_path, [_entry(text="SECRET")])
    (tmp_path / layout.FINDINGS_FILE).rename(secret)
    work = tmp_path / "w"
    work.mkdir()
    (work / layout.FINDINGS_FILE).symlink_to(secret)
    assert read_report(work, 5.0).refused == "the findings file is a symbolic link"
    (work / layout.FINDINGS_FILE).unlink()
    os.mkfifo(work / layout.FINDINGS_FILE)  # would block a plain read forever
    assert read_report(work, 5.0).refused == "the findings file is not a regular file"
    assert "no findings file" in (read_report(tmp_path / "nowhere", 5.0).refused or "")


# --- the inspector itself, in this process (no render) -------------------------------------------


@pytest.fixture
def runtime() -> ModuleType:
    """A fresh copy of the sandbox-side inspector (its state is per process)."""
    spec = importlib.util.spec_from_file_location("videogen_layout_under_test", layout.RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_what_is_not_a_problem_is_not_reported(runtime):
    from manim import BLACK, DOWN, LEFT, RIGHT, UP, WHITE, Paragraph, Rectangle, Scene, Text, VGroup

    scene = Scene()
    title = Text("A clean title", font_size=44).to_edge(UP)
    rows = VGroup(*[Text(f"Point number {i}", font_size=30) for i in range(3)]).arrange(DOWN)
    para = Paragraph("two lines", "close together", line_spacing=0.1).to_edge(DOWN)
    ghost = Text("invisible", font_size=44).move_to(title).set_opacity(0)  # over the title
    staged = Text("waiting off-screen", font_size=30).move_to(RIGHT * 20)
    card = Rectangle(width=3, height=1, fill_color=WHITE, fill_opacity=1).to_edge(LEFT)
    on_card = Text("dark on light", font_size=28, color=BLACK).move_to(card)
    scene.add(title, rows, para, ghost, staged, card, on_card)
    assert runtime.inspect(scene) == []


def test_each_problem_is_named_with_its_mobject(runtime):
    from manim import DOWN, RIGHT, Scene, Text

    scene = Scene()  # 1920x1080 by default: 14 px is about font_size 10
    wide = Text("x" * 80, font_size=40)
    first = Text("first", font_size=40).shift(DOWN * 2)
    second = Text("second", font_size=40).next_to(first, RIGHT, buff=-0.4)
    tiny = Text("tiny", font_size=6).shift(DOWN * 3)
    dim = Text("dim", font_size=40, color="#222222").shift(DOWN * 1)
    scene.add(wide, first, second, tiny, dim)
    found = {(f["kind"], f["text"]) for f in runtime.inspect(scene)}
    assert found == {
        ("out_of_frame", "x" * 80),
        ("overlap", "first"),
        ("too_small", "tiny"),
        ("low_contrast", "dim"),
    }


def test_a_finding_held_over_animations_is_one_record(runtime):
    from manim import RIGHT, Scene, Text

    scene = Scene()
    text = Text("slides out", font_size=40)
    scene.add(text)
    runtime.record(scene)  # clean
    text.shift(RIGHT * 6)
    for t in (1.0, 2.0, 3.0):
        scene.renderer.time = t
        runtime.record(scene)
    text.shift(RIGHT * -6)
    scene.renderer.time = 4.0
    runtime.record(scene)  # clean again
    text.shift(RIGHT * 6)
    scene.renderer.time = 5.0
    runtime.record(scene)  # back out: a new record
    records = runtime._state["records"]
    assert [(r["time"], r["until"], r["count"]) for r in records] == [
        (1.0, 3.0, 3),
        (5.0, 5.0, 1),
    ]


def test_a_failing_look_never_breaks_the_render(runtime, monkeypatch):
    from manim import Scene

    def boom(scene: object) -> list:
        raise ValueError("odd mobject")

    monkeypatch.setattr(runtime, "inspect", boom)
    runtime.record(Scene())
    assert runtime._state["errors"] == 1 and "odd mobject" in runtime._state["first_error"]


def test_a_3d_scene_is_not_counted_as_inspected(runtime):
    from manim import Text, ThreeDScene

    scene = ThreeDScene()
    scene.add(Text("x" * 80))  # projected by a moving 3D camera: boxes in scene units mislead
    runtime.record(scene)
    assert runtime._state["checks"] == 0 and runtime._state["records"] == []


# --- real renders, in the sandbox ----------------------------------------------------------------

HEADER = "from manim import *\n\n\nclass Check(Scene):\n    def construct(self):\n"
SCENES = {
    "overflow": """
        self.play(FadeIn(Circle()), run_time=0.5)
        line = Text("This sentence is far too long to fit on one line of the frame", font_size=40)
        self.play(Write(line.to_edge(LEFT, buff=0.5)), run_time=1)
        self.wait(0.5)
""",
    "overlap": """
        a = Text("First label", font_size=40)
        b = Text("Second label", font_size=40).shift(0.15 * DOWN + 0.3 * RIGHT)
        self.play(Write(a), run_time=0.5)
        self.play(FadeIn(b), run_time=0.5)
        self.wait(0.5)
""",
    "tiny": """
        self.play(Write(Text("A readable title", font_size=40).to_edge(UP)), run_time=0.5)
        self.wait(0.5)
        self.play(FadeIn(Text("fine print nobody can read", font_size=14)), run_time=0.5)
""",
    "contrast": """
        self.camera.background_color = "#0f172a"
        self.play(Write(Text("Bright heading", color=WHITE).to_edge(UP)), run_time=0.5)
        self.play(FadeIn(Text("dark grey words", color="#334155")), run_time=0.5)
        self.wait(0.5)
""",
}
# kind, the mobject's text, and when the render first shows it (end of the animation) .. until
EXPECTED = {
    "overflow": (
        LayoutKind.OUT_OF_FRAME, "This sentence is far too long to fit on…", 1.5, 2.0, 2,
    ),
    "overlap": (LayoutKind.OVERLAP, "First label", 1.0, 1.5, 2),
    "tiny": (LayoutKind.TOO_SMALL, "fine print nobody can read", 1.5, 1.5, 1),
    "contrast": (LayoutKind.LOW_CONTRAST, "dark grey words", 1.0, 1.5, 2),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCENES))
def test_a_render_reports_the_problem_made_on_purpose(tmp_path, name):
    result = render_scene(HEADER + SCENES[name], "Check", tmp_path / "w", PREVIEW)
    kind, text, time, until, count = EXPECTED[name]
    assert [(f.kind, f.text) for f in result.layout] == [(kind, text)], result.layout
    [finding] = result.layout
    # Frame rounding at 15 fps: 0.5 s is 8 frames.
    assert finding.time == pytest.approx(time, abs=0.1)
    assert finding.until == pytest.approx(until, abs=0.15)
    assert finding.count == count
    assert result.layout_checks == SCENES[name].count("self.play(") + SCENES[name].count("wait(")
    if name == "overflow":
        assert finding.edge == "right" and finding.past_edge > 1.0
    if name == "overlap":
        assert finding.other_text == "Second label"
    if name == "tiny":
        assert finding.pixel_height == 480 and 7 <= finding.amount <= 10
    if name == "contrast":
        assert (finding.color, finding.background) == ("#334155", "#0f172a")
        assert finding.amount < 2


CLEAN = """
        self.camera.background_color = "#0f172a"
        title = Text("Pythagoras", font_size=44, color=BLUE).to_edge(UP)
        points = VGroup(
            *[Text(p, font_size=30) for p in ("Right triangles", "Squares on the sides", "Sum")]
        ).arrange(DOWN, aligned_edge=LEFT, buff=0.5).next_to(title, DOWN, buff=0.7)
        self.play(Write(title), run_time=0.5)
        self.play(LaggedStart(*[FadeIn(p) for p in points]), run_time=1)
        self.play(Indicate(points[1]), run_time=0.5)
        self.wait(0.5)
        self.play(FadeOut(title), FadeOut(points), run_time=0.5)
"""


@pytest.mark.slow
def test_a_clean_scene_has_no_finding_and_the_inspector_can_be_off(tmp_path):
    result = render_scene(HEADER + CLEAN, "Check", tmp_path / "on", PREVIEW)
    assert result.layout == [] and result.layout_checks == 5
    assert layout.RUNNER_MODULE in result.command
    off = render_scene(HEADER + CLEAN, "Check", tmp_path / "off", PREVIEW, inspect_layout=False)
    assert off.layout == [] and off.layout_checks == 0
    # Without the inspector, the render starts through the encoder runtime (media/encoder.py).
    assert "videogen_encoder" in off.command and layout.RUNNER_MODULE not in off.command
    assert not (tmp_path / "off" / layout.FINDINGS_FILE).exists()
    assert abs(off.info.duration - result.info.duration) < 0.01


@pytest.mark.slow
@pytest.mark.skipif(not latex_available(), reason="needs latex and dvisvgm")
def test_a_formula_off_the_frame_is_named_by_its_tex(tmp_path):
    code = HEADER + (
        "        formula = MathTex(r'a^2 + b^2 = c^2', font_size=72).to_edge(DOWN, buff=-0.2)\n"
        "        self.play(Write(formula), run_time=0.5)\n"
    )
    result = render_scene(code, "Check", tmp_path / "w", PREVIEW)
    [finding] = result.layout
    assert (finding.kind, finding.mobject, finding.text, finding.edge) == (
        LayoutKind.OUT_OF_FRAME, "MathTex", "a^2 + b^2 = c^2", "bottom",
    )  # fmt: skip
    assert finding.past_edge == pytest.approx(0.2, abs=0.05)

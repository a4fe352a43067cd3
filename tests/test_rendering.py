"""A real Manim render in a subprocess, probed with ffprobe."""

import pytest

from videogen_dagster.models import RenderConfig
from videogen_dagster.rendering import RenderError, render_scene

pytestmark = pytest.mark.slow

SHORT = """
from manim import *


class Short(Scene):
    def construct(self):
        self.play(Create(Circle(color=BLUE)), run_time=0.5)
        self.wait(0.5)
"""


def test_real_render_is_probed(tmp_path):
    result = render_scene(SHORT, "Short", tmp_path / "w", RenderConfig(quality="preview"))
    assert result.video.exists()
    assert (result.info.width, result.info.height) == (854, 480)
    assert result.info.codec == "h264"
    assert abs(result.info.duration - 1.0) < 0.15
    assert "-r" in result.command and "854,480" in result.command


def test_resolution_and_fps_reach_manim(tmp_path):
    rc = RenderConfig(quality="preview", resolution="720p", fps=24)
    result = render_scene(SHORT, "Short", tmp_path / "w", rc)
    assert (result.info.width, result.info.height) == (1280, 720)
    assert round(result.info.fps) == 24


def test_broken_code_reports_the_traceback(tmp_path):
    bad = SHORT.replace("Circle(color=BLUE)", "Circle(colour_typo=BLUE, radius=undefined_name)")
    with pytest.raises(RenderError) as exc:
        render_scene(bad, "Short", tmp_path / "w", RenderConfig(quality="preview"))
    assert "exited with code" in str(exc.value)
    assert "undefined_name" in exc.value.log


def test_wall_clock_limit_kills_the_render(tmp_path):
    slow = SHORT.replace("self.wait(0.5)", "while True:\n            pass")
    with pytest.raises(RenderError, match="wall-clock limit"):
        render_scene(slow, "Short", tmp_path / "w", RenderConfig(quality="preview"), timeout=5)

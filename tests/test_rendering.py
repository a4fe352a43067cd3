"""A real Manim render in a subprocess, probed with ffprobe."""

import subprocess

import numpy as np
import pytest

from videogen_dagster.media.rendering import RenderError, latex_available, render_scene
from videogen_dagster.media.sandbox import bwrap_available
from videogen_dagster.models import RenderConfig

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


FORMULA = """
from manim import *


class Formula(Scene):
    def construct(self):
        title = Text("Pythagoras", font_size=40)
        formula = MathTex(r"a^2 + b^2 = c^2").next_to(title, DOWN)
        self.play(Write(title), run_time=0.5)
        self.play(Write(formula), run_time=0.5)
        self.wait(0.5)
"""


@pytest.mark.skipif(not (bwrap_available() and latex_available()), reason="needs bwrap and LaTeX")
def test_text_and_mathtex_render_confined(tmp_path):
    """Fonts (fontconfig), latex and dvisvgm all work in the confined view of the system."""
    result = render_scene(
        FORMULA, "Formula", tmp_path / "w", RenderConfig(quality="preview"), confine=True
    )
    assert abs(result.info.duration - 1.5) < 0.15
    assert result.command[0].endswith("bwrap")
    last = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-sseof",
            "-0.2",
            "-i",
            str(result.video),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert (np.frombuffer(last, dtype=np.uint8) > 128).sum() > 500  # title and formula drawn
    assert list((tmp_path / "w" / "media").rglob("*.svg"))  # dvisvgm's output


def test_unconfined_render_gets_only_the_allow_listed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-unconfined-4f1c")
    code = SHORT.replace(
        "self.wait(0.5)",
        'raise ValueError(np.fromfile("/proc/self/environ", dtype=np.uint8, count=100000)'
        ".tobytes().decode())",
    )
    with pytest.raises(RenderError) as exc:
        render_scene(code, "Short", tmp_path / "w", RenderConfig(quality="preview"), confine=False)
    log = exc.value.log.replace("\n", "").replace(" ", "")
    assert "PATH=/usr/local/bin:/usr/bin:/bin" in log
    assert "sk-canary" not in log and "canary-unconfined" not in log

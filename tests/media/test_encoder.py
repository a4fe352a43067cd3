"""The encoder runtime (media/encoder.py): the same frames as bare Manim with Manim's own x264
options, the settings' x264 options in the video otherwise, through both runners."""

import subprocess

import pytest

from videogen_dagster.media.encoder import EncoderOptions
from videogen_dagster.media.rendering import manim_command, render_scene
from videogen_dagster.models import RenderConfig
from videogen_dagster.settings import SettingsError, get_settings

pytestmark = pytest.mark.slow

# Moving shapes, a colour change and still frames (a wait is one frame sent many times).
SCENE = """
from manim import *


class Moves(Scene):
    def construct(self):
        square = Square(color=BLUE, fill_opacity=0.6)
        self.play(Create(square), run_time=0.4)
        self.wait(0.3)
        self.play(square.animate.shift(RIGHT * 2).set_color(RED).rotate(0.7), run_time=0.4)
        self.add(Text("still", font_size=36).to_edge(DOWN))
        self.wait(0.4)
"""


def frame_hashes(video) -> list[str]:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(video), "-f", "framemd5", "-"],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line.split(",")[-1].strip() for line in out.splitlines() if not line.startswith("#")]


def x264_settings(video) -> str:
    """x264's options as it writes them into the stream (an SEI message)."""
    data = video.read_bytes()
    start = data.index(b"x264 - core")
    return data[start:data.index(b"\x00", start)].decode("ascii", "replace")


def bare_render(tmp_path, rc: RenderConfig):
    work = tmp_path / "bare"
    work.mkdir()
    (work / "scene.py").write_text(SCENE)
    cmd = manim_command(work / "scene.py", "Moves", work / "media", rc)
    assert cmd[1:3] == ["-m", "manim"]
    subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    return next(p for p in (work / "media").rglob("scene.mp4") if "partial" not in str(p))


@pytest.mark.parametrize("inspect_layout", [False, True])
def test_same_frames_as_bare_manim(tmp_path, inspect_layout):
    rc = RenderConfig(quality="preview")
    ours = render_scene(
        SCENE, "Moves", tmp_path / "ours", rc, confine=False, inspect_layout=inspect_layout,
        encoder=EncoderOptions(preset=None, crf=None),
    )
    runner = "videogen_layout" if inspect_layout else "videogen_encoder"
    assert runner in ours.command
    bare = bare_render(tmp_path, rc)
    ours_frames, bare_frames = frame_hashes(ours.video), frame_hashes(bare)
    assert len(ours_frames) == len(bare_frames) == round(1.5 * 15)
    assert ours_frames == bare_frames
    assert ours.video.read_bytes() == bare.read_bytes()


def test_x264_options_reach_the_video(tmp_path):
    rc = RenderConfig(quality="preview")
    fast = render_scene(SCENE, "Moves", tmp_path / "a", rc, encoder=EncoderOptions("veryfast", 30))
    manim = render_scene(SCENE, "Moves", tmp_path / "b", rc, encoder=EncoderOptions(None, None))
    assert "crf=30.0" in x264_settings(fast.video)
    assert " ref=1 " in x264_settings(fast.video)  # veryfast: one reference frame
    assert "crf=23.0" in x264_settings(manim.video)  # Manim's own: medium, crf 23
    assert " ref=3 " in x264_settings(manim.video)
    assert fast.info.duration == pytest.approx(manim.info.duration, abs=0.07)


def test_settings_choose_the_options(monkeypatch):
    assert EncoderOptions.from_settings().x264() == {"preset": "veryfast", "crf": "21"}
    monkeypatch.setenv("VIDEOGEN_X264_PRESET", "manim")
    assert EncoderOptions.from_settings().x264() == {}
    monkeypatch.setenv("VIDEOGEN_X264_PRESET", "slow")
    monkeypatch.setenv("VIDEOGEN_X264_CRF", "18")
    assert EncoderOptions.from_settings().x264() == {"preset": "slow", "crf": "18"}
    monkeypatch.setenv("VIDEOGEN_X264_PRESET", "warp")
    with pytest.raises(SettingsError, match="VIDEOGEN_X264_PRESET"):
        get_settings()
    monkeypatch.setenv("VIDEOGEN_X264_PRESET", "fast")
    monkeypatch.setenv("VIDEOGEN_X264_CRF", "60")
    with pytest.raises(SettingsError, match="VIDEOGEN_X264_CRF"):
        get_settings()


import ast
import subprocess

import pytest

from videogen_dagster import media
from videogen_dagster.codegen import (
    Cue,
    cues_for,
    generate_scene_code,
    scene_class_in,
    timeline,
)
from videogen_dagster.media import fit_cues, offset_cues, parse_srt, to_srt, to_vtt
from videogen_dagster.planning import plan_offline


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
    info = media.probe(a)
    stored = media.VideoInfo.from_metadata(info.as_metadata(), a.stat().st_size)
    assert stored == info
    assert media.VideoInfo.from_metadata({"duration": 1.0}, 1) is None  # older records: probed
    assert media.concat([a, b], tmp_path / "ab.mp4", [stored, None]) == "stream-copy"
    assert abs(media.probe(tmp_path / "ab.mp4").duration - 3.0) < 0.1
    # Stored streams that differ still force a re-encode, at the first scene's size.
    assert media.concat([a, other], tmp_path / "ac.mp4", [stored, media.probe(other)]) == "re-encode"
    assert (media.probe(tmp_path / "ac.mp4").width, media.probe(tmp_path / "ac.mp4").height) == (320, 240)

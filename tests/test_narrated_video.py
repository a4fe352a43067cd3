"""A narrated video end to end, with the offline voice (no mocks): the speech is where the
subtitles say, the animation waits for it, and an edit that keeps a line does not speak it again."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest

from videogen_dagster.media.ffmpeg import parse_srt
from videogen_dagster.media.narration_audio import speech_spans
from videogen_dagster.media.speech import SpeechCache
from videogen_dagster.pipeline import EditSpec, PipelineError, Services, run_combine, run_scene
from videogen_dagster.pipeline.narration import Narrator
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

from .conftest import ffprobe, run_cli

pytestmark = pytest.mark.slow
VIDEO = "voice.s1"


def _path(url: str) -> Path:
    return Path(urlparse(url).path)


def _stream(info: dict, kind: str) -> dict:
    return next(s for s in info["streams"] if s["codec_type"] == kind)


def test_narrated_video_speaks_inside_every_cue_and_edits_reuse_the_speech(var_dir):
    proc = run_cli(
        ["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--quality", "preview",
         "--project", "voice", "--session", "s1", "--max-scene-duration", "30", "--narration",
         "--json"],
        var_dir,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["status"] == "completed"
    combined = _path(result["s3_combined_video_url"])
    info = ffprobe(combined)
    audio, video = _stream(info, "audio"), _stream(info, "video")
    assert (audio["codec_name"], audio["sample_rate"], audio["channels"]) == ("aac", "48000", 1)
    # Both streams end together, within one frame (the audio's AAC priming sits at its start).
    end = lambda s: float(s.get("start_time", 0)) + float(s["duration"])  # noqa: E731
    assert abs(end(audio) - end(video)) <= 1 / 15

    cues = parse_srt(_path(result["s3_subtitles_url"]).read_text())
    spans = speech_spans(combined)
    assert len(cues) >= 4 and spans
    for cue in cues:
        # Speech starts within 0.3 s of its cue and fills most of the cue's window.
        onset = min((s for s, e in spans if e > cue.start + 0.05), default=None)
        assert onset is not None and abs(onset - cue.start) <= 0.3, (cue, spans)
        inside = sum(max(0.0, min(e, cue.end) - max(s, cue.start)) for s, e in spans)
        assert inside >= 0.6 * (cue.end - cue.start), (cue, spans)
    for a, b in zip(cues, cues[1:], strict=False):
        # Nothing is spoken between two lines.
        assert not [s for s, _ in spans if a.end + 0.1 < s < b.start - 0.1], (a, b, spans)

    manifest = json.loads(_path(result["s3_manifest_url"]).read_text())
    for scene, public in zip(manifest["scenes"], result["scenes"], strict=True):
        spoken = scene["narration"]
        assert (spoken["engine"], spoken["voice"]) == ("piper", "en_US-joe-medium")
        assert spoken["synthesized"] == len(spoken["lines"]) and spoken["cached"] == 0
        # The animation waits for the voice: the scene lasts at least as long as its speech.
        assert scene["duration"] >= spoken["lines"][-1]["start"] + spoken["lines"][-1]["duration"]
        assert public["narration"]["engine"] == "piper" and public["narration"]["duration"] > 0

    # An edit that keeps the narration speaks nothing again: every line comes from the cache.
    meta = SqliteMetadataStore(var_dir / "metadata.sqlite")
    svc = Services(
        stores=StoreConfig(local_root=str(var_dir / "objects")), meta=meta,
        workdir=var_dir / "work", narrator=Narrator(cache=SpeechCache(var_dir / "speech")),
    )
    before = meta.get_scene(VIDEO, 2)
    meta.create_task("e1", "edit", "voice", "s1", VIDEO, 4, "preview", scene_id="s1_scene_2", exclusive=True)
    out = run_scene(svc, VIDEO, 2, "e1", None, edit=EditSpec("make it blue"))
    assert out.version == 2 and out.narration is not None
    assert out.narration["synthesized"] == 0 and out.narration["cached"] == len(out.narration["lines"])
    # preserve_timing keeps the scene's length: the same speech, the same duration.
    assert abs(out.info.duration - before.duration) <= 0.1
    joined = run_combine(svc, VIDEO, "e1")
    assert joined.method == "stream-copy" and joined.info.audio == ("aac", "48000", 1)

    # A new line that cannot be spoken within the scene's kept length: refused, nothing changes.
    meta.create_task("e2", "edit", "voice", "s1", VIDEO, 4, "preview", scene_id="s1_scene_2", exclusive=True)
    long_point = "add a point: " + " ".join(["the squares of both legs add up to the square"] * 4)
    with pytest.raises(PipelineError, match="preserve_timing"):
        run_scene(svc, VIDEO, 2, "e2", None, edit=EditSpec(long_point))
    after = meta.get_scene(VIDEO, 2)
    assert (after.version, after.status) == (2, "completed")
    assert "preserve_timing" in meta.get_task("e2").error


def test_narration_longer_than_the_scene_may_last_is_refused(var_dir):
    proc = run_cli(
        ["generate", "Explain the Pythagorean theorem", "--scenes", "1", "--quality", "preview",
         "--project", "voice", "--session", "short", "--max-scene-duration", "3", "--narration"],
        var_dir,
    )
    assert proc.returncode != 0
    assert "max_scene_duration" in proc.stderr and "narration takes" in proc.stderr, proc.stderr[-2000:]


def test_unknown_voice_is_refused_naming_the_allowed_ones(var_dir):
    proc = run_cli(["generate", "x", "--voice-engine", "piper", "--voice", "nova"], var_dir)
    assert proc.returncode == 2
    assert "unknown piper voice 'nova'" in proc.stderr and "en_US-joe-medium" in proc.stderr
    proc = run_cli(["generate", "x", "--voice-engine", "festival"], var_dir)
    assert proc.returncode == 2 and "'piper', 'espeak' or 'openai'" in proc.stderr

"""A scene's audio track with real speech and real ffmpeg: placement, muxing, joining."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ffprobe
from videogen_dagster.media.ffmpeg import concat
from videogen_dagster.media.narration_audio import (
    AUDIO_RATE,
    audio_info,
    build_track,
    mux,
    speech_spans,
)
from videogen_dagster.media.speech import SpeechCache, Utterance, default_voice, synthesize

FRAME = 1 / 30
LINES = ["Here is a right triangle.", "The longest side is the hypotenuse."]


@pytest.fixture(scope="module")
def utterances(tmp_path_factory: pytest.TempPathFactory) -> list[Utterance]:
    voice = default_voice()
    if voice is None:
        pytest.skip("no offline speech engine here (make deps installs piper and espeak-ng)")
    return synthesize(LINES, voice, SpeechCache(tmp_path_factory.mktemp("speech")))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("video") / "scene.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=854x480:rate=30",
         "-t", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def track(utterances: list[Utterance], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("track") / "track.wav"
    return build_track([(0.5, utterances[0].path), (3.0, utterances[1].path)], 6.0, out)


def durations(path: Path) -> dict[str, float]:
    return {s["codec_type"]: float(s["duration"]) for s in ffprobe(path)["streams"]}


def test_track_is_sample_accurate_with_lines_at_their_times(
    track: Path, utterances: list[Utterance]
) -> None:
    with wave.open(str(track), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (48000, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert samples.size == 6 * AUDIO_RATE
    assert not samples[: AUDIO_RATE // 2].any()  # nothing before 0.5 s
    first_end = round((0.5 + utterances[0].duration) * AUDIO_RATE)
    assert not samples[first_end : 3 * AUDIO_RATE].any()  # silence between the lines
    assert samples[AUDIO_RATE // 2 : first_end].any() and samples[3 * AUDIO_RATE :].any()
    spans = speech_spans(track)
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(0.5, abs=0.1) and spans[1][0] == pytest.approx(3.0, abs=0.1)


def test_line_running_past_the_end_is_refused(utterances: list[Utterance], tmp_path: Path) -> None:
    late = 2.0 - utterances[1].duration / 2
    with pytest.raises(
        ValueError, match=f"utterance {utterances[1].path}.*runs past the track's end"
    ):
        build_track(
            [(0.0, utterances[0].path), (late, utterances[1].path)], 2.0, tmp_path / "t.wav"
        )


def test_track_refuses_audio_in_another_format(tmp_path: Path) -> None:
    other = tmp_path / "22k.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=0.5",
            "-ar",
            "22050",
            str(other),
        ],
        check=True,
    )
    with pytest.raises(ValueError, match="22050 Hz.*expected 48000 Hz mono 16-bit"):
        build_track([(0.0, other)], 1.0, tmp_path / "t.wav")


@pytest.mark.slow
def test_muxed_scene_has_aac_48k_mono_in_sync(video: Path, track: Path, tmp_path: Path) -> None:
    out = mux(video, track, tmp_path / "scene.mp4")
    info = audio_info(out)
    assert info is not None and (info.codec, info.sample_rate, info.channels) == ("aac", 48000, 1)
    d = durations(out)
    assert d["video"] == pytest.approx(6.0, abs=FRAME)
    assert abs(d["audio"] - d["video"]) <= FRAME
    spans = speech_spans(out)
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(0.5, abs=0.1) and spans[1][0] == pytest.approx(3.0, abs=0.1)


@pytest.mark.slow
def test_short_track_is_padded_and_no_track_is_silence(
    video: Path, utterances: list[Utterance], tmp_path: Path
) -> None:
    short = build_track([(0.0, utterances[0].path)], 2.0, tmp_path / "short.wav")
    padded = durations(mux(video, short, tmp_path / "padded.mp4"))
    assert abs(padded["audio"] - padded["video"]) <= FRAME
    silent = mux(video, None, tmp_path / "silent.mp4")
    info = audio_info(silent)
    assert info is not None and (info.codec, info.sample_rate, info.channels) == ("aac", 48000, 1)
    d = durations(silent)
    assert abs(d["audio"] - d["video"]) <= FRAME
    assert speech_spans(silent) == []


@pytest.mark.slow
def test_scenes_with_audio_join_by_stream_copy_and_stay_in_sync(
    video: Path, track: Path, tmp_path: Path
) -> None:
    spoken = mux(video, track, tmp_path / "spoken.mp4")
    silent = mux(video, None, tmp_path / "silent.mp4")
    joined = tmp_path / "joined.mp4"
    assert concat([spoken, silent, spoken], joined) == "stream-copy"
    d = durations(joined)
    assert d["video"] == pytest.approx(18.0, abs=FRAME)
    assert abs(d["audio"] - d["video"]) <= FRAME
    starts = [s for s, _ in speech_spans(joined)]
    assert starts == pytest.approx([0.5, 3.0, 12.5, 15.0], abs=0.1)

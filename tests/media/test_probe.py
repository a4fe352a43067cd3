"""`probe` (PyAV, in-process) gives ffprobe's values, in ffprobe's types, on the same files: what a
join's stream-copy check compares, including records probed by ffprobe before."""

import subprocess

import ffmpeg
import pytest

from videogen_dagster.media.ffmpeg import (
    _AUDIO_KEYS,
    _COPY_KEYS,
    MediaError,
    VideoInfo,
    probe,
    video_stream_duration,
)

CASES = {
    "preview, silent": ["-f", "lavfi", "-i", "testsrc=size=854x480:rate=15:duration=1.2", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "1080p60, silent": ["-f", "lavfi", "-i", "testsrc=size=1920x1080:rate=60:duration=0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "720p30 with AAC": ["-f", "lavfi", "-i", "testsrc=size=1280x720:rate=30:duration=1", "-f", "lavfi", "-i",
                        "sine=frequency=440:sample_rate=44100:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-shortest"],
    "yuv444, stereo": ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=24:duration=1", "-f", "lavfi", "-i",
                       "anullsrc=r=48000:cl=stereo", "-c:v", "libx264", "-pix_fmt", "yuv444p", "-c:a", "aac", "-t", "1"],
}


def probe_with_ffprobe(path) -> VideoInfo:
    """The reference: an ffprobe process, read as the pipeline read it before (ffprobe's JSON)."""
    data = ffmpeg.probe(str(path))
    v = next(s for s in data["streams"] if s["codec_type"] == "video")
    sound = [s for s in data["streams"] if s["codec_type"] == "audio"]
    num, _, den = v["r_frame_rate"].partition("/")
    return VideoInfo(
        duration=float(data["format"]["duration"]), width=int(v["width"]), height=int(v["height"]),
        fps=float(num) / float(den), codec=v["codec_name"], bytes=path.stat().st_size,
        params=tuple(v.get(k) for k in _COPY_KEYS),
        audio=tuple(sound[0].get(k) for k in _AUDIO_KEYS) if sound else None,
    )


def make(path, args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, str(path)], check=True)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_values_as_ffprobe(tmp_path, case):
    video = make(tmp_path / "v.mp4", CASES[case])
    ours, reference = probe(video), probe_with_ffprobe(video)
    assert ours.params == reference.params
    assert ours.audio == reference.audio
    assert (ours.width, ours.height, ours.codec, ours.bytes) == (reference.width, reference.height, reference.codec, reference.bytes)
    assert ours.fps == pytest.approx(reference.fps)
    assert ours.duration == pytest.approx(reference.duration, abs=0.002)
    assert ours.as_metadata() == {**reference.as_metadata(), "duration": ours.as_metadata()["duration"]}


@pytest.mark.parametrize("case", list(CASES))
def test_the_video_streams_duration_is_ffprobes(tmp_path, case):
    video = make(tmp_path / "v.mp4", CASES[case])
    stream = next(s for s in ffmpeg.probe(str(video))["streams"] if s["codec_type"] == "video")
    assert video_stream_duration(video) == pytest.approx(float(stream["duration"]), abs=1e-6)


def test_the_video_stream_not_a_longer_audio_track(tmp_path):
    video = make(tmp_path / "v.mp4", ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=15:duration=1", "-f", "lavfi",
                                      "-i", "sine=duration=2.5", "-c:v", "libx264", "-c:a", "aac"])
    assert probe(video).duration == pytest.approx(2.5, abs=0.05)  # the container: the audio's end
    assert video_stream_duration(video) == pytest.approx(1.0, abs=1e-6)


def test_what_is_not_a_video_is_refused(tmp_path):
    with pytest.raises(MediaError, match="could not read"):
        probe(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError, match="could not read"):
        probe(junk)
    sound = make(tmp_path / "sound.m4a", ["-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac"])
    with pytest.raises(MediaError, match="no video stream"):
        probe(sound)
    with pytest.raises(MediaError, match="no video stream"):
        video_stream_duration(sound)
    with pytest.raises(MediaError, match="could not read"):
        video_stream_duration(junk)

"""A scene's audio track: spoken lines placed on a timeline, muxed into the scene's video.

Every scene video ends up with the same audio parameters (AAC 128k, 48 kHz, mono) so scenes
still join by stream copy (ffmpeg's concat demuxer, `-c copy`)."""

from __future__ import annotations

import re
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from videogen_dagster.media.ffmpeg import MediaError, probe, require_ffmpeg, video_stream_duration
from videogen_dagster.media.speech.wavfile import read_wav

AUDIO_RATE = 48000
AUDIO_CHANNELS = 1
AUDIO_CODEC = "aac"
AUDIO_BITRATE = "128k"


@dataclass(frozen=True)
class AudioInfo:
    codec: str
    sample_rate: int
    channels: int
    duration: float


def build_track(placements: list[tuple[float, Path]], duration: float, out: Path) -> Path:
    """A WAV of exactly round(duration * 48000) samples with each utterance WAV (48 kHz mono
    s16) starting at its time in seconds; overlaps are summed and clipped. ValueError naming
    the utterance when one starts before 0 or runs past `duration`."""
    total = round(duration * AUDIO_RATE)
    if total <= 0:
        raise ValueError(f"a track needs a positive duration, got {duration}")
    mix = np.zeros(total, dtype=np.int32)
    for at, path in placements:
        samples = read_wav(path)
        start = round(at * AUDIO_RATE)
        if start < 0:
            raise ValueError(f"utterance {path} is placed at {at:.3f}s, before the track starts")
        if start + samples.size > total:
            raise ValueError(
                f"utterance {path} ({samples.size / AUDIO_RATE:.3f}s at {at:.3f}s) runs past the "
                f"track's end at {duration:.3f}s: make the timeline longer"
            )
        mix[start : start + samples.size] += samples
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as wav:
        wav.setnchannels(AUDIO_CHANNELS)
        wav.setsampwidth(2)
        wav.setframerate(AUDIO_RATE)
        wav.writeframes(np.clip(mix, -32768, 32767).astype("<i2").tobytes())
    return out


def video_duration(video: Path) -> float:
    """The video stream's own duration (a container's may include a longer audio stream)."""
    return video_stream_duration(video)


def mux(video: Path, track: Path | None, out: Path) -> Path:
    """`video`'s picture (copied) with `track` as AAC 48 kHz mono 128k, padded with silence or
    cut to the video's duration; `track=None` gives a silent track of that duration."""
    require_ffmpeg()
    length = video_duration(video)
    audio_in = (
        ["-i", str(track)] if track else ["-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=mono"]
    )
    cmd = [
        "ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(video), *audio_in,
        "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
        # apad + -t: the audio is exactly as long as the picture, whatever the track's length.
        "-af", "apad", "-t", f"{length:.6f}",
        "-c:a", AUDIO_CODEC, "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_RATE),
        "-ac", str(AUDIO_CHANNELS), "-movflags", "+faststart", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise MediaError(f"adding audio to {video} failed: {done.stderr.strip()[-400:]}")
    return out


def hold_last_frame(video: Path, seconds: float, out: Path) -> Path:
    """`video` followed by its last frame for `seconds` more (re-encoded with the same codec
    parameters as a render: H.264, yuv420p, the same size and rate). For scene code that does
    not wait for its narration."""
    require_ffmpeg()
    info = probe(video)
    cmd = [
        "ffmpeg", "-nostdin", "-y", "-v", "error", "-i", str(video), "-map", "0:v:0",
        "-vf", f"tpad=stop_mode=clone:stop_duration={max(0.0, seconds):.3f}",
        "-c:v", "libx264", "-pix_fmt", str(info.params[4] or "yuv420p"),
        "-r", f"{info.fps:g}", "-movflags", "+faststart", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise MediaError(f"holding the last frame of {video} failed: {done.stderr.strip()[-400:]}")
    return out


def audio_info(media: Path) -> AudioInfo | None:
    """The first audio stream's codec, rate, channels and duration; None when there is none."""
    try:
        data = ffmpeg.probe(str(media))
    except ffmpeg.Error as exc:
        raise MediaError(
            f"ffprobe could not read {media}: {exc.stderr.decode(errors='replace')[-400:]}"
        ) from exc
    streams = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        return None
    a = streams[0]
    duration = a.get("duration") or data.get("format", {}).get("duration") or 0.0
    return AudioInfo(
        codec=a.get("codec_name", "?"),
        sample_rate=int(a.get("sample_rate", 0)),
        channels=int(a.get("channels", 0)),
        duration=float(duration),
    )


_SILENCE = re.compile(r"silence_(start|end): (-?[0-9.]+)")


def speech_spans(
    media: Path, noise_db: float = -40, min_silence: float = 0.15
) -> list[tuple[float, float]]:
    """The (start, end) seconds where `media`'s audio is louder than `noise_db`, from ffmpeg's
    silencedetect (gaps shorter than `min_silence` do not split a span)."""
    require_ffmpeg()
    info = audio_info(media)
    if info is None:
        raise MediaError(f"{media} has no audio stream")
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(media), "-map", "0:a:0",
         "-af", f"silencedetect=noise={noise_db}dB:d={min_silence}", "-f", "null", "-"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise MediaError(f"silencedetect on {media} failed: {done.stderr.strip()[-400:]}")
    spans: list[tuple[float, float]] = []
    cursor: float | None = 0.0  # where the current sound began; None while silent
    for kind, value in _SILENCE.findall(done.stderr):
        at = max(0.0, float(value))
        if kind == "start":
            if cursor is not None and at - cursor > 0.005:
                spans.append((round(cursor, 3), round(at, 3)))
            cursor = None
        else:
            cursor = at
    if cursor is not None and info.duration - cursor > 0.005:
        spans.append((round(cursor, 3), round(info.duration, 3)))
    return spans

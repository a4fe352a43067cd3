"""ffmpeg work: probing, thumbnails, joining scenes and subtitles (SRT and WebVTT)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from videogen_dagster.authoring.codegen import Cue

# Stream copy is only safe when every scene has the same codec parameters.
_COPY_KEYS = ("codec_name", "profile", "width", "height", "pix_fmt", "r_frame_rate", "time_base")
_AUDIO_KEYS = ("codec_name", "sample_rate", "channels")


class MediaError(RuntimeError):
    pass


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    width: int
    height: int
    fps: float
    codec: str
    bytes: int
    params: tuple
    # (codec, sample rate, channels) of the audio stream; None: the video is silent (no stream).
    audio: tuple | None = None

    def as_metadata(self) -> dict:
        return {
            "duration": round(self.duration, 3),
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "codec": self.codec,
            # What decides whether scenes can be joined by stream copy; kept so a join need not
            # probe every scene again.
            "stream": dict(zip(_COPY_KEYS, self.params, strict=True)),
            "audio": dict(zip(_AUDIO_KEYS, self.audio, strict=True)) if self.audio else None,
        }

    @classmethod
    def from_metadata(cls, meta: dict, size: int) -> VideoInfo | None:
        """The info stored by `as_metadata`; None for records written before `stream` (or, for
        the audio, `audio`) was kept."""
        stream = meta.get("stream")
        if not stream or set(stream) != set(_COPY_KEYS) or "audio" not in meta:
            return None
        audio = meta["audio"]
        return cls(
            duration=float(meta["duration"]), width=int(meta["width"]), height=int(meta["height"]),
            fps=float(meta["fps"]), codec=str(meta["codec"]), bytes=size,
            params=tuple(stream[k] for k in _COPY_KEYS),
            audio=tuple(audio[k] for k in _AUDIO_KEYS) if audio else None,
        )


def require_ffmpeg() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MediaError(f"{tool} is not installed: run `make deps` (apt-get install ffmpeg)")


@contextmanager
def _video_stream(path: Path) -> Iterator[tuple[Any, Any]]:
    """The file opened with PyAV and its first video stream; MediaError when it cannot be read
    as a video or has no video stream."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"could not read {path} as a video: {exc}") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{path} has no video stream")
        yield container, container.streams.video[0]


def probe(path: Path) -> VideoInfo:
    """Duration, size and codec of a video; raises MediaError when it has no video stream.

    Read in-process with PyAV (libavformat, as ffprobe): about 7 ms a file against 70-80 ms for
    an ffprobe process, which a scene paid four times. The values are ffprobe's, in ffprobe's
    JSON types (`r_frame_rate` "15/1", `time_base` "1/15360", `sample_rate` "48000"), so records
    stored before compare equal (tests/media/test_probe.py checks it against ffprobe on the same files)."""
    with _video_stream(path) as (container, v):
        cc = v.codec_context
        rate = v.base_rate
        sound = container.streams.audio
        audio = None
        if sound:
            a = sound[0].codec_context
            audio = (a.name, str(a.sample_rate), a.layout.nb_channels)
        duration = container.duration / 1_000_000 if container.duration else 0.0
        if not duration and v.duration and v.time_base:
            duration = float(v.duration * v.time_base)
        return VideoInfo(
            duration=duration,
            width=int(cc.width),
            height=int(cc.height),
            fps=float(rate) if rate else 0.0,
            codec=cc.name or "?",
            bytes=path.stat().st_size,
            params=(
                cc.name, cc.profile, cc.width, cc.height, cc.format.name if cc.format else None,
                f"{rate.numerator}/{rate.denominator}" if rate else "0/0",
                f"{v.time_base.numerator}/{v.time_base.denominator}" if v.time_base else None,
            ),
            audio=audio,
        )


def video_stream_duration(path: Path) -> float:
    """The video stream's own duration, as ffprobe's stream `duration` (a container's may
    include a longer audio stream); in-process like `probe`."""
    with _video_stream(path) as (container, v):
        if v.duration is not None and v.time_base:
            return float(v.duration * v.time_base)
        return container.duration / 1_000_000 if container.duration else 0.0


def thumbnail(video: Path, out: Path, at: float, width: int = 480) -> Path:
    """One JPEG frame at `at` seconds, scaled to `width`."""
    try:
        (
            ffmpeg.input(str(video), ss=max(0.0, at))
            .output(str(out), vframes=1, vf=f"scale={width}:-2", **{"q:v": 3})
            .overwrite_output()
            .run(quiet=True)
        )
    except ffmpeg.Error as exc:
        raise MediaError(f"thumbnail failed: {exc.stderr.decode(errors='replace')[-400:]}") from exc
    if not out.exists() or out.stat().st_size == 0:
        raise MediaError(f"thumbnail of {video} at {at:.2f}s produced no image")
    return out


def concat(videos: list[Path], out: Path, infos: list[VideoInfo | None] | None = None) -> str:
    """Join videos in order. Returns the method used: 'stream-copy' or 're-encode'.

    `infos` are the videos' probes when the caller already has them (None entries are probed).
    Scenes with sound and scenes without (made before narration) are re-encoded together: the
    caller gives the silent ones a silent track first (narration_audio.mux) to keep a copy."""
    if not videos:
        raise MediaError("nothing to join")
    known = infos or [None] * len(videos)
    infos = [info or probe(v) for v, info in zip(videos, known, strict=True)]
    same = all(i.params == infos[0].params and i.audio == infos[0].audio for i in infos)
    try:
        if same:
            listing = out.with_suffix(".concat.txt")
            listing.write_text(
                "".join(f"file '{v.resolve().as_posix()}'\n" for v in videos), encoding="utf-8"
            )
            (
                ffmpeg.input(str(listing), f="concat", safe=0)
                .output(str(out), c="copy", movflags="+faststart")
                .overwrite_output()
                .run(quiet=True)
            )
            listing.unlink()
            return "stream-copy"
        first = infos[0]
        fps = first.fps or 30
        sound = all(i.audio for i in infos)
        streams = []
        for v in videos:
            source = ffmpeg.input(str(v))
            streams.append(source.video.filter("scale", first.width, first.height).filter("fps", fps))
            if sound:
                streams.append(source.audio.filter("aresample", 48000))
        extra = {"acodec": "aac", "ar": 48000, "ac": 1, "audio_bitrate": "128k"} if sound else {}
        (
            ffmpeg.concat(*streams, v=1, a=int(sound))
            .output(str(out), vcodec="libx264", pix_fmt="yuv420p", movflags="+faststart", **extra)
            .overwrite_output()
            .run(quiet=True)
        )
        return "re-encode"
    except ffmpeg.Error as exc:
        raise MediaError(f"joining {len(videos)} scenes failed: {exc.stderr.decode(errors='replace')[-400:]}") from exc


# --- subtitles -----------------------------------------------------------------------------------


def _stamp(seconds: float, sep: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    return "".join(
        f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{c.text}\n\n"
        for i, c in enumerate(cues, 1)
    )


def to_vtt(cues: list[Cue]) -> str:
    body = "".join(f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}\n{c.text}\n\n" for c in cues)
    return "WEBVTT\n\n" + body


def parse_srt(text: str) -> list[Cue]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().splitlines()
        if len(lines) < 3 or "-->" not in lines[1]:
            continue
        start, _, end = lines[1].partition(" --> ")
        cues.append(Cue(_parse_stamp(start), _parse_stamp(end), "\n".join(lines[2:])))
    return cues


def _parse_stamp(stamp: str) -> float:
    hms, _, ms = stamp.strip().replace(".", ",").partition(",")
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s + int(ms) / 1000


def fit_cues(cues: list[Cue], duration: float) -> list[Cue]:
    """Clamp a scene's cues to its real (probed) duration; the last cue runs to the end."""
    out = [Cue(min(c.start, duration), min(c.end, duration), c.text) for c in cues]
    if out:
        out[-1] = Cue(out[-1].start, duration, out[-1].text)
    return [c for c in out if c.end > c.start]


def spread_cues(texts: list[str], duration: float) -> list[Cue]:
    step = duration / max(1, len(texts))
    return [Cue(round(i * step, 3), round((i + 1) * step, 3), t) for i, t in enumerate(texts)]


def frames(video: Path, folder: Path, count: int, duration: float) -> list[Path]:
    """`count` PNG frames spread over the video (for the visual review)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        at = duration * (i + 1) / (count + 1)
        png = folder / f"frame{i + 1}.png"
        try:
            ffmpeg.input(str(video), ss=at).output(str(png), vframes=1).overwrite_output().run(quiet=True)
        except ffmpeg.Error as exc:
            raise MediaError(f"frame at {at:.2f}s failed: {exc.stderr.decode(errors='replace')[-300:]}") from exc
        out.append(png)
    return out


def offset_cues(per_scene: list[tuple[list[Cue], float]]) -> list[Cue]:
    """Join scenes' cues: each scene's cues shift by the durations of the scenes before it."""
    out, offset = [], 0.0
    for cues, duration in per_scene:
        out += [Cue(round(c.start + offset, 3), round(c.end + offset, 3), c.text) for c in cues]
        offset += duration
    return out

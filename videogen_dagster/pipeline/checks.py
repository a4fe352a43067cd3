"""What a stored scene is checked for: its layout findings, its length against the request's
limit, and its probed streams against what the request asked for. Plain results; the Dagster
wiring shows them as asset checks on the scene video."""

from __future__ import annotations

from dataclasses import dataclass, field

from videogen_dagster.media.ffmpeg import VideoInfo
from videogen_dagster.media.narration_audio import AUDIO_CHANNELS, AUDIO_RATE
from videogen_dagster.models import RenderConfig
from videogen_dagster.pipeline.services import DURATION_TOLERANCE

LAYOUT, DURATION, STREAMS = "layout", "duration_within_limit", "stream_parameters"
NAMES = (LAYOUT, DURATION, STREAMS)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    description: str
    # Failing the layout check is advice (WARN); a wrong length or stream is an error.
    blocking: bool = True
    metadata: dict = field(default_factory=dict)


def scene_checks(
    info: VideoInfo, render: RenderConfig, findings: list[dict], inspected: int
) -> list[Check]:
    width, height, fps = render.output_format()
    limit = render.max_scene_duration
    layout_text = (
        f"{len(findings)} layout finding(s) over {inspected} animation(s)"
        if inspected
        else "not inspected (no report from the render)"
    )
    expected_audio = ("aac", AUDIO_RATE, AUDIO_CHANNELS)
    audio = info.audio and (info.audio[0], int(info.audio[1]), int(info.audio[2]))
    streams_ok = (
        (info.width, info.height) == (width, height)
        and abs(info.fps - fps) < 0.01
        and info.codec == "h264"
        and audio == expected_audio
    )
    return [
        Check(
            LAYOUT,
            not findings,
            layout_text,
            blocking=False,
            metadata={
                "findings": [f["message"] for f in findings][:20],
                "animations_inspected": inspected,
            },
        ),
        Check(
            DURATION,
            info.duration <= limit + DURATION_TOLERANCE,
            f"{info.duration:.2f} s; max_scene_duration {limit:g} s",
            metadata={"duration": round(info.duration, 3), "limit": limit},
        ),
        Check(
            STREAMS,
            bool(streams_ok),
            f"video {info.codec} {info.width}x{info.height} {info.fps:g} fps, audio "
            f"{'/'.join(map(str, info.audio)) if info.audio else 'none'}; expected h264 "
            f"{width}x{height} {fps} fps, audio {'/'.join(map(str, expected_audio))}",
        ),
    ]

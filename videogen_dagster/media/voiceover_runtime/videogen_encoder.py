"""Manim's partial-movie encoder, with less work per frame and the same pixels.

Copied next to the scene's code before every render (videogen_dagster/media/encoder.py) and
installed by the render's runner: `videogen_layout` imports it, and without the layout inspector
the render starts as `python -m videogen_encoder render ...` (Manim's own arguments).

Manim 0.22 encodes each animation on a thread through PyAV. For every frame it copies the RGBA
array into a new AVFrame (`VideoFrame.from_ndarray`, an element-wise Cython copy), and PyAV
converts that frame to yuv420p inside `encode`; a still frame repeated N times (`self.wait()`)
is copied and converted N times. Here the array is wrapped without a copy
(`VideoFrame.from_numpy_buffer`), converted once by one reusable converter (the same swscale
conversion PyAV makes), and the converted frame is sent once per repeat with its own timestamp.
The encoder receives the same pixels, so with the same x264 options the video is bit-identical
(tests/media/test_encoder.py decodes both and compares every frame).

`encoder_config.json` beside this file sets x264's `preset` and `crf` for libx264 segments (what
`[video_encoder.options]` in manim.cfg would set). Imports only the standard library, av and
manim (what the sandbox has). This file runs in the same process as the untrusted scene code,
which could undo it: it only ever changes the speed of that scene's own render.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).resolve().parent / "encoder_config.json"
X264_KEYS = ("preset", "crf")


def x264_options() -> dict[str, str]:
    """The x264 options of encoder_config.json (none when it is absent or unreadable)."""
    try:
        data = json.loads(CONFIG.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(data[k]) for k in X264_KEYS if data.get(k) not in (None, "")}


def install(options: dict[str, str] | None = None) -> None:
    """Replace VideoSegmentEncoder's frame writer; apply the x264 options to libx264 segments."""
    import av
    from av.video.reformatter import VideoReformatter
    from manim.scene.video_segment_encoder import VideoSegmentEncoder

    extra = x264_options() if options is None else options
    original_init = VideoSegmentEncoder.__init__

    def __init__(self: Any, *, target: Path, spec: Any) -> None:
        if extra and spec.codec == "libx264":
            merged = {**dict(spec.options), **extra}
            spec = dataclasses.replace(spec, options=tuple(sorted(merged.items())))
        original_init(self, target=target, spec=spec)
        self._vg_converter = VideoReformatter()

    def write_frame(self: Any, pixels: Any, *, repeat: int = 1) -> None:
        self._validate_frame(pixels, repeat)  # shape, dtype, C-contiguous, not closed
        rate = self.spec.frame_rate
        try:
            rgba = av.VideoFrame.from_numpy_buffer(pixels, format="rgba")
            ctx = self._stream.codec_context
            frame = self._vg_converter.reformat(rgba, ctx.width, ctx.height, ctx.pix_fmt)
            frame.time_base = Fraction(rate.denominator, rate.numerator)
            for _ in range(repeat):
                frame.pts = self._next_pts
                self._next_pts += 1
                for packet in self._stream.encode(frame):
                    self._container.mux(packet)
        except BaseException as error:
            raise self._operation_error("encode", error) from error

    VideoSegmentEncoder.__init__ = __init__  # type: ignore[method-assign]
    VideoSegmentEncoder.write_frame = write_frame  # type: ignore[method-assign]


def run_manim() -> None:
    from manim.__main__ import main as manim_main

    sys.argv[0] = "manim"
    manim_main()


def main() -> None:
    install()
    run_manim()


if __name__ == "__main__":
    main()

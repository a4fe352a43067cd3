"""Whether `render_config.use_hardware_acceleration` can be honoured on this machine, said plainly.

Manim encodes each scene itself (PyAV, libx264), so a hardware encoder is not used yet even where
one works; the request's flag is never silently ignored: the 202, the result and the manifest
carry a warning that says which of the two cases it is.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

from videogen_dagster.models import RenderConfig

# The hardware H.264 encoder looked for: NVIDIA's (VA-API and QSV need a device and an upload
# filter chosen per machine; not probed).
HW_ENCODERS = ("h264_nvenc",)


@lru_cache(maxsize=1)
def hardware_encoder() -> str | None:
    """The first hardware encoder that encodes a few frames here (None: none works). ffmpeg lists
    NVENC wherever it was built with it; only an encode shows a device is there."""
    for encoder in HW_ENCODERS:
        try:
            probe = subprocess.run(
                ["ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=256x144:rate=15",
                 "-frames:v", "3", "-c:v", encoder, "-f", "null", "-"],
                capture_output=True, timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return encoder
    return None


def hardware_warnings(render: RenderConfig | dict | None) -> list[str]:
    """The warning as a list (empty when the request did not ask), for the answer's warnings."""
    warning = hardware_acceleration_warning(render)
    return [warning] if warning else []


def hardware_acceleration_warning(render: RenderConfig | dict | None) -> str | None:
    """The warning for a request that asked for hardware acceleration (None: it did not)."""
    if isinstance(render, dict):
        render = RenderConfig.model_validate(render)
    if render is None or not render.use_hardware_acceleration:
        return None
    encoder = hardware_encoder()
    if encoder is None:
        return (
            "render_config.use_hardware_acceleration: this machine has no working hardware H.264 "
            "encoder (ffmpeg's h264_nvenc found no NVIDIA device); scenes are encoded in software "
            "(libx264)"
        )
    return (
        f"render_config.use_hardware_acceleration: {encoder} works on this machine, but Manim "
        "encodes each scene itself with libx264; hardware encoding is not used yet"
    )

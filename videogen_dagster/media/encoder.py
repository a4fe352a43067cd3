"""How every render encodes its video: Manim's partial-movie encoder with less work per frame
(voiceover_runtime/videogen_encoder.py, copied beside the scene's code and installed by the
render's runner) and x264's preset and crf from the settings (VIDEOGEN_X264_PRESET, _CRF).

Measured on a 1080p60 scene (tests/media/test_encoder.py checks the frames, bench_encoder.py the
CPU): the same file byte for byte with Manim's own x264 options and about a fifth less CPU; with
veryfast at crf 21, about a third less CPU than bare Manim, for a PSNR about 1 dB under Manim's
(medium, crf 23) and a file about 10% larger."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from videogen_dagster.settings import get_settings

RUNTIME = Path(__file__).resolve().parent / "voiceover_runtime" / "videogen_encoder.py"
RUNNER_MODULE = RUNTIME.stem  # `python -m videogen_encoder render ...` instead of `-m manim`
CONFIG_FILE = "encoder_config.json"


@dataclass(frozen=True)
class EncoderOptions:
    """x264's options for libx264 segments; preset None keeps Manim's own (medium, crf 23).
    The defaults are the settings' (`from_settings`)."""

    preset: str | None
    crf: int | None

    @classmethod
    def from_settings(cls) -> EncoderOptions:
        s = get_settings()
        if s.x264_preset == "manim":
            return cls(preset=None, crf=None)
        return cls(preset=s.x264_preset, crf=s.x264_crf)

    def x264(self) -> dict[str, str]:
        if self.preset is None:
            return {}
        return {"preset": self.preset, **({"crf": str(self.crf)} if self.crf is not None else {})}


def install(workdir: Path, options: EncoderOptions) -> None:
    """The encoder runtime and its options beside the scene's code."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(RUNTIME, workdir / RUNTIME.name)
    (workdir / CONFIG_FILE).write_text(json.dumps(options.x264()), encoding="utf-8")

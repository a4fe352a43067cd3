"""Benchmark: a scene's render with our encoder runtime against bare Manim, in the same run.

Renders one offline-template scene (unconfined, no layout inspector, so only the encoding
differs) with bare `python -m manim` (Manim's own x264 options: medium, crf 23), with our encoder
runtime and Manim's options (the same frames bit for bit), and with the settings' options
(VIDEOGEN_X264_PRESET/_CRF, default veryfast/21), alternating, and prints per way the median CPU
seconds (user + system of the render's processes, steadier than wall time on a shared machine),
the wall time, the file size, and its PSNR and SSIM against a lossless render of the same scene.

    python bench/bench_encoder.py [--quality high] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from videogen_dagster.authoring.codegen import generate_scene_code  # noqa: E402
from videogen_dagster.authoring.planning import plan_offline  # noqa: E402
from videogen_dagster.media import encoder  # noqa: E402
from videogen_dagster.media.encoder import EncoderOptions  # noqa: E402
from videogen_dagster.media.rendering import manim_command  # noqa: E402
from videogen_dagster.models import RenderConfig  # noqa: E402

WAYS = {
    "bare manim": None,
    "ours, Manim's options": EncoderOptions(None, None),
    "ours, settings": EncoderOptions.from_settings(),
}


def scene_code() -> tuple[str, str]:
    plan = plan_offline("bench", "enc", "Explain the Pythagorean theorem", 3, False)
    scene = plan.scenes[-1]
    return generate_scene_code(scene, 20.0).code, f"Scene{scene.scene_number:02d}"


def render(code: str, cls: str, work: Path, rc: RenderConfig, options: EncoderOptions | None) -> tuple[float, float, Path]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "scene.py").write_text(code)
    module = "manim"
    if options is not None:
        encoder.install(work, options)
        module = encoder.RUNNER_MODULE
    cmd = manim_command(work / "scene.py", cls, work / "media", rc, module)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    video = next(p for p in (work / "media").rglob("scene.mp4") if "partial" not in str(p))
    return cpu, wall, video


def quality_against(video: Path, reference: Path) -> tuple[float, float]:
    out = subprocess.run(
        ["ffmpeg", "-i", str(video), "-i", str(reference), "-lavfi", "[0:v][1:v]psnr;[0:v][1:v]ssim",
         "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    psnr = re.search(r"PSNR .*average:([0-9.inf]+)", out).group(1)
    ssim = re.search(r"SSIM .*All:([0-9.]+)", out).group(1)
    return float(psnr), float(ssim)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", default="high")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rc = RenderConfig(quality=args.quality)
    code, cls = scene_code()
    figures: dict[str, dict] = {way: {"cpu": [], "wall": []} for way in WAYS}
    with tempfile.TemporaryDirectory(prefix="bench-encoder-") as tmp:
        root = Path(tmp)
        _, _, reference = render(code, cls, root / "lossless", rc, EncoderOptions("ultrafast", 0))
        for _ in range(args.repeats):
            for i, (way, options) in enumerate(WAYS.items()):
                cpu, wall, video = render(code, cls, root / f"way{i}", rc, options)
                figures[way]["cpu"].append(cpu)
                figures[way]["wall"].append(wall)
                figures[way]["bytes"] = video.stat().st_size
                figures[way]["psnr"], figures[way]["ssim"] = quality_against(video, reference)
    base = statistics.median(figures["bare manim"]["cpu"])
    print(f"{cls}, {args.quality}, {args.repeats} repetitions, options of 'settings': {WAYS['ours, settings'].x264()}")
    print(f"{'way':24s} {'CPU s':>7s} {'/bare':>6s} {'wall s':>7s} {'kB':>6s} {'PSNR dB':>8s} {'SSIM':>7s}")
    for way, f in figures.items():
        f["cpu_median"], f["wall_median"] = statistics.median(f["cpu"]), statistics.median(f["wall"])
        f["cpu_ratio"] = f["cpu_median"] / base
        print(f"{way:24s} {f['cpu_median']:7.2f} {f['cpu_ratio']:6.2f} {f['wall_median']:7.2f} "
              f"{f['bytes'] / 1000:6.0f} {f['psnr']:8.2f} {f['ssim']:7.4f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The pipeline against baselines measured in the same run, on the same machine.

For each repetition: a 3-scene video through the REST bridge (request to `completed`; webserver,
daemon, plan run, scene runs, join), then its baseline: the same stored scene sources rendered
by bare `python -m manim` (no confinement, no layout inspector, no uploads), actually run at the
configured concurrency (dagster.yaml's scene limit, 3), plus a bare stream-copy join. The ratio
pipeline / baseline is per repetition; medians and spreads are printed.

At high quality (1080p60) it also times TheoremExplainAgent's way on the same sources: one scene
after another with `-qh`, then a re-encoding join (its `combine_videos` uses moviepy's
`concatenate_videoclips` + `write_videofile`, i.e. a libx264 re-encode); that over ours.

Narration is off on both sides (speech synthesis has no bare equivalent here; bench_narration.py
measures it). Usage: python bench/bench_pipeline.py [--qualities preview,high] [--repeats 3]
[--high-repeats 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._stack import generate, stack  # noqa: E402
from videogen_dagster.authoring.codegen import scene_class_in  # noqa: E402
from videogen_dagster.media.ffmpeg import concat  # noqa: E402
from videogen_dagster.media.rendering import manim_command  # noqa: E402
from videogen_dagster.models import RenderConfig  # noqa: E402

PROMPT = "Explain the Pythagorean theorem"
CONCURRENCY = 3  # dagster.yaml: videogen/kind=scene limit


def pipeline_once(client, quality: str, scenes: int, n: int) -> tuple[float, dict]:
    body = {"project_id": "bench", "session_id": f"pipe-{quality}-{n}", "content_prompt": PROMPT,
            "scene_count": scenes, "render_config": {"quality": quality}, "narration_config": {"enabled": False}}
    wall, _, result = generate(client, body, timeout=1800)
    return wall, result


def _bare_render(src: Path, work: Path, rc: RenderConfig, flag_quality: str | None = None) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, work / "scene.py")
    cmd = manim_command(work / "scene.py", scene_class_in(src.read_text()), work / "media", rc)
    if flag_quality:  # TheoremExplainAgent renders with Manim's preset flag alone (-qh: 1080p60)
        cmd = [*cmd[:cmd.index("-q")], "-q", flag_quality, *cmd[cmd.index("--format"):]]
    subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    return next((work / "media").rglob("scene.mp4"))


def baseline_once(result: dict, quality: str, work: Path) -> float:
    """Bare renders at the configured concurrency, then a bare join."""
    rc = RenderConfig(quality=quality)
    sources = [Path(urlparse(s["s3_source_url"]).path) for s in result["scenes"]]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        videos = list(pool.map(lambda i: _bare_render(sources[i], work / f"s{i}", rc), range(len(sources))))
    concat(videos, work / "joined.mp4")
    return time.perf_counter() - t0


def tea_once(result: dict, work: Path) -> float:
    """TheoremExplainAgent's way: `-qh` renders one after another, then a re-encoding join."""
    rc = RenderConfig(quality="high")
    sources = [Path(urlparse(s["s3_source_url"]).path) for s in result["scenes"]]
    t0 = time.perf_counter()
    videos = [_bare_render(src, work / f"t{i}", rc, flag_quality="h") for i, src in enumerate(sources)]
    listing = work / "tea.txt"
    listing.write_text("".join(f"file '{v.resolve()}'\n" for v in videos))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c:v", "libx264", "-c:a", "aac", str(work / "tea.mp4")], check=True)
    return time.perf_counter() - t0


def spread(values: list[float]) -> float:
    return max(values) - min(values) if values else 0.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qualities", default="preview,high")
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--high-repeats", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    import httpx

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    figures: dict = {}
    with stack(work / "var") as api, httpx.Client(base_url=api, timeout=30) as client:
        # A first generation warms the stack (code location, warm parent, Manim's imports).
        pipeline_once(client, "preview", 1, 0)
        for quality in args.qualities.split(","):
            reps = args.high_repeats if quality in ("high", "production") else args.repeats
            rows = []
            for n in range(1, reps + 1):
                wall, result = pipeline_once(client, quality, args.scenes, n)
                base = baseline_once(result, quality, work / f"{quality}-{n}")
                row = {"pipeline": wall, "baseline": base, "ratio": wall / base}
                if quality == "high":
                    row["tea"] = tea_once(result, work / f"{quality}-{n}")
                    row["tea_ratio"] = row["tea"] / wall
                rows.append(row)
                print(f"{quality} #{n}: pipeline {wall:.2f} s, baseline {base:.2f} s, ratio {row['ratio']:.2f}"
                      + (f"; TheoremExplainAgent's way {row['tea']:.2f} s = {row['tea_ratio']:.2f}x ours"
                         if "tea" in row else ""), flush=True)
            ratios = [r["ratio"] for r in rows]
            figures[quality] = {"rows": rows, "median_ratio": statistics.median(ratios), "spread": spread(ratios)}
            if quality == "high":
                figures[quality]["median_tea_ratio"] = statistics.median(r["tea_ratio"] for r in rows)
    print(f"\n{args.scenes} scenes, narration off, concurrency {CONCURRENCY}, median (spread) of pipeline/baseline:")
    for quality, f in figures.items():
        print(f"  {quality}: {f['median_ratio']:.2f} ({f['spread']:.2f})"
              + (f"; TheoremExplainAgent's way / ours {f['median_tea_ratio']:.2f}" if "median_tea_ratio" in f else ""))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

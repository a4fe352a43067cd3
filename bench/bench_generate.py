"""Benchmark: a 3-scene preview video through `videogen generate`, against bare Manim renders.

Prints the pipeline's wall time, each scene's bare render time (`python -m manim` on the same
stored source, same flags, measured in this run), the ideal makespan (the longest critical path
of the bare renders scheduled at the configured concurrency, plus a bare join), and the ratio of
wall time to ideal. Usage: python bench/bench_generate.py [--scenes 3] [--concurrency 3] [--via-bridge]

--via-bridge: the same request through the REST bridge, a Dagster webserver and daemon (plan run,
chain sensor, scene runs on the warm run launcher, the last one joining), timed from the request
to `completed`, with each run's timeline from Dagster's event log and the orchestration hops
(bench/bench_hops.py: request -> plan step start, plan materialised -> scene runs created).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from videogen_dagster.authoring.codegen import scene_class_in  # noqa: E402
from videogen_dagster.media.ffmpeg import concat  # noqa: E402
from videogen_dagster.media.rendering import manim_command  # noqa: E402
from videogen_dagster.models import RenderConfig  # noqa: E402


def makespan(durations: list[float], workers: int) -> float:
    """Greedy list scheduling in submission order, as the run queue does."""
    free = [0.0] * max(1, workers)
    heapq.heapify(free)
    end = 0.0
    for d in durations:
        start = heapq.heappop(free)
        heapq.heappush(free, start + d)
        end = max(end, start + d)
    return end


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=3)
    ap.add_argument("--prompt", default="Explain the Pythagorean theorem")
    ap.add_argument("--via-bridge", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    steps: list[str] = []
    if args.via_bridge:
        import httpx

        from bench._stack import post_and_poll, stack, task_result, timeline

        if args.concurrency != 3:
            print("--via-bridge uses dagster.yaml's scene cap (3)", file=sys.stderr)
        with stack(work / "var") as api, httpx.Client(base_url=api, timeout=30) as client:
            wall0 = time.time()
            wall, status = post_and_poll(client, {
                "project_id": "bench", "content_prompt": args.prompt, "scene_count": args.scenes,
                "render_config": {"quality": "preview"}})
            if status["status"] != "completed":
                print(status, file=sys.stderr)
                return 1
            result = task_result(client, status["task_id"])
            steps = timeline(work / "var" / "dagster", status["task_id"], wall0)
            from bench.bench_hops import hops

            steps += [f"  hop {k}: {v:.2f} s" for k, v in hops(work / "var" / "dagster", status["task_id"], wall0).items()]
        how = "REST bridge + webserver + daemon, request to completed"
    else:
        env = {**os.environ, "VIDEOGEN_VAR_DIR": str(work / "var"), "DAGSTER_HOME": str(work / "var" / "dagster")}
        cmd = [sys.executable, "-m", "videogen_dagster.cli", "generate", args.prompt, "--scenes", str(args.scenes),
               "--quality", "preview", "--concurrency", str(args.concurrency), "--project", "bench", "--json"]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return 1
        result = json.loads(proc.stdout)
        how = "videogen generate, process start to exit"

    bare = []
    rc = RenderConfig(quality="preview")
    videos = []
    for scene in result["scenes"]:
        src = Path(urlparse(scene["s3_source_url"]).path)
        d = work / f"bare{scene['scene_number']}"
        d.mkdir()
        shutil.copy(src, d / "scene.py")
        c = manim_command(d / "scene.py", scene_class_in(src.read_text()), d / "media", rc)
        t = time.perf_counter()
        subprocess.run(c, cwd=d, check=True, capture_output=True)
        bare.append(time.perf_counter() - t)
        videos.append(next((d / "media").rglob("scene.mp4")))
    t = time.perf_counter()
    concat(videos, work / "joined.mp4")
    join = time.perf_counter() - t
    ideal = makespan(bare, args.concurrency) + join

    print(f"scenes:              {len(bare)} at preview (854x480, 15 fps), concurrency {args.concurrency}, {os.cpu_count()} cores")
    print(f"video duration:      {result['total_duration']:.2f} s")
    print(f"pipeline wall time:  {wall:.2f} s  ({how})")
    for i, b in enumerate(bare, 1):
        print(f"bare render scene {i}: {b:.2f} s")
    print(f"bare join:           {join:.2f} s")
    print(f"ideal makespan:      {ideal:.2f} s  (critical path of bare renders at concurrency {args.concurrency} + join)")
    print(f"ratio wall/ideal:    {wall / ideal:.2f}")
    if steps:
        print("timeline (seconds after the request):")
        print("\n".join(steps))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

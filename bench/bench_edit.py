"""Benchmark: edit latency, from the edit-scene request to `completed`, through the REST bridge,
Dagster webserver and daemon, against the bare render of that one scene (`python -m manim` on
its edited source, same flags) plus a bare join, measured in the same run.
Three edits in one run; prints each, the median ratio, and where each edit's time went (queue,
worker start-up, step) from Dagster's event log. Usage: python bench/bench_edit.py"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._stack import post_and_poll, stack, task_result, timeline  # noqa: E402
from videogen_dagster.authoring.codegen import scene_class_in  # noqa: E402
from videogen_dagster.media.ffmpeg import concat  # noqa: E402
from videogen_dagster.media.rendering import manim_command  # noqa: E402
from videogen_dagster.models import RenderConfig  # noqa: E402

EDITS = ["make it blue and slower", "make it red", "make it green and faster"]


def edit_once(client: httpx.Client, var: Path, scene_id: str, prompt: str, n: int) -> dict:
    """One edit through the bridge, then the bare render of its new source and the bare join."""
    wall0 = time.time()
    latency, done = post_and_poll(client, {"scene_id": scene_id, "project_id": "bench", "edit_prompt": prompt},
                                  path="/edit-scene")
    assert done["status"] == "completed", done
    after = task_result(client, done["task_id"])
    steps = timeline(var / "dagster", done["task_id"], wall0)
    # Bare, with the same servers up (idle): the edited scene's source rendered by Manim alone,
    # then the join of the three scenes.
    src = Path(urlparse(after["scenes"][1]["s3_source_url"]).path)
    work = var / f"bare{n}"
    work.mkdir()
    shutil.copy(src, work / "scene.py")
    cmd = manim_command(work / "scene.py", scene_class_in(src.read_text()), work / "media", RenderConfig(quality="preview"))
    t = time.perf_counter()
    subprocess.run(cmd, cwd=work, check=True, capture_output=True)
    bare = time.perf_counter() - t
    videos = [Path(urlparse(s["s3_video_url"]).path) for s in after["scenes"]]
    t = time.perf_counter()
    concat(videos, work / "joined.mp4")
    join = time.perf_counter() - t
    return {"prompt": prompt, "latency": latency, "bare": bare, "join": join,
            "ratio": latency / (bare + join), "steps": steps}


def main() -> int:
    out = Path(sys.argv[sys.argv.index("--json") + 1]) if "--json" in sys.argv else None
    var = Path(tempfile.mkdtemp(prefix="videogen-bench-edit-"))
    try:
        with stack(var) as api, httpx.Client(base_url=api, timeout=30) as client:
            _, gen = post_and_poll(client, {
                "project_id": "bench", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 3,
                "render_config": {"quality": "preview"}})
            assert gen["status"] == "completed", gen
            before = task_result(client, gen["task_id"])
            scene_id = before["scenes"][1]["scene_id"]
            edits = [edit_once(client, var, scene_id, prompt, n) for n, prompt in enumerate(EDITS)]
    finally:
        shutil.rmtree(var, ignore_errors=True)
    print("edits of scene 2 of 3 at preview, through bridge + webserver + daemon (same servers up for the bare runs)")
    print(f"{'edit prompt':28s} {'latency':>8s} {'render':>7s} {'join':>6s} {'ratio':>6s}")
    for e in edits:
        print(f"{e['prompt']:28s} {e['latency']:7.2f}s {e['bare']:6.2f}s {e['join']:5.2f}s {e['ratio']:6.2f}")
    ratios = sorted(e["ratio"] for e in edits)
    print(f"median ratio latency / (bare render + bare join): {ratios[len(ratios) // 2]:.2f} (target <= 1.15)")
    if out:
        out.write_text(json.dumps({"median_ratio": ratios[len(ratios) // 2], "spread": ratios[-1] - ratios[0],
                                   "edits": [{k: v for k, v in e.items() if k != "steps"} for e in edits]}))
    print("timelines (seconds after each request):")
    for e in edits:
        print(f"  {e['prompt']}")
        print("\n".join(e["steps"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

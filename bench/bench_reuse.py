"""Benchmark: the same session generated twice with unchanged inputs renders nothing the second time.

For each quality, generates a 3-scene video, then the same request again (same session), and
prints both wall times and their ratio, with the scene and joined versions of each (the second
must keep the first's). Through the CLI (process start to exit) and through the REST bridge
(request to `completed`, webserver + daemon + warm run launcher).
Targets (issue 17): second/first under 25% at preview, under 10% at high quality (1080p60).

Usage: python bench/bench_reuse.py [--qualities preview high] [--scenes 3] [--no-bridge] [--no-cli]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT = "Explain the Pythagorean theorem"
TARGET = {"preview": 0.25, "high": 0.10}


def _versions(result: dict) -> tuple[list[int], int]:
    return [s["version"] for s in result["scenes"]], int(result.get("combined_version") or 0)


def cli_twice(work: Path, quality: str, scenes: int) -> list[tuple[float, dict]]:
    var = work / f"cli-{quality}"
    env = {**os.environ, "VIDEOGEN_VAR_DIR": str(var), "DAGSTER_HOME": str(var / "dagster")}
    cmd = [sys.executable, "-m", "videogen_dagster.cli", "generate", PROMPT, "--scenes", str(scenes),
           "--quality", quality, "--project", "bench", "--session", f"reuse-{quality}", "--json"]
    out = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        out.append((wall, json.loads(proc.stdout)))
    return out


def bridge_twice(work: Path, quality: str, scenes: int) -> list[tuple[float, dict]]:
    import httpx

    from bench._stack import generate, stack

    out = []
    with stack(work / f"bridge-{quality}") as api, httpx.Client(base_url=api, timeout=30) as client:
        body = {"project_id": "bench", "session_id": f"reuse-{quality}", "content_prompt": PROMPT,
                "scene_count": scenes, "render_config": {"quality": quality}}
        for _ in range(2):
            wall, status, result = generate(client, body, timeout=1800)
            out.append((wall, {**result, "message": status.get("message", "")}))
    return out


def report(how: str, quality: str, runs: list[tuple[float, dict]]) -> bool:
    (w1, r1), (w2, r2) = runs
    v1, v2 = _versions(r1), _versions(r2)
    ratio = w2 / w1
    ok = v1 == v2 and ratio < TARGET.get(quality, 1.0)
    print(f"{how:<7} {quality:<8} first {w1:7.2f} s   second {w2:6.2f} s   ratio {ratio:5.3f}"
          f" (target < {TARGET.get(quality, 1.0):.2f})   versions {v1[0]}/{v1[1]} -> {v2[0]}/{v2[1]}"
          f"   {'ok' if ok else 'NOT MET'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--qualities", nargs="+", default=["preview", "high"])
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--no-bridge", action="store_true")
    ap.add_argument("--no-cli", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videogen-bench-reuse-"))
    print(f"{args.scenes} scenes, {os.cpu_count()} cores; versions: scene versions / joined version")
    ok = True
    try:
        for quality in args.qualities:
            if not args.no_cli:
                ok &= report("cli", quality, cli_twice(work, quality, args.scenes))
            if not args.no_bridge:
                ok &= report("bridge", quality, bridge_twice(work, quality, args.scenes))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

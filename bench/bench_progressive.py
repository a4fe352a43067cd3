"""Benchmark: progressive rendering (render_config.progressive), time to first preview against
time to final, and what the previews cost the final.

One video of N scenes (default 3) at a final quality (default medium, 1080p30) is generated with
and without `progressive`, alternately, `--reps` times each, in this one run on this machine.
For each generation it prints, in seconds after the request: the first and the last scene
preview (`scene.preview` events), the first finished scene (`scene.rendered`: what an app could
show without previews) and the task's completion; then the medians (and spreads) and the ratios
that matter: first preview / final (how early an app shows something) and final with previews /
final without (what the previews cost).

Usage: python bench/bench_progressive.py [--scenes 3] [--quality medium] [--reps 2]
       [--max-scene-duration 20] [--via-bridge]

Default: `videogen generate` (the chain in process; times from the event log, against the
moment the process was started). --via-bridge: the REST bridge, a Dagster webserver and daemon
(plan run, scene runs, join), timed as a client polling GET .../status every 0.1 s sees it: the
first poll whose `previews` lists a scene, and `completed`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._stack import child_env  # noqa: E402

KEYS = ("first_preview", "all_previews", "first_rendered", "final")


def _at(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _from_events(var: Path, t0: float, task_id: str = "%") -> dict[str, float | None]:
    """Times after t0 (Unix seconds) of the task's events, read from the metadata store's log."""
    with sqlite3.connect(var / "metadata.sqlite") as db:
        rows = db.execute(
            "SELECT type, created_at FROM task_events WHERE task_id LIKE ? ORDER BY id", (task_id,)
        ).fetchall()
    previews = [_at(c) - t0 for t, c in rows if t == "scene.preview"]
    rendered = [_at(c) - t0 for t, c in rows if t == "scene.rendered"]
    done = [_at(c) - t0 for t, c in rows if t == "task.completed"]
    return {
        "first_preview": min(previews, default=None),
        "all_previews": max(previews, default=None),
        "first_rendered": min(rendered, default=None),
        "final": done[-1] if done else None,
    }


def via_cli(args, progressive: bool, work: Path, n: int) -> dict[str, float | None]:
    var = work / f"var{n}"
    env = child_env(VIDEOGEN_VAR_DIR=str(var), DAGSTER_HOME=str(var / "dagster"))
    cmd = [sys.executable, "-m", "videogen_dagster.cli", "generate", args.prompt, "--scenes", str(args.scenes),
           "--quality", args.quality, "--max-scene-duration", str(args.max_scene_duration),
           "--project", "bench", "--session", f"run{n}", "--json",
           "--narration" if args.narration else "--no-narration"]
    if progressive:
        cmd.append("--progressive")
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    times = _from_events(var, t0)
    times["process_exit"] = time.time() - t0
    return times


def via_bridge(args, client, base: str, progressive: bool, n: int, var: Path) -> dict[str, float | None]:
    t0, wall0 = time.monotonic(), time.time()
    r = client.post(f"{base}/generate", json={
        "project_id": "bench", "session_id": f"run{n}", "content_prompt": args.prompt,
        "scene_count": args.scenes,
        "render_config": {"quality": args.quality, "max_scene_duration": args.max_scene_duration,
                          "progressive": progressive},
        "narration_config": {"enabled": args.narration}})
    r.raise_for_status()
    task_id = r.json()["task_id"]
    seen: dict[str, float | None] = dict.fromkeys(KEYS)
    while time.monotonic() - t0 < 900:
        s = client.get(f"{base}/tasks/{task_id}/status").json()
        now = time.monotonic() - t0
        previews = s.get("previews") or []
        if previews and seen["first_preview"] is None:
            seen["first_preview"] = now
        if len(previews) == args.scenes and seen["all_previews"] is None:
            seen["all_previews"] = now
        if s["status"] in ("completed", "failed", "cancelled"):
            if s["status"] != "completed":
                raise RuntimeError(json.dumps(s)[:2000])
            seen["final"] = now
            # What an app could show without previews: the first final scene (from the log).
            seen["first_rendered"] = _from_events(var, wall0, task_id)["first_rendered"]
            return seen
        time.sleep(0.1)
    raise TimeoutError(task_id)


def _fmt(v: float | None) -> str:
    return f"{v:7.2f}" if v is not None else "      -"


def _median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _spread(runs: list[dict], key: str) -> str:
    values = [r[key] for r in runs if r.get(key) is not None]
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--quality", default="medium")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--max-scene-duration", type=float, default=20.0)
    ap.add_argument("--prompt", default="Explain the Pythagorean theorem")
    ap.add_argument("--narration", action="store_true", help="spoken scenes (default: silent)")
    ap.add_argument("--via-bridge", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="videogen-bench-progressive-"))
    runs: dict[bool, list[dict]] = {True: [], False: []}
    order = [p for _ in range(args.reps) for p in (True, False)]  # alternately, side by side

    def record(progressive: bool, times: dict) -> None:
        runs[progressive].append(times)
        print(f"  {'progressive' if progressive else 'plain      '}: "
              + "  ".join(f"{k} {_fmt(times.get(k))}" for k in KEYS), flush=True)

    if args.via_bridge:
        import httpx

        from bench._stack import BASE, stack

        with stack(work / "var") as api, httpx.Client(base_url=api, timeout=30) as client:
            warm = argparse.Namespace(**{**vars(args), "scenes": 1, "max_scene_duration": 3.0})
            via_bridge(warm, client, BASE, False, 99, work / "var")  # cold caches and the warm parent: not measured
            for n, progressive in enumerate(order):
                record(progressive, via_bridge(args, client, BASE, progressive, n, work / "var"))
        how = "REST bridge + webserver + daemon; times as a client polling the status sees them"
    else:
        # A first generation pays the cold caches (imports, fonts, LaTeX): not measured.
        via_cli(argparse.Namespace(**{**vars(args), "scenes": 1, "max_scene_duration": 3.0}), False, work, 99)
        for n, progressive in enumerate(order):
            record(progressive, via_cli(args, progressive, work, n))
        how = "videogen generate; times of the event log after the process started"

    shutil.rmtree(work, ignore_errors=True)
    prog, plain = runs[True], runs[False]
    print(f"\n{args.scenes} scenes at {args.quality}, max_scene_duration {args.max_scene_duration:g} s, "
          f"{args.reps} run(s) each, {os.cpu_count()} cores ({how})")
    print(f"{'seconds after the request':28s} {'progressive':>12s} {'spread':>13s} {'plain':>9s} {'spread':>13s}")
    for key in KEYS:
        print(f"{key:28s} {_fmt(_median(prog, key)):>12s} {_spread(prog, key):>13s} "
              f"{_fmt(_median(plain, key)):>9s} {_spread(plain, key):>13s}")
    first, final_p, final_0 = _median(prog, "first_preview"), _median(prog, "final"), _median(plain, "final")
    if first and final_p:
        print(f"first preview / final (progressive):   {first / final_p:.2f}")
    if first and final_0:
        print(f"first preview / final without previews: {first / final_0:.2f}")
    first_rendered = _median(plain, "first_rendered")
    if first and first_rendered:
        print(f"first preview / first final scene, plain: {first / first_rendered:.2f}")
    if final_p and final_0:
        print(f"final with previews / without:          {final_p / final_0:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

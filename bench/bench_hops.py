"""Benchmark: the orchestration hops of one generation through the REST bridge, on a fresh stack.

Each repetition starts a new stack (webserver, daemon, bridge; bench/_stack.py), asks for a
video and reads Dagster's event log: request -> plan step start (the warm parent, the queue),
plan materialised -> scene runs created (the plan run submitting them, or the chain sensor), and
request -> completed. Prints one JSON line per repetition with `--once`.

    python bench/bench_hops.py [--scenes 2] [--reps 3]
    python bench/bench_hops.py --compare OTHER_CHECKOUT [--reps 3]

--compare alternates repetitions of this checkout and another one (e.g. a copy made before a
change, with this file copied into its bench/), so both are measured in the same run on the same
machine, and prints each one's medians and ranges.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KEYS = ("request_to_plan_step_start", "plan_launched_to_worker_started", "plan_done_to_first_scene_created", "plan_done_to_last_scene_created",
        "plan_done_to_first_scene_step_start", "request_to_completed")


def hops(dagster_home: Path, task_id: str, t0: float) -> dict[str, float]:
    import dagster as dg

    from videogen_dagster.tags import TASK_TAG

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(tags={TASK_TAG: task_id}))

        def first(run_id: str, kind: dg.DagsterEventType) -> float:
            return min(r.timestamp for r in instance.all_logs(run_id, of_type=kind))

        plan = next(r for r in records if r.dagster_run.job_name == "plan_job")
        plan_id = plan.dagster_run.run_id
        scenes = [r for r in records if r.dagster_run.job_name == "scene_job"]
        # The plan is done when its materialisation is logged (the step may still be submitting).
        plan_done = min(
            e.timestamp for e in instance.all_logs(plan_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            if e.asset_materialization and e.asset_materialization.asset_key == dg.AssetKey("scene_plan"))
        created = sorted(r.create_timestamp.timestamp() for r in scenes)
        return {
            "request_to_plan_step_start": first(plan_id, dg.DagsterEventType.STEP_START) - t0,
            "plan_launched_to_worker_started": first(plan_id, dg.DagsterEventType.RUN_START)
            - first(plan_id, dg.DagsterEventType.RUN_STARTING),
            "plan_done_to_first_scene_created": created[0] - plan_done,
            "plan_done_to_last_scene_created": created[-1] - plan_done,
            "plan_done_to_first_scene_step_start": min(
                first(r.dagster_run.run_id, dg.DagsterEventType.STEP_START) for r in scenes) - plan_done,
        }


def once(scenes: int) -> dict[str, float]:
    import httpx

    from bench._stack import post_and_poll, stack

    work = Path(tempfile.mkdtemp(prefix="videogen-hops-"))
    with stack(work / "var") as api, httpx.Client(base_url=api, timeout=30) as client:
        wall0 = time.time()
        wall, status = post_and_poll(client, {
            "project_id": "bench", "content_prompt": "Explain the Pythagorean theorem", "scene_count": scenes,
            "render_config": {"quality": "preview"}})
        if status["status"] != "completed":
            raise SystemExit(f"generation did not complete: {status}")
        out = hops(work / "var" / "dagster", status["task_id"], wall0)
    return {**out, "request_to_completed": wall}


def _summary(rows: list[dict[str, float]]) -> str:
    lines = []
    for k in KEYS:
        vals = [r[k] for r in rows]
        lines.append(f"  {k:38s} median {statistics.median(vals):6.2f} s  (range {min(vals):.2f}-{max(vals):.2f}, n={len(vals)})")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--once", action="store_true", help="one repetition, one JSON line")
    ap.add_argument("--compare", type=Path, help="another checkout, measured alternately with this one")
    args = ap.parse_args()
    if args.once:
        print(json.dumps(once(args.scenes)))
        return 0
    trees = [REPO] + ([args.compare.resolve()] if args.compare else [])
    rows: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    for rep in range(args.reps):
        for tree in trees if rep % 2 == 0 else list(reversed(trees)):
            proc = subprocess.run([sys.executable, "bench/bench_hops.py", "--once", "--scenes", str(args.scenes)],
                                  cwd=tree, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{tree}: {proc.stderr[-2000:]}", file=sys.stderr)
                return 1
            rows[tree].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"rep {rep + 1} {tree}: " + json.dumps({k: round(v, 2) for k, v in rows[tree][-1].items()}), flush=True)
    for tree in trees:
        print(f"{tree} ({args.scenes} scenes, preview, fresh stack each time):")
        print(_summary(rows[tree]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

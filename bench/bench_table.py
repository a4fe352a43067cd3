"""`make bench`: the overhead table of issue 20, each ratio against a baseline measured in the
same run on this machine (see each benchmark's docstring for its baseline).

Runs bench_pipeline.py (preview and high, with TheoremExplainAgent's way), bench_edit.py and
bench_status.py, each writing its figures as JSON, then prints one table with the targets.
Usage: python bench/bench_table.py [--repeats 3] [--high-repeats 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(script: str, *args: str) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    print(f"\n=== {script} {' '.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), *args, "--json", str(out)], cwd=REPO)
    if proc.returncode != 0:
        return {"error": f"{script} exited {proc.returncode}"}
    try:
        return json.loads(out.read_text() or "{}")
    finally:
        out.unlink(missing_ok=True)


def row(metric: str, value: str, target: str, met: bool | None) -> str:
    verdict = "n/a" if met is None else ("met" if met else "NOT met")
    return f"| {metric} | {value} | {target} | {verdict} |"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--high-repeats", type=int, default=3)
    args = ap.parse_args()
    pipe = run("bench_pipeline.py", "--repeats", str(args.repeats), "--high-repeats", str(args.high_repeats))
    edit = run("bench_edit.py")
    status = run("bench_status.py")

    lines = ["| metric | measured | target | |", "|---|---|---|---|"]
    prev, high = pipe.get("preview"), pipe.get("high")
    if prev:
        lines.append(row("bridge request -> completed / bare baseline, 3 scenes, preview",
                         f"{prev['median_ratio']:.2f} (spread {prev['spread']:.2f}, {len(prev['rows'])} runs)",
                         "<= 1.25, spread < 0.2", prev["median_ratio"] <= 1.25 and prev["spread"] < 0.2))
    if high:
        lines.append(row("the same at high (1080p60)", f"{high['median_ratio']:.2f} ({len(high['rows'])} runs)",
                         "<= 1.08", high["median_ratio"] <= 1.08))
    if "median_ratio" in edit:
        lines.append(row("edit latency / (bare render of the scene + bare join)",
                         f"{edit['median_ratio']:.2f} (spread {edit['spread']:.2f})", "<= 1.15",
                         edit["median_ratio"] <= 1.15))
    if high and "median_tea_ratio" in high:
        lines.append(row("TheoremExplainAgent's way / ours, 3 scenes, 1080p60", f"{high['median_tea_ratio']:.2f}",
                         ">= 2.3", high["median_tea_ratio"] >= 2.3))
    if "p99_ms" in status:
        lines.append(row("status polling while a generation runs, 50 clients",
                         f"p99 {status['p99_ms']:.0f} ms, {status.get('errors', 0)} errors",
                         "p99 < 100 ms, 0 errors", status["p99_ms"] < 100 and not status.get("errors")))
    for name, figures in (("bench_pipeline", pipe), ("bench_edit", edit), ("bench_status", status)):
        if "error" in figures:
            lines.append(row(name, figures["error"], "", None))
    print("\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

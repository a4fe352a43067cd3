"""Benchmark: generate and evaluate a handful of TheoremExplainBench topics.

Each topic is a bundled TheoremExplainBench theorem (videogen_dagster/authoring/data/), taken
round the subjects (math, physics, chemistry, computer science) and difficulties (easy, medium,
hard), asked as "Explain <theorem>" with `videogen generate` (preview quality, 3 scenes,
narration on, a fresh state folder for the whole run), then scored with `videogen evaluate`.
Prints one row per topic: scenes, duration, layout findings by kind, the layout score, readable
scenes, speech and subtitle coverage, the worst speech onset, and the wall times of both
commands; then every finding's message. The model part runs only with OPENAI_API_KEY set.
Usage: python bench/bench_evaluate.py [--count 4] [--scenes 3] [--theorem NAME ...] [--keep]
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

SUBJECTS = ("math", "physics", "chemistry", "comp_sci")
LEVELS = ("easy", "medium", "hard")
KINDS = (
    ("out_of_frame", "off"),
    ("overlap", "ovl"),
    ("too_small", "small"),
    ("low_contrast", "dim"),
)


def pick(count: int, names: list[str]) -> list[dict]:
    """The named theorems, else `count` of them round the subjects and difficulties: the i-th
    topic is the first theorem of subject i % 4 at difficulty i % 3 not taken yet."""
    from videogen_dagster.authoring.topics import theorem_library

    library = theorem_library()
    if names:
        wanted = {n.lower(): n for n in names}
        found = [t for t in library if t["theorem"].lower() in wanted]
        missing = set(wanted) - {t["theorem"].lower() for t in found}
        if missing:
            raise SystemExit(f"not in the bundled TheoremExplainBench: {sorted(missing)}")
        return found
    out: list[dict] = []
    for i in range(count):
        file = f"{LEVELS[i % len(LEVELS)]}_{SUBJECTS[i % len(SUBJECTS)]}.json"
        taken = {t["theorem"] for t in out}
        out.append(next(t for t in library if t["file"] == file and t["theorem"] not in taken))
    return out


def cli(
    args: list[str], var: Path, timeout: float = 900
) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "VIDEOGEN_VAR_DIR": str(var), "DAGSTER_HOME": str(var / "dagster")}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "videogen_dagster.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    return proc, time.perf_counter() - t


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def run(topics: list[dict], scenes: int, var: Path) -> tuple[list[str], list[str], str]:
    (var / "dagster").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", var / "dagster" / "dagster.yaml")
    kinds = "/".join(short for _, short in KINDS)
    head = (
        f"{'topic':44s} {'sc':>2s} {'dur s':>6s} {kinds:>16s} {'layout':>6s} {'read':>4s} "
        f"{'speech':>6s} {'subs':>6s} {'onset':>5s} {'gen s':>6s} {'eval s':>6s}"
    )
    rows, notes, judged = [head, "-" * len(head)], [], "skipped (no OPENAI_API_KEY)"
    all_scores: list[float] = []
    for i, topic in enumerate(topics, 1):
        label = f"{topic['file'].removesuffix('.json')}: {topic['theorem']}"[:44]
        print(f"[{i}/{len(topics)}] {label}", file=sys.stderr, flush=True)
        gen, gen_s = cli(
            ["generate", f"Explain {topic['theorem']}", "--scenes", str(scenes), "--quality",
             "preview", "--narration", "--project", "teb", "--session", f"t{i}", "--json"],
            var,
        )  # fmt: skip
        if gen.returncode != 0:
            rows.append(f"{label:44s} generation failed (exit {gen.returncode}) after {gen_s:.0f}s")
            notes.append(f"{label}: {gen.stderr.strip().splitlines()[-1:]}")
            continue
        task = json.loads(gen.stdout)["task_id"]
        ev_proc, ev_s = cli(["evaluate", task, "--json"], var)
        if ev_proc.returncode not in (0, 1):
            rows.append(f"{label:44s} evaluation failed: {ev_proc.stderr.strip()[-200:]}")
            continue
        ev = json.loads(ev_proc.stdout)
        t = ev["totals"]
        counts = "/".join(str(t["findings_by_kind"].get(k, 0)) for k, _ in KINDS)
        score = "-" if t["layout_score"] is None else f"{t['layout_score']:.2f}"
        onset = "-" if t["worst_onset"] is None else f"{t['worst_onset']:.2f}"
        rows.append(
            f"{label:44s} {t['scenes']:2d} {t['duration']:6.1f} {counts:>16s} {score:>6s} "
            f"{t['readable_scenes']}/{t['scenes_inspected']:<2d} {pct(t['speech_coverage']):>6s} "
            f"{pct(t['subtitles_coverage']):>6s} {onset:>5s} {gen_s:6.1f} {ev_s:6.1f}"
        )
        for s in ev["scenes"]:
            for f in s["layout"]["findings"]:
                notes.append(f"{label} scene {s['scene_number']}: {f['message']}")
        if ev["judgement"]:
            all_scores.append(ev["judgement"]["overall"])
            dims = " ".join(f"{d['score']}" for d in ev["judgement"]["dimensions"].values())
            notes.append(f"{label}: {ev['judgement']['model']} scores {dims}, overall "
                         f"{ev['judgement']['overall']:.2f}")  # fmt: skip
        elif ev["judgement_error"]:
            notes.append(f"{label}: judgement failed: {ev['judgement_error']}")
    if all_scores:
        judged = f"mean overall {sum(all_scores) / len(all_scores):.2f} over {len(all_scores)}"
    return rows, notes, judged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4, help="topics (default 4)")
    parser.add_argument("--scenes", type=int, default=3, help="scenes per video (default 3)")
    parser.add_argument("--theorem", action="append", default=[], help="a bundled theorem's name")
    parser.add_argument("--keep", action="store_true", help="keep the state folder (printed)")
    args = parser.parse_args()
    topics = pick(args.count, args.theorem)
    var = Path(tempfile.mkdtemp(prefix="bench-evaluate-")) / "var"
    try:
        rows, notes, judged = run(topics, args.scenes, var)
    finally:
        if not args.keep:
            shutil.rmtree(var.parent, ignore_errors=True)
    print(
        f"videogen evaluate over {len(topics)} TheoremExplainBench topics ({args.scenes} scenes, "
        "preview, narration on; layout findings off/ovl/small/dim = out_of_frame/overlap/"
        "too_small/low_contrast; layout = 1 - scenes with findings / inspected; read = scenes "
        "without too_small or low_contrast; speech = speech inside cues / cue time; subs = "
        "time under a cue; onset = worst |speech start - cue start|)"
    )
    print("\n".join(rows))
    print(f"model judgement: {judged}")
    if notes:
        print("\n".join(["findings and judgements:", *(f"  {n}" for n in notes)]))
    else:
        print("no layout findings")
    if args.keep:
        print(f"state folder: {var}")


if __name__ == "__main__":
    main()

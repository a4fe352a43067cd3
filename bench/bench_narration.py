"""Benchmark: what spoken narration costs.

1. Real-time factor (synthesis seconds / seconds of speech) of piper (joe) and espeak-ng on the
   narration lines of the 3-scene offline plan: cold (fresh cache, in a fresh process; piper's
   model load, checksum included, reported apart), cached in the same process, and cached in
   another fresh process (which hashes the piper model again for the cache key).
2. The share of `videogen generate` wall time narration adds to the 3-scene preview demo:
   (a) --no-narration, (b) --narration with a cold speech cache, (c) --narration with (b)'s warm
   cache (SPEECH_CACHE_DIR), each in a fresh state folder, interleaved a,b,c,a,b,c... Narrated
   scenes are longer (the animation waits for the voice), so the share is also given per second
   of rendered video. Cache hits/misses come from each run's manifest.
Usage: python bench/bench_narration.py [--reps 3] [--engines piper espeak]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PROMPT = "Explain the Pythagorean theorem"
VOICES = {"piper": "en_US-joe-medium", "espeak": "en-us"}


def plan_lines() -> list[str]:
    from videogen_dagster.authoring.planning import plan_offline
    from videogen_dagster.media.rendering import latex_available

    plan = plan_offline("p", "s", PROMPT, 3, latex_available())
    lines = [line.strip() for s in plan.scenes for line in s.narration if line.strip()]
    return list(dict.fromkeys(lines))  # a line repeated in a later scene is spoken once


def worker(engine: str, cache_dir: str, mode: str) -> None:
    """In a fresh process: time loading the engine, then speaking every line (twice when cold,
    the second time from the cache). Prints one JSON line."""
    from videogen_dagster.media.speech import SpeechCache, Voice, engines, synthesize

    lines, voice, cache = plan_lines(), Voice(engine, VOICES[engine]), SpeechCache(Path(cache_dir))
    out: dict = {"lines": len(lines), "load": 0.0}
    if mode == "cold":
        t = time.perf_counter()
        engines._load_piper() if engine == "piper" else engines._espeak_version()
        out["load"] = time.perf_counter() - t
    t = time.perf_counter()
    first = synthesize(lines, voice, cache)
    out["first"] = time.perf_counter() - t
    out["speech"] = sum(u.duration for u in first)
    out["misses"] = sum(not u.cached for u in first)
    if mode == "cold":
        t = time.perf_counter()
        again = synthesize(lines, voice, cache)
        out["again"] = time.perf_counter() - t
        assert all(u.cached for u in again)
    print(json.dumps(out))


def run_worker(engine: str, cache_dir: Path, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, str(cache_dir), mode]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    return f"{min(xs):.2f}-{max(xs):.2f}"


def spread3(xs: list[float]) -> str:
    return f"{min(xs):.3f}-{max(xs):.3f}"


def rtf_rows(engines: list[str], reps: int, work: Path) -> list[str]:
    rows = []
    for engine in engines:
        cold, fresh = [], []
        for r in range(reps):
            cache = work / f"rtf-{engine}-{r}"
            cold.append(run_worker(engine, cache, "cold"))
            fresh.append(run_worker(engine, cache, "cached"))
            assert fresh[-1]["misses"] == 0 and cold[-1]["misses"] == cold[-1]["lines"]
        speech, n = cold[0]["speech"], cold[0]["lines"]
        rows.append(f"{engine} ({n} lines, {speech:.2f} s of speech)")
        cases = [
            ("load (fresh process)", [c["load"] for c in cold], None),
            ("cold, excl. load", [c["first"] for c in cold], cold),
            ("cold, incl. load", [c["first"] + c["load"] for c in cold], cold),
            ("cached, same process", [c["again"] for c in cold], cold),
            ("cached, fresh process", [f["first"] for f in fresh], fresh),
        ]
        for label, secs, base in cases:
            rtf = [t / x["speech"] for t, x in zip(secs, base, strict=True)] if base else []
            r = f"{med(rtf):8.4f}  {min(rtf):.4f}-{max(rtf):.4f}" if rtf else f"{'-':>8s}"
            rows.append(f"  {label:24s} {med(secs):7.3f}s {spread3(secs):>13s}  {r}")
    return rows


def generate(
    var: Path, narration: bool, speech_cache: Path | None = None, session: str | None = None
) -> dict:
    env = {**os.environ, "VIDEOGEN_VAR_DIR": str(var), "DAGSTER_HOME": str(var / "dagster")}
    env.pop("SPEECH_CACHE_DIR", None)
    if speech_cache is not None:
        env["SPEECH_CACHE_DIR"] = str(speech_cache)
    (var / "dagster").mkdir(parents=True)
    shutil.copyfile(REPO / "dagster.yaml", var / "dagster" / "dagster.yaml")
    cmd = [
        sys.executable,
        "-m",
        "videogen_dagster.cli",
        "generate",
        PROMPT,
        "--scenes",
        "3",
        "--quality",
        "preview",
        "--narration" if narration else "--no-narration",
        "--json",
    ]
    if session:
        cmd += ["--session", session]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"videogen generate failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout)
    manifest = json.loads(Path(urlparse(result["s3_manifest_url"]).path).read_text())
    voiced = [s["narration"] for s in manifest["scenes"] if s.get("narration")]
    return {
        "wall": wall,
        "video": float(result["total_duration"]),
        "synth": sum(n.get("synthesized", 0) for n in voiced),
        "cached": sum(n.get("cached", 0) for n in voiced),
        "engine": voiced[0]["engine"] if voiced else "-",
    }


def pipeline_rows(reps: int, work: Path) -> list[str]:
    print("pipeline ...", file=sys.stderr)
    runs: dict[str, list[dict]] = {"a": [], "b": [], "c": []}
    for r in range(reps):
        runs["a"].append(generate(work / f"a{r}", False))
        runs["b"].append(generate(work / f"b{r}", True))
        runs["c"].append(generate(work / f"c{r}", True, work / f"b{r}" / "speech", f"bench_c{r}"))
        print(
            f"  set {r + 1}/{reps}: "
            + ", ".join(f"{k} {v[-1]['wall']:.1f}s" for k, v in runs.items()),
            file=sys.stderr,
        )
    names = {
        "a": "(a) --no-narration",
        "b": "(b) --narration, cold cache",
        "c": "(c) --narration, warm cache",
    }
    wall = {k: med([x["wall"] for x in v]) for k, v in runs.items()}
    video = {k: med([x["video"] for x in v]) for k, v in runs.items()}
    per_s = {k: med([x["wall"] / x["video"] for x in v]) for k, v in runs.items()}
    rows = [
        f"{'mode':30s} {'wall med':>8s} {'min-max':>11s} {'video s':>7s} {'wall/vid s':>10s} "
        f"{'synth':>5s} {'cached':>6s} engine"
    ]
    for k, v in runs.items():
        synth = "/".join(str(x["synth"]) for x in v)
        cached = "/".join(str(x["cached"]) for x in v)
        rows.append(
            f"{names[k]:30s} {wall[k]:7.2f}s {spread([x['wall'] for x in v]):>11s} {video[k]:7.2f} "
            f"{per_s[k]:10.3f} {synth:>5s} {cached:>6s} {v[0]['engine']}"
        )

    def share(m: str, key) -> str:
        """(m - a) / m on medians, best-of-reps, and the median of each interleaved set's own."""
        x, y = [key(r) for r in runs["a"]], [key(r) for r in runs[m]]
        sets = [(q - p) / q for p, q in zip(x, y, strict=True)]
        return (
            f"{(med(y) - med(x)) / med(y):7.1%} {(min(y) - min(x)) / min(y):7.1%} {med(sets):7.1%}"
            f" ({min(sets):.0%}..{max(sets):.0%})"
        )

    def wall_of(r: dict) -> float:
        return r["wall"]

    def per_video_s(r: dict) -> float:
        return r["wall"] / r["video"]

    rows += [
        f"narration's added share          {'medians':>7s} {'best':>7s} {'per-set':>7s} (range)",
        f"  cold (b-a)/b, raw wall         {share('b', wall_of)}",
        f"  warm (c-a)/c, raw wall         {share('c', wall_of)}",
        f"  cold (b-a)/b, per video second {share('b', per_video_s)}",
        f"  warm (c-a)/c, per video second {share('c', per_video_s)}",
        f"narrated video is {video['b'] / video['a']:.2f}x as long as the silent one "
        f"({video['a']:.2f} s -> {video['b']:.2f} s)",
        "(c) synthesized nothing: " + ("yes" if all(x["synth"] == 0 for x in runs["c"]) else "NO"),
    ]
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--engines", nargs="+", default=list(VOICES), choices=list(VOICES))
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument(
        "--worker", nargs=3, metavar=("ENGINE", "CACHE", "MODE"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0
    work = Path(tempfile.mkdtemp(prefix="videogen-bench-narration-"))
    try:
        print("speech synthesis ...", file=sys.stderr)
        rtf = rtf_rows(args.engines, args.reps, work)
        pipe = [] if args.skip_pipeline else pipeline_rows(args.reps, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"narration benchmark: {PROMPT!r}, 3 scenes, preview; {args.reps} reps, median and min-max"
    )
    print(
        f"machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"-- synthesis {'':14s} {'seconds':>8s} {'min-max':>13s}  {'RTF':>8s}  min-max")
    print("\n".join(rtf))
    if pipe:
        print(
            "-- videogen generate, process start to exit (synth/cached: per rep, from the manifest)"
        )
        print("\n".join(pipe))
    return 0


if __name__ == "__main__":
    sys.exit(main())

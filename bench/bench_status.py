"""Benchmark: status polling under load. 50 concurrent clients poll one task for 20 s.

Starts a real Dagster webserver and the bridge (uvicorn, one worker) on free ports with a
temporary instance, seeds an in-progress task (so each poll also reconciles with Dagster's run
status, cached 2 s) and prints requests per second, p50/p99 latency and errors.
Usage: python bench/bench_status.py [--clients 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._stack import stack  # noqa: E402
from videogen_dagster.stores.metastore import SqliteMetadataStore  # noqa: E402


async def _client(url: str, until: float, lat: list[float], errors: list[str]) -> None:
    async with httpx.AsyncClient(timeout=10) as c:
        while time.perf_counter() < until:
            t = time.perf_counter()
            try:
                r = await c.get(url)
                if r.status_code != 200:
                    errors.append(str(r.status_code))
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            lat.append(time.perf_counter() - t)


async def _load(url: str, clients: int, seconds: float) -> tuple[list[float], list[str]]:
    lat: list[float] = []
    errors: list[str] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*[_client(url, until, lat, errors) for _ in range(clients)])
    return lat, errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    var = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    meta = SqliteMetadataStore(var / "metadata.sqlite")
    meta.create_task("bench", "generate", "p", "s", "p.s", 6, "preview")
    meta.update_task("bench", status="progress", progress=45, message="Rendering scene 2 of 3...")
    try:
        with stack(var, daemon=False) as api:
            url = f"{api}/api/v1/video-generation/tasks/bench/status"
            lat, errors = asyncio.run(_load(url, args.clients, args.seconds))
    finally:
        shutil.rmtree(var, ignore_errors=True)
    lat.sort()
    ms = [x * 1000 for x in lat]
    print(f"clients: {args.clients}, duration: {args.seconds:.0f} s, cores: {os.cpu_count()}")
    print(f"requests: {len(lat)}  ({len(lat) / args.seconds:.0f} req/s)")
    print(f"latency p50: {statistics.median(ms):.1f} ms  p99: {ms[int(len(ms) * 0.99) - 1]:.1f} ms  max: {ms[-1]:.1f} ms")
    print(f"errors: {len(errors)} {sorted(set(errors)) if errors else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

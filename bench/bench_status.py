"""Benchmark: status polling by 50 clients, against an idle bridge and during a real generation.

Starts a Dagster webserver, daemon and the bridge (uvicorn, one worker) on free ports with a
temporary instance, then measures, in one run, on the same cores:

1. baseline: 50 clients poll a seeded in-progress task while nothing renders;
2. under load: 50 clients poll a real generation (POST /generate: plan, scene renders, join)
   from its acceptance to `completed`, the Manim renders competing for the same cores.

Each client polls its task every `--interval` seconds (0.2: five polls a second each, 250 req/s
offered by 50 clients, far more than the "every few seconds" clients are told to use); with
`--interval 0` each polls again as soon as it is answered (closed loop: a throughput test whose
latency is the queue the clients themselves build). Prints requests, p50/p95/p99/max latency and
errors per phase, where the cores went in each phase (bench/_cpu.py: the stack's processes by
role, and the rest of the machine, which on a shared machine is other people's work), the
generation's wall time, the median p99 over `--repeat` generations, and the target (p99 < 100 ms,
0 errors, in every generation).
Usage: python bench/bench_status.py [--clients 50] [--seconds 15] [--interval 0.2] [--scenes 4]
       [--quality preview] [--repeat 1] [--warmup 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._cpu import CpuSampler  # noqa: E402
from bench._stack import BASE, stack  # noqa: E402
from videogen_dagster.stores.metastore import SqliteMetadataStore  # noqa: E402

TARGET_P99_MS = 100.0
FINISHED = ("completed", "failed", "cancelled")


class Load:
    """Latencies, errors and the last status seen by a phase's clients, and where the machine's
    CPU went meanwhile."""

    def __init__(self) -> None:
        self.cpu = ""
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.status = ""
        self.t0 = time.perf_counter()
        self.t1 = self.t0


class Conn:
    """One keep-alive HTTP/1.1 connection that sends GETs. A few lines of asyncio instead of
    httpx: httpx spent about 4 ms of CPU per request on these cores, more than the bridge spends
    answering it, and the load generator shares the cores with the server it measures."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(int(v) for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "content-length")
            return int(lines[0].split()[1]), await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _client(url: str, load: Load, until: float, interval: float, follow: bool) -> None:
    parts = urlsplit(url)
    conn = Conn(parts.hostname or "127.0.0.1", parts.port or 80)
    while time.perf_counter() < until:
        t = time.perf_counter()
        try:
            code, body = await asyncio.wait_for(conn.get(parts.path), timeout=10)
            if code != 200:
                load.errors.append(str(code))
            elif follow:
                load.status = json.loads(body)["status"]
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, StopIteration) as exc:
            load.errors.append(type(exc).__name__)
        load.lat.append(time.perf_counter() - t)
        if follow and load.status in FINISHED:
            break
        if interval:
            # Each client asks every `interval` s, whatever the answer's latency.
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t)))
    conn.close()


async def _load(url: str, clients: int, seconds: float, interval: float, follow: bool) -> Load:
    load = Load()
    until = time.perf_counter() + seconds

    async def staggered(i: int) -> None:
        await asyncio.sleep(interval * i / clients)  # spread over the interval, not all at once
        await _client(url, load, until, interval, follow)

    with CpuSampler() as cpu:
        await asyncio.gather(*[staggered(i) for i in range(clients)])
    load.t1 = time.perf_counter()
    load.cpu = cpu.report(load.t1 - load.t0)
    return load


def _row(name: str, load: Load) -> tuple[str, float, int]:
    """The phase's table line, its p99 (ms) and its error count."""
    if not load.lat:
        return f"{name:28s} no requests", float("inf"), 1
    ms = sorted(x * 1000 for x in load.lat)
    p = lambda q: ms[min(len(ms) - 1, int(len(ms) * q))]  # noqa: E731
    seconds = load.t1 - load.t0
    errors = f"{len(load.errors)}" + (f" {sorted(set(load.errors))}" if load.errors else "")
    return (f"{name:28s} {len(ms):7d} {len(ms) / seconds:7.0f} {statistics.median(ms):8.1f} {p(0.95):8.1f} "
            f"{p(0.99):8.1f} {ms[-1]:8.1f}  {errors}"), p(0.99), len(load.errors)


def _generation(api: str, args: argparse.Namespace) -> tuple[Load, float]:
    with httpx.Client(base_url=api, timeout=30) as client:
        t0 = time.perf_counter()
        r = client.post(f"{BASE}/generate", json={
            "project_id": "bench", "content_prompt": args.prompt, "scene_count": args.scenes,
            "render_config": {"quality": args.quality}})
        r.raise_for_status()
        url = f"{api}{BASE}/tasks/{r.json()['task_id']}/status"
        load = asyncio.run(_load(url, args.clients, args.timeout, args.interval, follow=True))
        return load, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15, help="length of the idle baseline")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between one client's polls (0: closed loop)")
    ap.add_argument("--scenes", type=int, default=4)
    ap.add_argument("--quality", default="preview")
    ap.add_argument("--prompt", default="Explain the Pythagorean theorem")
    ap.add_argument("--repeat", type=int, default=1, help="baseline + generation pairs")
    ap.add_argument("--timeout", type=float, default=300, help="longest a generation may take")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here (bench_table.py)")
    ap.add_argument("--warmup", type=float, default=10, help="seconds left to the daemon's start-up")
    args = ap.parse_args()
    var = Path(tempfile.mkdtemp(prefix="videogen-bench-"))
    meta = SqliteMetadataStore(var / "metadata.sqlite")
    meta.create_task("bench", "generate", "p", "s", "p.s", 6, "preview")
    meta.update_task("bench", status="progress", progress=45, message="Rendering scene 2 of 3...")
    rows: list[tuple[str, float, int]] = []
    walls: list[float] = []
    cpu_lines: list[str] = []
    ok = True
    try:
        with stack(var, daemon=True) as api:
            time.sleep(args.warmup)  # the daemon loads the code location: not part of any phase
            for i in range(args.repeat):
                # Each generation is a new video (session): nothing is reused from the last one.
                idle = asyncio.run(_load(f"{api}{BASE}/tasks/bench/status", args.clients, args.seconds,
                                         args.interval, follow=False))
                rows.append(_row(f"idle bridge #{i + 1}", idle))
                cpu_lines.append(f"idle bridge #{i + 1}: {idle.cpu}")
                gen, wall = _generation(api, args)
                walls.append(wall)
                rows.append(_row(f"during generation #{i + 1}", gen))
                cpu_lines.append(f"during generation #{i + 1}: {gen.cpu}")
                ok &= gen.status == "completed"
                if gen.status != "completed":
                    print(f"generation #{i + 1} ended {gen.status or 'unanswered'}", file=sys.stderr)
    finally:
        shutil.rmtree(var, ignore_errors=True)
    mode = f"each polls every {args.interval:g} s" if args.interval else "closed loop (no pause between polls)"
    print(f"clients: {args.clients}, {mode}; {os.cpu_count()} cores; generation: {args.scenes} scenes at "
          f"{args.quality}, wall {', '.join(f'{w:.1f}' for w in walls)} s (request to completed, while polled)")
    print(f"{'phase':28s} {'requests':>7s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}  errors")
    for line, _, _ in rows:
        print(line)
    print("\n".join(cpu_lines))
    loaded = [p99 for (line, p99, _) in rows if "generation" in line]
    errors = sum(n for (line, _, n) in rows if "generation" in line)
    worst = max(loaded) if loaded else float("inf")
    if len(loaded) > 1:
        print(f"p99 during generation: median {statistics.median(loaded):.1f} ms of {len(loaded)}")
    met = worst < TARGET_P99_MS and errors == 0 and ok
    print(f"target: p99 < {TARGET_P99_MS:.0f} ms and 0 errors during generation: "
          f"{'met' if met else 'NOT met'} (worst p99 {worst:.1f} ms)")
    if args.json:
        args.json.write_text(json.dumps({"p99_ms": worst, "median_p99_ms": statistics.median(loaded) if loaded else None,
                                         "errors": errors, "generations": len(loaded)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

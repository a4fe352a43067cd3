"""Live progress (Server-Sent Events): how late events reach a client, and how many open streams
one bridge process holds.

1. A real 3-scene preview generation through the bridge, webserver and daemon, watched over
   GET .../tasks/{id}/events: each live event's delay from when the pipeline wrote it (the
   event's created_at, milliseconds) to when the client read it.
2. The bridge alone (uvicorn, one process): N streams (httpx, one AsyncClient) open on one task
   while this process writes progress to the metadata store 20 times, 0.25 s apart: the delay
   from each write to each stream, the bridge's memory and CPU.

    .venv/bin/python bench/bench_events.py [--streams 200 500] [--skip-generation]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stack import BASE, REPO, child_env, free_port, stack, wait_for  # noqa: E402
from videogen_dagster.stores.metastore import SqliteMetadataStore  # noqa: E402


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def _events(lines):
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif "data" in fields:
            yield fields["event"], json.loads(fields["data"]), time.time()
            fields = {}


def generation_delays() -> None:
    with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp)) as base:
        client = httpx.Client(base_url=base, timeout=httpx.Timeout(30, read=120))
        r = client.post(f"{BASE}/generate", json={
            "project_id": "bench", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 3,
            "render_config": {"quality": "preview"}})
        task_id = r.json()["task_id"]
        opened = time.time()
        got = []
        with client.stream("GET", f"{BASE}/tasks/{task_id}/events") as resp:
            for kind, payload, at in _events(resp.iter_lines()):
                got.append((kind, _ts(payload["created_at"]), at))
        live = [(k, at - w) for k, w, at in got if w > opened + 0.05]
        delays = [d for _, d in live]
        print(f"1. real generation (3 scenes, preview): {len(got)} events, {len(live)} live, ended {got[-1][0]}")
        print(f"   delay pipeline write -> SSE client: median {statistics.median(delays) * 1000:.0f} ms, "
              f"p95 {_pct(delays, 0.95) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
              f"(poll every 0.2 s; target < 1 s)")


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MiB) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS")) / 1024
    return cpu, rss


async def _streams(base: str, meta: SqliteMetadataStore, pid: int, n: int, task_id: str) -> None:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    received: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    ready = [asyncio.Event() for _ in range(n)]
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=httpx.Timeout(30, read=None)) as client:

        async def one(i: int) -> None:
            async with client.stream("GET", f"{BASE}/tasks/{task_id}/events") as resp:
                fields: dict[str, str] = {}
                async for line in resp.aiter_lines():
                    if line.startswith(":"):
                        continue
                    if line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
                        continue
                    if "data" in fields:
                        data = json.loads(fields["data"])["data"]
                        if fields["event"] == "task.queued":
                            ready[i].set()
                        else:
                            received[i].append((data["progress"], time.time()))
                        if fields["event"] == "task.completed":
                            return
                    fields = {}

        t0 = time.monotonic()
        runners = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 120)
        opened = time.monotonic() - t0
        cpu0, rss_open = _proc(pid)
        writes: dict[int, float] = {}
        for k in range(1, 21):
            progress = 5 * k
            writes[progress] = time.time()
            if progress == 100:
                meta.update_task(task_id, status="completed", progress=100, message="done", current_step="completed")
            else:
                meta.update_task(task_id, progress=progress, message=f"step {k}", current_step=f"step_{k}")
            await asyncio.sleep(0.25)
        await asyncio.wait_for(asyncio.gather(*runners), 60)
        cpu1, _ = _proc(pid)
    delays = [at - writes[p] for r in received for p, at in r]
    complete = sum(1 for r in received if [p for p, _ in r] == sorted(writes))
    print(f"   {n} streams: all open and replayed in {opened:.2f} s; {complete}/{n} got all 20 events in order; "
          f"delay median {statistics.median(delays) * 1000:.0f} ms, p95 {_pct(delays, 0.95) * 1000:.0f} ms, "
          f"max {max(delays) * 1000:.0f} ms; bridge RSS {rss_open:.0f} MiB, CPU {cpu1 - cpu0:.2f} s over 5 s")


def streams_per_process(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        var, port = Path(tmp), free_port()
        env = child_env(VIDEOGEN_VAR_DIR=str(var), DAGSTER_PORT=str(free_port()))
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api_bridge.main:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(f"{base}/docs")
            meta = SqliteMetadataStore(var / "metadata.sqlite")
            _, rss = _proc(proc.pid)
            print(f"2. one bridge process (uvicorn, 1 worker), idle RSS {rss:.0f} MiB:")
            for i, n in enumerate(counts):
                task_id = f"bench-streams-{i}"
                meta.create_task(task_id, "generate", "bench", f"s{i}", f"bench.s{i}", 20, "preview")
                asyncio.run(_streams(base, meta, proc.pid, n, task_id))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[200, 500])
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    if not args.skip_generation:
        generation_delays()
    streams_per_process(args.streams)


if __name__ == "__main__":
    main()

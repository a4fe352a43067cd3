"""Task bookkeeping for the bridge: estimates, and reconciling with Dagster's run status."""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from api_bridge.dagster_client import DagsterClient, DagsterUnavailable, RunInfo
from api_bridge.run_watch import HEALTH_MAX_AGE
from api_bridge.settings import Settings
from videogen_dagster.pipeline.progress import cancel, fail
from videogen_dagster.stores.metastore import FINISHED, MetadataStore, Task

# Fixed costs of a chain beyond the renders: the plan run, one chain-sensor tick (the sensor
# daemon loops every 5 s), queueing and warm run start-ups (measured 3-7 s; the join runs in the
# last scene run).
CHAIN_OVERHEAD_SECONDS = 8.0
TERMINAL = FINISHED  # the store's finished statuses, under the name the routes use
T = TypeVar("T")


def scene_seconds(meta: MetadataStore, settings: Settings, quality: str) -> float:
    """Median measured render time of recent scenes at this quality, else the documented fallback."""
    history = meta.render_history(quality)
    if len(history) >= 3:
        return statistics.median(history)
    return settings.fallback_scene_seconds.get(quality, 30.0)


def estimate_minutes(meta: MetadataStore, settings: Settings, quality: str, scenes: int) -> float:
    waves = math.ceil(scenes / max(1, settings.scene_concurrency))
    seconds = CHAIN_OVERHEAD_SECONDS + waves * (scene_seconds(meta, settings, quality) + 5.0)
    return round(seconds / 60.0, 1)


def estimated_completion(task: Task, minutes: float) -> str | None:
    if task.finished:
        return task.completed_at or task.updated_at
    start = datetime.fromisoformat((task.started_at or task.created_at).replace("Z", "+00:00"))
    if task.progress > 5 and task.started_at:
        elapsed = (datetime.now(UTC) - start).total_seconds()
        total = elapsed * 100.0 / task.progress
        return (start + timedelta(seconds=total)).isoformat(timespec="seconds").replace("+00:00", "Z")
    return (start + timedelta(minutes=minutes)).isoformat(timespec="seconds").replace("+00:00", "Z")


RUNS_MAX_AGE = 3.0  # a first poll may be answered from runs asked this recently (e.g. by a launch check)


def _ending_runs(runs: list[RunInfo]) -> tuple[list[RunInfo], list[RunInfo]]:
    """The runs that end a task: (failed, cancelled)."""
    # Only the newest run of each step counts: a retry's run supersedes the one that failed.
    latest: dict[tuple[str, str | None], RunInfo] = {}
    for r in runs:  # newest first, as Dagster lists them
        latest.setdefault((r.job_name, r.partition), r)
    # A failed run that Dagster will retry (its worker died) is not the end: its retry follows;
    # nor is one whose steps all succeeded (RunQueries._judge).
    failed = [r for r in latest.values() if r.status == "FAILURE" and not r.will_retry and not r.work_done]
    cancelled = [r for r in latest.values() if r.status in ("CANCELED", "CANCELING")]
    return failed, cancelled


def apply_runs(meta: MetadataStore, task: Task, runs: list[RunInfo]) -> Task:
    """Dagster decides failure and cancellation: a failed or cancelled run ends the task so."""
    if task.finished:
        return task
    failed, cancelled = _ending_runs(runs)
    if failed:
        r = failed[0]
        fail(
            meta, task.task_id, None,
            task.error or f"run {r.run_id} ({r.job_name}, {r.partition}) failed",
            task.message if task.error else "A pipeline run failed",
        )
    elif cancelled:
        cancel(meta, task.task_id, "Task cancelled")
    else:
        return task
    return meta.get_task(task.task_id) or task


def reconcile_now(meta: MetadataStore, dagster: DagsterClient, task: Task) -> Task:
    """`apply_runs` with the task's runs asked of Dagster now (blocking; for sync routes)."""
    if task.finished:
        return task
    try:
        return apply_runs(meta, task, dagster.task_runs(task.task_id))
    except DagsterUnavailable:
        return task


async def reconcile(meta: MetadataStore, dagster: DagsterClient, task: Task) -> tuple[Task, str | None]:
    """The task brought up to date with Dagster's run status, and, while it is unfinished, what
    keeps the pipeline behind it from moving (None when nothing: webserver and daemon are up).

    No poll asks Dagster: the runs of polled tasks and Dagster's health are refreshed in the
    background, one GraphQL request a second for every task at once (run_watch.py), so a poll
    is answered from the metadata store and memory. Only a task's first poll (per bridge
    process, or after a launch or termination made the bridge forget its runs) asks once, off
    the event loop, one caller for all."""
    if task.finished:
        return task, None
    problem = None
    runs = dagster.watch(task.task_id)
    if runs is None:
        try:
            runs = await _once((dagster, "runs", task.task_id), dagster.task_runs, task.task_id, RUNS_MAX_AGE)
        except DagsterUnavailable as exc:
            problem = str(exc)
    if runs is not None and any(_ending_runs(runs)):
        task = await off_loop(meta, apply_runs, meta, task, runs)  # a store write
    if not task.finished and problem is None:
        health = dagster.cached_health(HEALTH_MAX_AGE + RUNS_MAX_AGE)
        if health is None:
            health = await _once((dagster, "health"), dagster.health, HEALTH_MAX_AGE)
        problem = next((v for v in health.values() if v), None)
    return task, problem


async def answer_task(
    meta: MetadataStore, dagster: DagsterClient, load: Callable[[], Task], answer: Callable[[Task, str | None], T],
) -> T:
    """`answer(*reconcile(load()))`, with the store's reads and writes off the loop when the
    store is remote (`off_loop`: on PostgreSQL each is a network round trip, which on the event
    loop would hold up every other request)."""
    task = await off_loop(meta, load)
    task, problem = await reconcile(meta, dagster, task)
    return await off_loop(meta, answer, task, problem)


async def off_loop(meta: MetadataStore, fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)`, in the thread pool when the store is across a network (PostgreSQL: a round
    trip each read), on the loop when it is a local SQLite file. Measured with 50 clients polling
    during a generation on 2 cores (bench_status): SQLite reads in the pool made p99 196 ms, on
    the loop 17 and 20 ms; a read takes well under a millisecond there, a pool hop and its GIL
    hand-offs cost more than they spare."""
    if getattr(meta, "remote", False):
        return await run_in_threadpool(fn, *args)
    return fn(*args)


_asking: dict[tuple, asyncio.Future] = {}


async def _once(key: tuple, ask: Callable[..., T], *args: object) -> T:
    """`ask(*args)` in a worker thread, once for every coroutine of this event loop that wants
    the same answer meanwhile (fifty first polls of a task make one call, not fifty)."""
    loop = asyncio.get_running_loop()
    k = (loop, *key)
    future = _asking.get(k)
    if future is None:
        future = _asking[k] = loop.create_task(run_in_threadpool(ask, *args))
        future.add_done_callback(lambda _: _asking.pop(k, None))
    return await asyncio.shield(future)

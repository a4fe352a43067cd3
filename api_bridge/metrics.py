"""The figures of `GET /metrics` (Prometheus text format), in one dedicated registry.

The work is done in other processes (run workers forked by the warm launcher, the CLI), so the
pipeline's figures are not counters kept here: `VideogenCollector` reads them at scrape time
from the durable sources, the metadata store (videogen_dagster/observability/figures.py) and
Dagster's run storage (run counts over GraphQL, short timeout), each cached for a second or two
so a scrape storm costs one read. A store or a Dagster that cannot be read gives
`videogen_metadata_store_up 0` / `videogen_dagster_up 0`, never a failed scrape. The bridge's
own HTTP figures (http_metrics.py) are in-process and live in the same registry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from api_bridge.dagster_client import DagsterClient
from api_bridge.deps import get_dagster
from api_bridge.settings import get_settings
from videogen_dagster.observability.error_types import ERROR_TYPES
from videogen_dagster.observability.figures import StoreFigures, read_figures

log = logging.getLogger("api_bridge.metrics")
T = TypeVar("T")

CACHE_SECONDS = 2.0
DAGSTER_TIMEOUT_SECONDS = 2.0
TASK_KINDS = ("generate", "edit")
TASK_STATUSES = ("queued", "progress", "completed", "failed", "cancelled")
SCENE_STATUSES = ("queued", "rendering", "completed", "failed")
RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "SUCCESS", "FAILURE", "CANCELING", "CANCELED")


class Cached(Generic[T]):
    """`load()`'s answer, kept `max_age` seconds; one caller loads at a time, the others wait
    for its answer instead of loading again."""

    def __init__(self, load: Callable[[], T], max_age: float = CACHE_SECONDS):
        self.load, self.max_age = load, max_age
        self._lock = threading.Lock()
        self._value: T | None = None
        self._at: float | None = None

    def get(self) -> T:
        with self._lock:
            if self._at is None or time.monotonic() - self._at > self.max_age:
                self._value = self.load()
                self._at = time.monotonic()
            return self._value  # type: ignore[return-value]


def dagster_run_counts(client: DagsterClient, timeout: float = DAGSTER_TIMEOUT_SECONDS) -> dict[str, int]:
    """Runs in Dagster's run storage by status, in one GraphQL query."""
    fields = " ".join(
        f"{s.lower()}: runsOrError(filter: {{statuses: [{s}]}}) {{ __typename ... on Runs {{ count }} }}"
        for s in RUN_STATUSES
    )
    data = client.query(f"{{ {fields} }}", timeout=timeout)
    return {s: int((data.get(s.lower()) or {}).get("count", 0)) for s in RUN_STATUSES}


class VideogenCollector(Collector):
    """The pipeline's figures at scrape time. `metadata_path` and `dagster` are functions, read
    per load, so the collector follows the settings of the process it serves."""

    def __init__(
        self,
        metadata_path: Callable[[], Path | str],  # the SQLite file, or VIDEOGEN_DATABASE_URL
        dagster: Callable[[], DagsterClient] | None,
        max_age: float = CACHE_SECONDS,
    ):
        self._metadata_path, self._dagster = metadata_path, dagster
        self.store = Cached(self._load_store, max_age)
        self.runs = Cached(self._load_runs, max_age)

    def _load_store(self) -> StoreFigures | None:
        try:
            return read_figures(self._metadata_path())
        except Exception as exc:  # a scrape reports the store down rather than failing
            log.warning("metrics: the metadata store cannot be read: %s", exc)
            return None

    def _load_runs(self) -> dict[str, int] | None:
        if self._dagster is None:
            return None
        try:
            return dagster_run_counts(self._dagster())
        except Exception as exc:
            log.debug("metrics: Dagster cannot be asked: %s", exc)
            return None

    def describe(self) -> list[Metric]:
        return []  # registered without a first collect; the names are known at scrape time

    def collect(self) -> Iterator[Metric]:
        store = self.store.get()
        yield _gauge("videogen_metadata_store_up", "1 when the metadata store could be read at this scrape.", store is not None)
        if store is not None:
            yield from store_metrics(store)
        runs = self.runs.get()
        yield _gauge("videogen_dagster_up", "1 when the Dagster webserver answered the run counts at this scrape.", runs is not None)
        if runs is not None:
            g = GaugeMetricFamily("videogen_dagster_runs", "Runs in Dagster's run storage by status.", labels=["status"])
            for status, n in runs.items():
                g.add_metric([status.lower()], n)
            yield g
            yield _gauge("videogen_queue_depth", "Runs queued in Dagster, waiting for a run slot (QUEUED).", runs["QUEUED"])


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value))


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value))


def store_metrics(f: StoreFigures) -> Iterator[Metric]:
    """The metric families made from one read of the store."""
    tasks = GaugeMetricFamily("videogen_tasks", "Tasks in the metadata store by kind and status.", labels=["kind", "status"])
    ratio = GaugeMetricFamily(
        "videogen_task_completion_ratio",
        "Completed tasks over finished ones (completed, failed or cancelled), by kind.", labels=["kind"],
    )
    errors = GaugeMetricFamily(
        "videogen_task_errors", "Failed or cancelled tasks by kind and error type.", labels=["kind", "error_type"],
    )
    kinds = sorted(set(TASK_KINDS) | {k for k, _ in f.tasks})
    for kind in kinds:
        for status in TASK_STATUSES:
            tasks.add_metric([kind, status], f.tasks.get((kind, status), 0))
        finished = sum(f.tasks.get((kind, s), 0) for s in ("completed", "failed", "cancelled"))
        if finished:
            ratio.add_metric([kind], f.tasks.get((kind, "completed"), 0) / finished)
        for error_type in ERROR_TYPES:
            errors.add_metric([kind, error_type], f.task_errors.get((kind, error_type), 0))
    yield from (tasks, ratio, errors)

    scenes = GaugeMetricFamily("videogen_scenes", "Scenes by their current status.", labels=["status"])
    for status in SCENE_STATUSES:
        scenes.add_metric([status], f.scenes.get(status, 0))
    scene_errors = GaugeMetricFamily("videogen_scene_errors", "Scenes failed now, by error type.", labels=["error_type"])
    for error_type in ERROR_TYPES:
        if error_type != "cancelled":
            scene_errors.add_metric([error_type], f.scene_errors.get(error_type, 0))
    yield from (scenes, scene_errors)

    renders = HistogramMetricFamily(
        "videogen_scene_render_seconds",
        "Seconds to write and render one scene version (scene_versions.render_seconds), by quality.",
        labels=["quality"],
    )
    for quality, h in sorted(f.render_seconds.items()):
        renders.add_metric([quality], [(_le(b), n) for b, n in h.buckets], sum_value=h.total)
    video = CounterMetricFamily("videogen_scene_video_seconds", "Seconds of scene video rendered, by quality.", labels=["quality"])
    for quality, seconds in sorted(f.scene_video_seconds.items()):
        video.add_metric([quality], seconds)
    yield from (renders, video)

    gen = SummaryMetricFamily(
        "videogen_task_generation_seconds",
        "Generation time of completed tasks (request to result), by kind.", labels=["kind"],
    )
    gen_scenes = CounterMetricFamily(
        "videogen_task_generated_scenes", "Scenes made by completed tasks (a generation's scene count, 1 per edit).", labels=["kind"],
    )
    per_scene = GaugeMetricFamily(
        "videogen_generation_seconds_per_scene", "Average generation time per scene of completed tasks, by kind.", labels=["kind"],
    )
    for kind, (n, seconds, made) in sorted(f.generation.items()):
        gen.add_metric([kind], count_value=n, sum_value=seconds)
        gen_scenes.add_metric([kind], made)
        if made:
            per_scene.add_metric([kind], seconds / made)
    yield from (gen, gen_scenes, per_scene)

    yield _counter("videogen_llm_calls", "LLM calls made for the videos in the store.", f.llm.get("calls", 0))
    tokens = CounterMetricFamily("videogen_llm_tokens", "LLM tokens used, by type.", labels=["type"])
    tokens.add_metric(["prompt"], f.llm.get("prompt_tokens", 0))
    tokens.add_metric(["completion"], f.llm.get("completion_tokens", 0))
    yield tokens
    yield _counter("videogen_llm_cost_usd", "LLM cost in US dollars, at the configured prices.", f.llm.get("cost_usd", 0))

    yield _counter("videogen_narration_seconds", "Seconds of narration spoken in rendered scene versions.", f.narration_seconds)
    yield _counter("videogen_narrated_scenes", "Rendered scene versions with a narration.", f.narrated_scenes)
    lines = CounterMetricFamily("videogen_narration_lines", "Narration lines, synthesized or taken from the speech cache.", labels=["source"])
    for source, n in sorted(f.narration_lines.items()):
        lines.add_metric([source], n)
    yield lines

    stored = CounterMetricFamily("videogen_objects_stored", "Objects written to the object store, by kind.", labels=["kind"])
    stored_bytes = CounterMetricFamily("videogen_objects_stored_bytes", "Bytes of the objects written, by kind.", labels=["kind"])
    for kind, (n, size) in sorted(f.objects.items()):
        stored.add_metric([kind], n)
        stored_bytes.add_metric([kind], size)
    yield from (stored, stored_bytes)
    attempts = f.objects_stored + f.storage_failures
    if attempts:
        yield _gauge(
            "videogen_object_upload_success_ratio",
            "Objects stored over objects stored plus tasks failed by the object store.",
            f.objects_stored / attempts,
        )
    if f.convex_outbox is not None:
        outbox = GaugeMetricFamily(
            "videogen_convex_outbox_entries", "Convex mirror writes waiting to be sent (pending) or given up (dead).", labels=["state"],
        )
        for state, n in sorted(f.convex_outbox.items()):
            outbox.add_metric([state], n)
        yield outbox


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _bridge_collector() -> VideogenCollector:
    """The bridge's: its settings' store (read only, never opened for writing here) and its
    Dagster client (get_dagster)."""
    return VideogenCollector(lambda: get_settings().database_url or get_settings().metadata_path, get_dagster)


# The registry /metrics serves: the pipeline's figures and the bridge's HTTP figures.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(_bridge_collector())

"""Health of cluster mode (README, "Cluster mode" > Health): the services every machine shares
and the workers, as the spec's health section asks ("Celery worker availability").

- `postgresql`: `SELECT 1` on VIDEOGEN_DATABASE_URL (Dagster's storage and the metadata store).
- `redis`: PING of the Celery broker (and of the result backend when it is another server), and
  the runs waiting in each queue (LLEN of the queue's Redis lists: kombu keeps one list per
  priority step, `render`, `render\\x06\\x163`, ...; they are summed).
- `celery_workers`: which workers answer a broadcast within PING_TIMEOUT (Celery's `inspect
  active_queues`: a ping that also says which queues each worker takes). Unhealthy when none
  answers, or when no live worker takes a queue (its runs would wait for ever). A worker that
  answered before and stopped answering is named for LOST_WORKER_SECONDS: as the error when no
  worker is left, otherwise in the detail (its run is retried on a live worker by Dagster).
- `object_store`: the project's S3 check (head_bucket; cluster mode keeps artifacts only in S3).

The checks run in parallel, each bounded by CHECK_SECONDS, and the answer is cached for
CACHE_SECONDS, refreshed by one caller at a time: fifty polling clients cost one round of checks
every few seconds, not fifty pings of every worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from videogen_dagster.cluster.health_checks import (
    PING_TIMEOUT,
    Check,
    WorkerWatch,
    check_postgres,
    check_redis,
    first_line,
)
from videogen_dagster.settings import Settings, get_settings

CACHE_SECONDS = 5.0
CHECK_SECONDS = 5.0  # a check still running after this is reported as not answering


@dataclass(frozen=True)
class ClusterReport:
    checks: dict[str, Check]
    workers: dict[str, list[str]] = field(default_factory=dict)  # live worker -> queues it takes
    queues: dict[str, int] | None = None  # runs waiting per queue; None when Redis is unreachable
    checked_at: float = field(default_factory=time.time)  # epoch seconds

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    def problems(self) -> dict[str, str]:
        return {name: c.detail for name, c in self.checks.items() if not c.ok}


class ClusterHealth:
    """The checks above, cached for `max_age` seconds and refreshed by one caller at a time
    (the others get the last answer meanwhile, or wait for the first)."""

    def __init__(
        self,
        database_url: str | None,
        broker_url: str | None,
        backend_url: str | None = None,
        object_store: Callable[[], object] | None = None,
        max_age: float = CACHE_SECONDS,
        ping_timeout: float = PING_TIMEOUT,
        check_seconds: float = CHECK_SECONDS,
    ):
        self.database_url, self.broker_url, self.backend_url = database_url, broker_url, backend_url
        self.object_store = object_store
        self.max_age, self.check_seconds = max_age, check_seconds
        self.workers = WorkerWatch(broker_url, ping_timeout) if broker_url else None
        self._report: ClusterReport | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}  # check name -> when the thread still running began

    @classmethod
    def from_settings(cls, settings: Settings) -> ClusterHealth:
        from videogen_dagster.stores.objectstore import StoreConfig

        def store():
            if not settings.s3.bucket:
                raise RuntimeError("S3_BUCKET is not set (cluster mode keeps every artifact in S3)")
            return StoreConfig.from_settings(settings).store_for(None)

        return cls(
            settings.database_url, settings.cluster.broker_url, settings.cluster.backend_url, store
        )

    def report(self) -> ClusterReport:
        hit = self._report
        if hit is not None and time.monotonic() - self._at <= self.max_age:
            return hit
        if not self._lock.acquire(blocking=hit is None):
            return hit  # another caller is refreshing it
        try:
            if self._report is not None and time.monotonic() - self._at <= self.max_age:
                return self._report
            self._report, self._at = self._check(), time.monotonic()
            return self._report
        finally:
            self._lock.release()

    def _check(self) -> ClusterReport:
        redis_check, lengths = check_redis(
            self.broker_url, self.backend_url
        )  # fast; the others need it
        jobs: dict[str, Callable[[], object]] = {
            "postgresql": lambda: check_postgres(self.database_url),
            "object_store": self._check_store,
        }
        if self.workers is not None and redis_check.ok:
            jobs["celery_workers"] = lambda: self.workers.check(lengths)
        results = self._run_bounded(jobs)
        workers_answer = results.get("celery_workers")
        if isinstance(workers_answer, tuple):
            workers_check, live = workers_answer
        elif workers_answer is not None:
            workers_check, live = workers_answer, {}
        else:
            workers_check, live = Check(False, "unknown while Redis is unreachable"), {}
        checks = {
            "postgresql": results["postgresql"],
            "redis": redis_check,
            "celery_workers": workers_check,
            "object_store": results["object_store"],
        }
        return ClusterReport(checks=checks, workers=live, queues=lengths)

    def _check_store(self) -> Check:
        if self.object_store is None:
            return Check(True, "not checked")
        try:
            store = self.object_store()
            store.check()
        except Exception as exc:  # noqa: BLE001 - ObjectStoreError names bucket and endpoint
            return Check(False, f"object store unavailable: {first_line(exc)}")
        s = getattr(store, "s", None)
        where = (
            f"bucket {s.bucket!r} at {s.endpoint_url or 'AWS S3'}"
            if s is not None
            else type(store).__name__
        )
        return Check(True, f"{where}: head_bucket answered")

    def _run_bounded(self, jobs: dict[str, Callable[[], object]]) -> dict[str, object]:
        """Each job in a daemon thread; one not done within check_seconds is reported as such
        (and not started again while it still hangs)."""
        done: dict[str, object] = {}  # written by the threads
        out: dict[str, object] = {}
        threads: dict[str, threading.Thread] = {}
        now = time.monotonic()
        for name, job in jobs.items():
            if name in self._running:
                out[name] = Check(
                    False,
                    f"no answer: its check has been running for {now - self._running[name]:.0f} s",
                )
                continue

            def run(name=name, job=job):
                try:
                    done[name] = job()
                except Exception as exc:  # noqa: BLE001
                    done[name] = Check(False, f"check failed: {first_line(exc)}")
                finally:
                    self._running.pop(name, None)

            self._running[name] = now
            threads[name] = threading.Thread(target=run, name=f"cluster-health-{name}", daemon=True)
            threads[name].start()
        deadline = now + self.check_seconds
        for name, thread in threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            out[name] = (
                done[name]
                if name in done
                else Check(False, f"no answer within {self.check_seconds:g} s")
            )
        return out


@lru_cache(maxsize=1)
def cluster_health() -> ClusterHealth:
    """The process's one ClusterHealth (its cache and its memory of workers), from the settings."""
    return ClusterHealth.from_settings(get_settings())

"""The single checks of cluster mode's health (health.py runs them together and caches them):
PostgreSQL, Redis with the queue lengths, the Celery workers. Each answers a `Check`: ok or not,
and one sentence on what it found; none quotes a password."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from videogen_dagster.cluster.names import QUEUES

PING_TIMEOUT = 1.0  # seconds workers have to answer the broadcast
LOST_WORKER_SECONDS = 600.0  # how long a worker that stopped answering is remembered


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def _where(url: str) -> str:
    """host:port/db of a URL, never its password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.hostname or 'localhost'}{port}{parts.path or ''}"


def check_postgres(url: str | None, timeout: float = 3.0) -> Check:
    if not url:
        return Check(
            False, "VIDEOGEN_DATABASE_URL is not set (cluster mode keeps its state in PostgreSQL)"
        )
    import psycopg2

    where = f"PostgreSQL at {_where(url)}"
    dsn = "postgresql://" + url.split("://", 1)[1]  # libpq knows no "+psycopg2"
    try:
        conn = psycopg2.connect(dsn, connect_timeout=max(1, int(timeout)))
    except psycopg2.Error as exc:
        return Check(False, f"{where} is unreachable: {first_line(exc)}")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
            version = conn.server_version  # e.g. 150014
        return Check(
            True, f"{where}: SELECT 1 answered (server {version // 10000}.{version % 10000})"
        )
    except psycopg2.Error as exc:
        return Check(False, f"{where}: SELECT 1 failed: {first_line(exc)}")
    finally:
        conn.close()


def _redis_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps a queue's messages in, one per priority step."""
    from kombu.transport.redis import PRIORITY_STEPS, Channel

    return [queue if pri == 0 else f"{queue}{Channel.sep}{pri}" for pri in PRIORITY_STEPS]


def queue_lengths(client, queues=QUEUES) -> dict[str, int]:
    """Messages waiting in each queue (not those a worker holds unacknowledged)."""
    with client.pipeline() as pipe:
        for q in queues:
            for key in _redis_keys(q):
                pipe.llen(key)
        sizes = pipe.execute()
    steps = len(_redis_keys(queues[0])) if queues else 0
    return {q: int(sum(sizes[i * steps : (i + 1) * steps])) for i, q in enumerate(queues)}


def check_redis(
    broker_url: str | None, backend_url: str | None = None, timeout: float = 2.0
) -> tuple[Check, dict[str, int] | None]:
    if not broker_url:
        return Check(False, "VIDEOGEN_CELERY_BROKER_URL is not set"), None
    import redis

    if urlsplit(broker_url).scheme not in ("redis", "rediss"):
        return Check(True, f"the broker at {_where(broker_url)} is not Redis: not checked"), None
    servers = [("broker", broker_url)]
    if (
        backend_url
        and backend_url != broker_url
        and urlsplit(backend_url).scheme in ("redis", "rediss")
    ):
        servers.append(("result backend", backend_url))
    lengths: dict[str, int] | None = None
    for role, url in servers:
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
            if role == "broker":
                lengths = queue_lengths(client)
        except redis.RedisError as exc:
            return Check(
                False, f"Redis ({role}) at {_where(url)} is unreachable: {first_line(exc)}"
            ), None
        finally:
            client.close()
    waiting = ", ".join(f"{q} {n}" for q, n in (lengths or {}).items())
    return Check(True, f"Redis at {_where(broker_url)} answers; runs waiting: {waiting}"), lengths


class WorkerWatch:
    """Pings the workers and remembers the ones seen, so a worker that stops answering can be
    named (a dead machine sends no goodbye)."""

    def __init__(
        self,
        broker_url: str,
        timeout: float = PING_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ):
        from celery import Celery

        self.timeout = timeout
        self.clock = clock
        self.seen: dict[str, float] = {}
        # A bare app on the broker: the control broadcast needs no task of ours, and the bridge
        # need not import dagster-celery. The broker's down-time is Redis's check to report.
        self.app = Celery("videogen-health", broker=broker_url, set_as_current=False)
        self.app.conf.update(
            broker_connection_timeout=2,
            broker_connection_retry=False,
            broker_connection_max_retries=0,
        )

    def check(self, queues: dict[str, int] | None = None) -> tuple[Check, dict[str, list[str]]]:
        try:
            replies = self.app.control.inspect(timeout=self.timeout).active_queues() or {}
        except Exception as exc:  # noqa: BLE001 - broker errors of any transport
            return Check(False, f"could not ask the Celery workers: {first_line(exc)}"), {}
        now = self.clock()
        live = {
            name: sorted(q.get("name", "?") for q in (qs or []))
            for name, qs in sorted(replies.items())
        }
        for name in live:
            self.seen[name] = now
        for name, at in list(self.seen.items()):
            if now - at > LOST_WORKER_SECONDS:
                del self.seen[name]
        lost = [
            f"{name} (last answered {now - at:.0f} s ago)"
            for name, at in sorted(self.seen.items())
            if name not in live
        ]
        waiting = (
            f" (runs waiting: {', '.join(f'{q} {n}' for q, n in queues.items())})" if queues else ""
        )
        if not live:
            last = f"; stopped answering: {', '.join(lost)}" if lost else ""
            return Check(
                False,
                f"no Celery worker answers (waited {self.timeout:g} s): runs will not start{waiting}{last}",
            ), {}
        taken = {q for qs in live.values() for q in qs}
        untaken = [q for q in QUEUES if q not in taken]
        described = ", ".join(f"{name} ({', '.join(qs)})" for name, qs in sorted(live.items()))
        gone = f"; stopped answering: {', '.join(lost)}" if lost else ""
        if untaken:
            return Check(
                False,
                f"no live Celery worker takes the {' or '.join(untaken)} queue{waiting}: "
                f"{described}{gone}",
            ), live
        return Check(True, f"{len(live)} worker(s): {described}{gone}"), live


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]

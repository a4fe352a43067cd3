"""Webhook delivery: the bridge's loop that sends the outbox (`webhook_deliveries`), signed.

Why in the bridge and not a Dagster sensor: the sensor daemon ticks a sensor every 5 s at best
and runs its sensors one after another, so a receiver that is slow to answer would hold up the
chain sensor that launches scene runs; the bridge is an asyncio server that can wait on many
receivers at once and looks at the outbox every VIDEOGEN_EVENTS_POLL_SECONDS. The outbox is in
the metadata store, so nothing is lost while no bridge runs: the events queue and go out, in
order, when one starts. Several bridge processes may run the loop: each attempt is claimed first
(a compare-and-set with a lease), so one process sends it.

Order: of each task only the oldest pending delivery is due (`due_deliveries`), so a later event
of a task is never sent before an earlier one was delivered or given up. At least once: an
attempt whose answer was lost is sent again (same `Videogen-Event-Id`; receivers deduplicate by it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from api_bridge.events import EventPayloads
from videogen_dagster.retry import RetryPolicy
from videogen_dagster.settings import Settings
from videogen_dagster.stores.metastore import MetadataStore, WebhookDelivery
from videogen_dagster.stores.objectstore import StoreConfig
from videogen_dagster.stores.objectstore.signing import read_or_create_key

log = logging.getLogger("api_bridge.webhooks")

SIGNATURE_HEADER = "Videogen-Signature"
KEY_FILE = "webhook-signing.key"
USER_AGENT = "videogen-webhooks/1"


def webhook_secret(settings: Settings) -> bytes:
    """VIDEOGEN_WEBHOOK_SECRET, else the key file made once under VIDEOGEN_VAR_DIR."""
    secret = settings.events.webhook_secret
    return secret.encode() if secret else read_or_create_key(settings.var_dir.resolve() / KEY_FILE)


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The Videogen-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, tolerance: float = 300, now: float | None = None) -> bool:
    """What a receiver does (README has the same in a few lines): the HMAC matches, and the
    timestamp is recent (a replayed old delivery is refused)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    fresh = abs((time.time() if now is None else now) - t) <= tolerance
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def retry_policy(settings: Settings) -> RetryPolicy:
    """The waits between attempts: 1 s doubling to VIDEOGEN_WEBHOOK_MAX_BACKOFF_SECONDS."""
    e = settings.events
    return RetryPolicy(max_attempts=e.webhook_max_attempts, initial_backoff=min(1.0, e.webhook_max_backoff_seconds),
                       max_backoff=e.webhook_max_backoff_seconds)


def next_attempt(policy: RetryPolicy, attempts: int, now: float) -> float | None:
    """When to try again after `attempts` failed attempts; None: they are spent."""
    assert policy.max_attempts is not None
    if attempts >= policy.max_attempts:
        return None
    return now + next(itertools.islice(policy.backoffs(), attempts - 1, None))


class Deliverer:
    def __init__(self, meta: MetadataStore, stores: StoreConfig, settings: Settings, client: httpx.AsyncClient):
        self.meta, self.settings, self.client = meta, settings, client
        self.payloads = EventPayloads(meta, stores)
        self.policy = retry_policy(settings)
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        """Read (or made) with the first delivery, not before: a bridge with nothing to send
        creates no key file."""
        if self._secret is None:
            self._secret = webhook_secret(self.settings)
        return self._secret

    async def deliver_due(self) -> int:
        """Attempt every due delivery (one per task) at once; returns how many were attempted."""
        now = time.time()
        lease = now + self.settings.events.webhook_timeout_seconds + 30
        claimed = [d for d in self.meta.due_deliveries(now, 100)
                   if self.meta.claim_delivery(d.id, d.next_attempt_at, lease)]
        await asyncio.gather(*(self.attempt(d) for d in claimed))
        return len(claimed)

    async def attempt(self, d: WebhookDelivery) -> None:
        status: int | None = None
        error: str | None = None
        try:
            event = next(iter(self.meta.task_events(d.task_id, d.event_id - 1, 1)), None)
            if event is None or event.id != d.event_id:
                # Its event is gone (the video was deleted meanwhile): nothing to send.
                self.meta.record_delivery(d.id, False, None, "its event no longer exists", None)
                return
            body = json.dumps(self.payloads.of(event), separators=(",", ":")).encode()
            headers = {
                "Content-Type": "application/json", "User-Agent": USER_AGENT,
                "Videogen-Event-Id": str(event.id), "Videogen-Event-Type": str(event.type),
                "Videogen-Delivery-Attempt": str(d.attempts + 1),
                SIGNATURE_HEADER: sign(self.secret, body, int(time.time())),
            }
            answer = await self.client.post(d.url, content=body, headers=headers)
            status = answer.status_code
            if 200 <= status < 300:
                self.meta.record_delivery(d.id, True, status, None, None)
                return
            error = f"HTTP {status}: {answer.text[:200]}"
        except Exception as exc:  # refused, timed out, bad TLS ...: another attempt later
            error = f"{type(exc).__name__}: {exc}"[:500]
        later = next_attempt(self.policy, d.attempts + 1, time.time())
        if later is None:
            log.warning("webhook %s for event %s given up after %s attempts: %s", d.url, d.event_id,
                        d.attempts + 1, error)
        self.meta.record_delivery(d.id, False, status, error, later)


async def deliver_forever(
    settings: Settings, make: Callable[[], tuple[MetadataStore, StoreConfig]]
) -> None:
    """The bridge's background loop (started with the app, stopped with it). It opens the
    metadata store once the store exists (a bridge that never served a request creates nothing)."""
    timeout = httpx.Timeout(settings.events.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        deliverer: Deliverer | None = None
        while True:
            attempted = 0
            try:
                if deliverer is None and (settings.database_url or settings.metadata_path.exists()):
                    deliverer = Deliverer(*make(), settings, client)
                if deliverer is not None:
                    attempted = await deliverer.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery failed; trying again")
            if not attempted:
                await asyncio.sleep(settings.events.poll_seconds)


@asynccontextmanager
async def delivering(app: Any) -> AsyncIterator[None]:
    """The delivery loop for the app's lifetime (and the event hub stopped with it)."""
    from api_bridge import deps

    def make() -> tuple[MetadataStore, StoreConfig]:
        return deps.get_meta(), deps.get_store_config()

    work = deliver_forever(deps.get_settings(), make)
    loop = asyncio.get_running_loop().create_task(work, name="videogen-webhooks")
    try:
        yield
    finally:
        loop.cancel()
        hub = getattr(app.state, "event_hub", None)
        if hub is not None:
            hub.stop()

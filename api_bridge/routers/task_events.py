"""Live progress and webhooks of a task: GET .../tasks/{id}/events (Server-Sent Events) and
GET .../tasks/{id}/webhooks (its deliveries)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sse_starlette import EventSourceResponse, ServerSentEvent

from api_bridge.auth import CurrentPrincipal
from api_bridge.deps import Meta, SettingsDep, Store
from api_bridge.errors import ApiError
from api_bridge.events import EventHub, EventPayloads
from api_bridge.launching import task_for
from api_bridge.schemas import error_responses
from videogen_dagster.stores.metastore import TERMINAL_EVENTS, MetadataStore

router = APIRouter(prefix="/api/v1/video-generation", tags=["video-generation"], responses=error_responses(500))

BATCH = 200  # events read from the log at a time

STREAM_DESCRIPTION = """A text/event-stream of the task's events, oldest first:

```
id: 42
event: scene.rendered
data: {"id": 42, "type": "scene.rendered", "created_at": "...", "task_id": "...", "project_id": "...",
       "session_id": "...", "data": {"scene_id": "...", "scene_number": 1, "version": 1,
       "s3_video_url": "...", "s3_thumbnail_url": "...", ...}}
```

Types: task.queued, task.progress (status, progress, message, current_step, total_steps),
scene.queued, scene.rendering, scene.rendered, scene.reused, scene.restored, scene.failed (with
its error), task.completed (with the result), task.failed (with the error), task.cancelled.
A comment line (`: ping`) every VIDEOGEN_SSE_HEARTBEAT_SECONDS while nothing happens. The stream
ends after the terminal event; reconnecting with `Last-Event-ID` (or `?after=`) resumes after
that event, with nothing lost or repeated."""


class WebhookDeliveryPublic(BaseModel):
    event_id: int
    event_type: str
    url: str
    status: str  # pending | delivered | failed
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: str | None  # pending: when the next attempt is due
    last_attempt_at: str | None
    delivered_at: str | None
    created_at: str


class WebhookDeliveriesPublic(BaseModel):
    task_id: str
    webhook_url: str | None
    deliveries: list[WebhookDeliveryPublic]


def event_hub(request: Request, meta: MetadataStore, poll_seconds: float) -> EventHub:
    """The app's one poller of the event log (made with the first stream)."""
    hub = getattr(request.app.state, "event_hub", None)
    if hub is None or hub.meta is not meta:
        hub = request.app.state.event_hub = EventHub(meta, poll_seconds)
    return hub


def _start(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise ApiError(400, f"Last-Event-ID: must be an event id, a whole number (got {last_event_id[:40]!r})")
        return int(last_event_id)
    return after or 0


async def _stream(
    meta: MetadataStore, payloads: EventPayloads, hub: EventHub, task_id: str, last: int, wait: float,
) -> AsyncIterator[ServerSentEvent]:
    while True:
        waiter = hub.subscribe(task_id)  # before reading: see EventHub
        try:
            events = meta.task_events(task_id, last, BATCH)
            if not events:
                await _wait(waiter, wait)  # woken by the hub, or re-read after `wait` seconds
                continue
        finally:
            hub.unsubscribe(task_id, waiter)
        for e in events:
            yield ServerSentEvent(json.dumps(payloads.of(e)), event=str(e.type), id=str(e.id))
        last = events[-1].id
        if events[-1].type in TERMINAL_EVENTS:
            task = meta.get_task(task_id)
            if task is None or task.finished:
                return


async def _wait(waiter: asyncio.Future, seconds: float) -> None:
    try:
        await asyncio.wait_for(asyncio.shield(waiter), seconds)
    except TimeoutError:
        pass


@router.get(
    "/tasks/{task_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"description": STREAM_DESCRIPTION, "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        204: {"description": "The task is finished and has no event after the one given: nothing more will come "
                             "(an EventSource stops reconnecting)"},
        **error_responses(400, 401, 404, notes={400: "Last-Event-ID is not an event id"}),
    },
)
async def stream_task_events(
    task_id: str, request: Request, principal: CurrentPrincipal, meta: Meta, store: Store, settings: SettingsDep,
    after: Annotated[int | None, Query(ge=0, description="Resume after this event id (Last-Event-ID wins)")] = None,
    last_event_id: Annotated[str | None, Header(description="Resume after this event id (EventSource sends it)")] = None,
):
    """Live progress: every status, step and scene change of the task as Server-Sent Events."""
    task = task_for(meta, principal, task_id)
    last = _start(last_event_id, after)
    if task.finished and not meta.task_events(task_id, last, 1):
        return Response(status_code=204)
    hub = event_hub(request, meta, settings.events.poll_seconds)
    e = settings.events
    return EventSourceResponse(
        _stream(meta, EventPayloads(meta, store), hub, task_id, last, e.heartbeat_seconds),
        ping=e.heartbeat_seconds, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


# A plain def: FastAPI runs it in the thread pool, so its store reads leave the event loop alone.
@router.get("/tasks/{task_id}/webhooks", response_model=WebhookDeliveriesPublic, responses=error_responses(401, 404))
def list_task_webhooks(task_id: str, principal: CurrentPrincipal, meta: Meta):
    """The task's webhook deliveries: one per event sent, with its attempts and last answer."""
    task = task_for(meta, principal, task_id)
    events = {e.id: e.type for e in meta.task_events(task_id, 0, 10_000)}

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    return WebhookDeliveriesPublic(task_id=task_id, webhook_url=task.webhook_url, deliveries=[
        WebhookDeliveryPublic(
            event_id=d.event_id, event_type=str(events.get(d.event_id, "")), url=d.url, status=str(d.status),
            attempts=d.attempts, last_status=d.last_status, last_error=d.last_error,
            next_attempt_at=iso(d.next_attempt_at) if d.status == "pending" else None,
            last_attempt_at=d.last_attempt_at, delivered_at=d.delivered_at, created_at=d.created_at,
        ) for d in meta.task_deliveries(task_id)
    ])

"""Task events as clients receive them (Server-Sent Events and webhooks), and the one poller of a
bridge process that wakes the streams waiting for them.

The event log is in the metadata store (videogen_dagster/stores/metastore/events.py), written by
the pipeline's processes. `EventHub` is the only reader that polls it: every `poll_seconds` one
primary-key range query (`id > last`), however many streams are open; it wakes the streams of
the tasks that have new events, and each reads its own (`task_events(task_id, after)`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from videogen_dagster.models import split_video_key
from videogen_dagster.pipeline import PREVIEW_FIELD, URL_FIELDS, task_result
from videogen_dagster.stores.metastore import EventType, MetadataStore, TaskEvent, TaskStatus
from videogen_dagster.stores.objectstore import StoreConfig

log = logging.getLogger("api_bridge.events")


class EventPayloads:
    """An event as sent: ids, type, time and its data, with the URLs of a scene's objects and a
    completed task's result made now (stored events hold object keys; URLs expire)."""

    def __init__(self, meta: MetadataStore, stores: StoreConfig):
        self.meta, self.stores = meta, stores
        self._store_of: dict[str, Any] = {}

    def _store(self, video_key: str):
        if video_key not in self._store_of:
            video = self.meta.get_video(video_key)
            self._store_of[video_key] = self.stores.store_for((video.request if video else {}).get("s3_config"))
        return self._store_of[video_key]

    def of(self, event: TaskEvent) -> dict[str, Any]:
        project_id, session_id = split_video_key(event.video_key)
        data = dict(event.data)
        objects = data.pop("objects", None)
        if objects is not None:
            store = self._store(event.video_key)
            if event.type != EventType.SCENE_PREVIEW:  # a preview event names the preview alone
                data.update({field: store.url(objects[kind]) if kind in objects else None
                             for kind, field in URL_FIELDS.items()})
            kind, field = PREVIEW_FIELD
            if kind in objects:
                data[field] = store.url(objects[kind])
        if event.type == EventType.TASK_COMPLETED:
            task = self.meta.get_task(event.task_id)
            if task is not None and task.status == TaskStatus.COMPLETED:
                data["result"] = task_result(self.meta, self.stores, task)
        return {
            "id": event.id, "type": str(event.type), "created_at": event.created_at,
            "task_id": event.task_id, "project_id": project_id, "session_id": session_id, "data": data,
        }


class EventHub:
    """Wakes the streams waiting on a task when its events arrive. A stream subscribes *before*
    it reads the log, so an event committed after its read is always seen by a later poll that
    wakes it: nothing waits for a heartbeat that it should not."""

    def __init__(self, meta: MetadataStore, poll_seconds: float):
        self.meta, self.poll_seconds = meta, poll_seconds
        self._waiters: dict[str, set[asyncio.Future]] = {}
        self._task: asyncio.Task | None = None
        self._last = 0

    @property
    def streams(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._last = self.meta.last_event_id()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="videogen-event-hub")

    def subscribe(self, task_id: str) -> asyncio.Future:
        self._ensure_running()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(task_id, set()).add(waiter)
        return waiter

    def unsubscribe(self, task_id: str, waiter: asyncio.Future) -> None:
        waiting = self._waiters.get(task_id)
        if waiting is not None:
            waiting.discard(waiter)
            if not waiting:
                del self._waiters[task_id]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                self.poll()
            except Exception:  # the store unreachable for a moment: the next poll tries again
                log.exception("reading the task event log failed")

    def poll(self) -> None:
        while True:
            events = self.meta.events_after(self._last, 1000)
            if not events:
                return
            self._last = events[-1].id
            for task_id in {e.task_id for e in events}:
                for waiter in self._waiters.get(task_id, ()):
                    if not waiter.done():
                        waiter.set_result(None)
            if len(events) < 1000:
                return

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

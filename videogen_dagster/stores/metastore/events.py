"""The task event log and the webhook outbox.

Every change of a task (status, progress, message, step) and of a scene a task works on
(queued, rendering, previewed, rendered, reused, failed) is appended to `task_events` **in the transaction
that makes the change** (tasks.py and videos.py call `task_changed` / `scene_changed` inside
their own `_tx()`), so the log never says something the store does not hold, and never misses
what it does. The event id (SQLite's AUTOINCREMENT rowid; a sequence on PostgreSQL) is the
order: writers run one at a time (SQLite's BEGIN IMMEDIATE; PostgreSQL's advisory lock, see
postgres.py), so ids commit in increasing order and a reader that asks for `id > last` never
skips one that commits later.

An event of WEBHOOK_EVENTS for a task with a `webhook_url` also gets a `webhook_deliveries` row in
the same transaction (the durable outbox); the bridge's deliverer (api_bridge/webhook_delivery.py)
sends them, one task's in event order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from videogen_dagster.stores.metastore import records
from videogen_dagster.stores.metastore.db import SqliteDb
from videogen_dagster.stores.metastore.status import (
    ACTIVE,
    FINISHED,
    SceneStatus,
    TaskKind,
    now_iso,
    sql_list,
)


class EventType(StrEnum):
    TASK_QUEUED = "task.queued"
    TASK_PROGRESS = "task.progress"  # status, progress, message or step moved
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_CANCELLED = "task.cancelled"
    SCENE_QUEUED = "scene.queued"  # planned
    SCENE_RENDERING = "scene.rendering"
    SCENE_RENDERED = "scene.rendered"  # a new (or replaced) version
    SCENE_REUSED = "scene.reused"  # its current version was kept: nothing to make again
    SCENE_RESTORED = "scene.restored"  # a failed edit left the scene at its version
    SCENE_FAILED = "scene.failed"
    SCENE_PREVIEW = "scene.preview"  # progressive rendering: a preview while the final renders


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt spent


TERMINAL_EVENTS = (EventType.TASK_COMPLETED, EventType.TASK_FAILED, EventType.TASK_CANCELLED)
# What a webhook receiver is sent: each scene's outcome and the task's.
WEBHOOK_EVENTS = (
    EventType.SCENE_PREVIEW, EventType.SCENE_RENDERED, EventType.SCENE_REUSED, EventType.SCENE_FAILED,
    *TERMINAL_EVENTS,
)
_SCENE_EVENTS = {
    SceneStatus.QUEUED: EventType.SCENE_QUEUED,
    SceneStatus.RENDERING: EventType.SCENE_RENDERING,
    SceneStatus.FAILED: EventType.SCENE_FAILED,
    SceneStatus.COMPLETED: EventType.SCENE_REUSED,
}
_TASK_COLUMNS = ("status", "progress", "message", "current_step", "total_steps")


def append(db: sqlite3.Connection, task: sqlite3.Row, type_: EventType, data: dict[str, Any]) -> None:
    """One event of `task` (a tasks row), and its webhook delivery, inside the caller's transaction.
    Its time has milliseconds: clients measure how late an event reached them."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event_id = db.execute(
        "INSERT INTO task_events (task_id, video_key, type, data, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
        (task["task_id"], task["video_key"], str(type_), json.dumps(data), now),
    ).fetchall()[0][0]  # all rows: SQLite ends the statement only then
    if task["webhook_url"] and type_ in WEBHOOK_EVENTS:
        db.execute(
            f"""INSERT INTO webhook_deliveries (event_id, task_id, video_key, url, status, attempts,
                 next_attempt_at, created_at) VALUES (?, ?, ?, ?, '{DeliveryStatus.PENDING}', 0, 0, ?)""",
            (event_id, task["task_id"], task["video_key"], task["webhook_url"], now),
        )


def task_changed(db: sqlite3.Connection, before: sqlite3.Row | None, after: sqlite3.Row | None) -> None:
    """The event a task write made, if it changed what a client sees (inside its transaction)."""
    if after is None:
        return
    data = {c: after[c] for c in _TASK_COLUMNS}
    if before is None:
        append(db, after, EventType.TASK_QUEUED, {**data, "kind": after["kind"], "scene_id": after["scene_id"]})
    elif after["status"] != before["status"] and after["status"] in FINISHED:
        append(db, after, EventType(f"task.{after['status']}"),
               {**data, "error": after["error"], "completed_at": after["completed_at"]})
    elif any(before[c] != after[c] for c in _TASK_COLUMNS):
        append(db, after, EventType.TASK_PROGRESS, data)


def scene_changed(
    db: sqlite3.Connection, video_key: str, scene_number: int, before: sqlite3.Row | None,
    rendered: bool = False,
) -> None:
    """Events of a scene write, for each task working on the scene: its video's active
    generation, or an active edit of that scene (inside the write's transaction)."""
    scene = db.execute(
        "SELECT * FROM scenes WHERE video_key = ? AND scene_number = ?", (video_key, scene_number)
    ).fetchone()
    if scene is None:
        return
    if rendered:
        type_ = EventType.SCENE_RENDERED
    elif scene["status"] == SceneStatus.COMPLETED and before is not None and before["status"] == SceneStatus.RENDERING:
        type_ = EventType.SCENE_RESTORED
    else:
        type_ = _SCENE_EVENTS[SceneStatus(scene["status"])]
    assets = json.loads(scene["assets"]) if scene["assets"] else {}
    data = {
        "scene_id": scene["scene_id"], "scene_number": scene_number, "title": scene["title"],
        "status": scene["status"], "version": scene["version"], "duration": scene["duration"],
        "error": scene["error"],
    }
    if type_ in (EventType.SCENE_RENDERED, EventType.SCENE_REUSED, EventType.SCENE_RESTORED):
        # Keys only: URLs expire, so readers make them when they send the event.
        data["objects"] = {k: a["key"] for k, a in assets.items() if isinstance(a, dict) and "key" in a}
    tasks = db.execute(
        f"SELECT * FROM tasks WHERE video_key = ? AND status IN ({sql_list(ACTIVE)}) ORDER BY created_at",
        (video_key,),
    ).fetchall()
    for task in tasks:
        if task["kind"] == TaskKind.GENERATE or task["scene_id"] == scene["scene_id"]:
            append(db, task, type_, data)


def scene_previewed(db: sqlite3.Connection, video_key: str, scene_number: int, preview: dict[str, Any]) -> None:
    """A scene's preview render was published: each task working on the scene lists it (one per
    scene, the latest) and gets a `scene.preview` event (inside the write's transaction)."""
    scene = db.execute(
        "SELECT * FROM scenes WHERE video_key = ? AND scene_number = ?", (video_key, scene_number)
    ).fetchone()
    if scene is None:
        return
    entry = {"scene_number": scene_number, "scene_id": scene["scene_id"], **preview}
    data = {
        "scene_id": scene["scene_id"], "scene_number": scene_number, "title": scene["title"],
        "status": scene["status"], **{k: v for k, v in preview.items() if k != "key"},
        "objects": {"preview": preview["key"]},
    }
    tasks = db.execute(
        f"SELECT * FROM tasks WHERE video_key = ? AND status IN ({sql_list(ACTIVE)}) ORDER BY created_at",
        (video_key,),
    ).fetchall()
    for task in tasks:
        if task["kind"] != TaskKind.GENERATE and task["scene_id"] != scene["scene_id"]:
            continue
        listed = [p for p in json.loads(task["previews"] or "[]") if p["scene_number"] != scene_number]
        listed = sorted([*listed, entry], key=lambda p: p["scene_number"])
        db.execute("UPDATE tasks SET previews = ? WHERE task_id = ?", (json.dumps(listed), task["task_id"]))
        append(db, task, EventType.SCENE_PREVIEW, data)


def _event(row: sqlite3.Row) -> records.TaskEvent:
    return records.TaskEvent(row["id"], row["task_id"], row["video_key"], EventType(row["type"]),
                             json.loads(row["data"]), row["created_at"])


def _delivery(row: sqlite3.Row) -> records.WebhookDelivery:
    return records.WebhookDelivery(**{**dict(row), "status": DeliveryStatus(row["status"])})


class SqliteEvents(SqliteDb):
    # --- the event log -------------------------------------------------------------------------

    def task_events(self, task_id: str, after_id: int = 0, limit: int = 500) -> list[records.TaskEvent]:
        """The task's events after `after_id`, oldest first."""
        found = self._conn().execute(
            "SELECT * FROM task_events WHERE task_id = ? AND id > ? ORDER BY id LIMIT ?",
            (task_id, after_id, limit),
        ).fetchall()
        return [_event(r) for r in found]

    def events_after(self, after_id: int, limit: int = 1000) -> list[records.TaskEvent]:
        """Every task's events after `after_id`, oldest first (one primary-key range)."""
        found = self._conn().execute(
            "SELECT * FROM task_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        ).fetchall()
        return [_event(r) for r in found]

    def last_event_id(self) -> int:
        return self._conn().execute("SELECT COALESCE(MAX(id), 0) FROM task_events").fetchone()[0]

    # --- the webhook outbox --------------------------------------------------------------------

    def due_deliveries(self, now: float, limit: int = 100) -> list[records.WebhookDelivery]:
        """Deliveries to attempt now: of each task, only its oldest pending one (events of a task
        are delivered in order: a later one waits while an earlier one is retried)."""
        found = self._conn().execute(
            f"""SELECT d.* FROM webhook_deliveries d WHERE d.status = '{DeliveryStatus.PENDING}'
                 AND d.next_attempt_at <= ? AND d.event_id = (
                   SELECT MIN(e.event_id) FROM webhook_deliveries e
                   WHERE e.task_id = d.task_id AND e.status = '{DeliveryStatus.PENDING}')
                ORDER BY d.event_id LIMIT ?""",
            (now, limit),
        ).fetchall()
        return [_delivery(r) for r in found]

    def task_deliveries(self, task_id: str) -> list[records.WebhookDelivery]:
        found = self._conn().execute(
            "SELECT * FROM webhook_deliveries WHERE task_id = ? ORDER BY event_id", (task_id,)
        ).fetchall()
        return [_delivery(r) for r in found]

    def claim_delivery(self, delivery_id: int, seen_next_attempt: float, lease_until: float) -> bool:
        """Take a due delivery for one attempt (a compare-and-set on its next attempt time), so
        two deliverers never send it at once; the lease expires if this one dies mid-attempt."""
        with self._tx() as db:
            cur = db.execute(
                f"""UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND next_attempt_at = ?
                    AND status = '{DeliveryStatus.PENDING}'""",
                (lease_until, delivery_id, seen_next_attempt),
            )
            return cur.rowcount == 1

    def record_delivery(
        self, delivery_id: int, delivered: bool, status_code: int | None, error: str | None,
        next_attempt_at: float | None,
    ) -> None:
        """One attempt's outcome: delivered, to be retried at `next_attempt_at`, or (None) given up."""
        status = (DeliveryStatus.DELIVERED if delivered
                  else DeliveryStatus.PENDING if next_attempt_at is not None else DeliveryStatus.FAILED)
        with self._tx() as db:
            db.execute(
                """UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, last_status = ?,
                   last_error = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_attempt_at = ?,
                   delivered_at = CASE WHEN ? THEN ? ELSE delivered_at END WHERE id = ?""",
                (status, status_code, error, next_attempt_at, now_iso(), delivered, now_iso(), delivery_id),
            )

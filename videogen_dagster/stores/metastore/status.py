"""Task, scene, video and batch statuses (and task kinds), defined once: the SQLite columns, the
Convex validators (convex/schema.ts `taskStatus`, `sceneStatus`) and the REST API use these values."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


class TaskStatus(StrEnum):
    QUEUED = "queued"
    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SceneStatus(StrEnum):
    QUEUED = "queued"
    RENDERING = "rendering"
    COMPLETED = "completed"
    FAILED = "failed"


class VideoStatus(StrEnum):
    """A video's own status: planned (`progress`) and then joined (`completed`)."""

    QUEUED = "queued"
    PROGRESS = "progress"
    COMPLETED = "completed"


class TaskKind(StrEnum):
    GENERATE = "generate"
    EDIT = "edit"


class BatchStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


# A finished task never goes back to an active one, except a failed task reopened for a retry.
FINISHED = (TaskStatus.COMPLETED, TaskStatus.CANCELLED, TaskStatus.FAILED)
ACTIVE = (TaskStatus.QUEUED, TaskStatus.PROGRESS)


def sql_list(statuses: tuple[StrEnum, ...]) -> str:
    """`'a', 'b'` for an `IN (...)` clause (the values are this module's literals, never input)."""
    return ", ".join(f"'{s}'" for s in statuses)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

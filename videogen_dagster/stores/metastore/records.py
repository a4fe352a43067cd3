"""The metadata store's records: one frozen dataclass per table, made from a row once by the store
(rows.py for SQLite: JSON columns parsed, statuses as the enums of status.py).

Top-level columns are attributes. A few columns hold JSON whose shape belongs to another part of
the pipeline, and stay plain data here: a video's `request` (models.GenerateRequest), `plan`
(planning.VideoPlan) and `combined` (the join's record), a task's fixed `result` (results.py), a
scene's `assets` (kind -> StoredObject.as_dict(), plus the video's probe) and a version's `extra`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from videogen_dagster.stores.metastore.status import (
    FINISHED,
    BatchStatus,
    SceneStatus,
    TaskKind,
    TaskStatus,
    VideoStatus,
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Task:
    """A generation or an edit, as the API reports it."""

    task_id: str
    kind: TaskKind
    project_id: str
    session_id: str
    scene_id: str | None  # an edit's scene
    video_key: str
    status: TaskStatus
    progress: int
    message: str
    current_step: str | None
    total_steps: int
    result: Json | None  # the fixed result record, once it finished
    error: str | None
    quality: str | None
    created_at: str
    started_at: str | None
    updated_at: str
    completed_at: str | None
    webhook_url: str | None = None  # where its events are sent (the request's, or the project's default)
    # Progressive rendering: the preview of each scene published so far, by scene number order
    # ({scene_number, scene_id, version, key, duration, width, height, fps, created_at}).
    previews: list[dict] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class Video:
    """A video: its request, its current plan and combined video, and its LLM use so far."""

    video_key: str
    project_id: str
    session_id: str
    request: Json  # GenerateRequest.to_stored()
    plan: Json | None  # VideoPlan as JSON
    plan_version: int
    plan_object: Json | None  # where plan.json is (StoredObject.as_dict())
    combined_version: int
    combined: Json | None  # the join's record: version, video, subtitles, manifest
    status: VideoStatus
    total_duration: float | None
    llm_usage: Json | None  # calls, tokens and cost, summed over the video's steps
    created_at: str
    updated_at: str
    join_token: str | None = None  # the set of scene versions last joined (or being joined)

    @property
    def planned(self) -> bool:
        return bool(self.plan)

    @property
    def scene_count(self) -> int:
        """The plan's scene count (0 without a plan)."""
        return int(self.plan["scene_count"]) if self.plan else 0


@dataclass(frozen=True)
class Scene:
    """A scene's current state: its status and, once rendered, its current version's assets."""

    video_key: str
    scene_number: int
    scene_id: str
    title: str
    status: SceneStatus
    version: int  # 0 until a version is rendered
    duration: float | None
    assets: Json = field(default_factory=dict)  # kind -> stored object; {} before a render
    error: str | None = None
    updated_at: str = ""

    @property
    def rendered(self) -> bool:
        """Completed, with a version whose objects exist."""
        return self.status == SceneStatus.COMPLETED and bool(self.assets)

    def object_key(self, kind: str) -> str:
        """The object key of one of the current version's files (source, video, thumbnail, subtitles)."""
        return self.assets[kind]["key"]


@dataclass(frozen=True)
class SceneVersion:
    """One row of a scene's append-only history (an in-place edit replaces its assets)."""

    video_key: str
    scene_number: int
    version: int
    assets: Json
    duration: float
    render_seconds: float | None
    quality: str | None
    task_id: str | None
    run_id: str | None
    edit_prompt: str | None
    extra: Json  # coder, failed attempts, LLM usage and retrievals; {} when none
    created_at: str


@dataclass(frozen=True)
class SceneEdit:
    """One applied edit of a scene: from which version to which, asked how, done by what."""

    video_key: str
    scene_number: int
    from_version: int
    to_version: int
    edit_prompt: str
    model: str
    applied: list[str]
    task_id: str | None
    created_at: str


@dataclass(frozen=True)
class BatchEntry:
    """One request of a batch: its line (or index), its task, or why it was refused."""

    line: int
    task_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    name: str
    source: str  # file | api | schedule
    status: BatchStatus
    entries: list[BatchEntry]
    summary: Json | None  # batches.summary(), once every task ended
    created_at: str
    done_at: str | None

    @property
    def task_ids(self) -> list[str]:
        return [e.task_id for e in self.entries if e.task_id]


@dataclass(frozen=True)
class VideoRecords:
    """How many records a video has in each table (what `delete_video` removes, or removed)."""

    videos: int = 0
    tasks: int = 0
    scenes: int = 0
    scene_versions: int = 0
    scene_edits: int = 0

    @property
    def total(self) -> int:
        return self.videos + self.tasks + self.scenes + self.scene_versions + self.scene_edits

    def as_dict(self) -> dict[str, int]:
        return {"videos": self.videos, "tasks": self.tasks, "scenes": self.scenes,
                "scene_versions": self.scene_versions, "scene_edits": self.scene_edits}


@dataclass(frozen=True)
class TaskEvent:
    """One entry of the task event log (events.py): `id` orders every event of every task."""

    id: int
    task_id: str
    video_key: str
    type: str  # events.EventType
    data: Json  # what changed; a scene's object keys, never URLs
    created_at: str


@dataclass(frozen=True)
class WebhookDelivery:
    """One event to send to a task's webhook, and how its attempts went."""

    id: int
    event_id: int
    task_id: str
    video_key: str
    url: str
    status: str  # events.DeliveryStatus
    attempts: int
    last_status: int | None  # the receiver's last HTTP status (None: no answer)
    last_error: str | None
    next_attempt_at: float  # Unix seconds
    last_attempt_at: str | None
    delivered_at: str | None
    created_at: str

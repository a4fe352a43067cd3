"""The metadata store's interface: every method the pipeline, the bridge, the CLI and the sensors
call, split into reads and writes.

`SqliteMetadataStore` implements it; `videogen_dagster.stores.convex.MirroredMetadataStore` wraps any
implementation and mirrors every write to Convex. WRITERS is what that wrapper (and its test)
enumerate: a method added to MetadataWriter must be given a Convex mirror or be declared local
only there, or the wrapper's class fails to build. Readers return the typed records of
records.py (the agent endpoint's renders stay a dict of their row); every write is an upsert by
natural key, so replaying one is harmless.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from videogen_dagster.stores.metastore import records
from videogen_dagster.stores.metastore.status import BatchStatus, SceneStatus


@runtime_checkable
class MetadataReader(Protocol):
    def ping(self) -> None:
        """Raise when the store cannot be reached (health checks)."""
        ...

    def get_video(self, video_key: str) -> records.Video | None: ...

    def get_task(self, task_id: str) -> records.Task | None: ...

    def active_tasks(self, video_key: str) -> list[records.Task]:
        """The video's queued or running tasks, oldest first."""
        ...

    def next_scene_version(self, video_key: str, scene_number: int) -> int: ...

    def get_scene(self, video_key: str, scene_number: int) -> records.Scene | None:
        """The scene as the local store has it."""
        ...

    def current_scene(self, video_key: str, scene_number: int) -> records.Scene | None:
        """The scene as the source of truth has it (what an edit starts from)."""
        ...

    def list_scenes(self, video_key: str) -> list[records.Scene]: ...

    def scene_history(self, video_key: str, scene_number: int) -> list[records.SceneVersion]:
        """Every version of a scene, oldest first."""
        ...

    def edit_history(self, video_key: str, scene_number: int) -> list[records.SceneEdit]: ...

    def render_history(self, quality: str, limit: int = 50) -> list[float]:
        """Recent render times (seconds) of scenes at a quality."""
        ...

    def get_agent_render(self, request_id: str) -> dict | None: ...

    def get_batch(self, batch_id: str) -> records.Batch | None: ...

    def list_batches(self, status: BatchStatus) -> list[records.Batch]: ...

    def video_records(self, video_key: str) -> records.VideoRecords:
        """How many records the video has in each table (what delete_video would remove)."""
        ...

    # --- the task event log and the webhook outbox (events.py) ---------------------------------

    def task_events(self, task_id: str, after_id: int = 0, limit: int = 500) -> list[records.TaskEvent]:
        """The task's events after `after_id`, oldest first."""
        ...

    def events_after(self, after_id: int, limit: int = 1000) -> list[records.TaskEvent]:
        """Every task's events after `after_id`, oldest first."""
        ...

    def last_event_id(self) -> int: ...

    def due_deliveries(self, now: float, limit: int = 100) -> list[records.WebhookDelivery]:
        """Webhook deliveries to attempt now: each task's oldest pending one, if it is due."""
        ...

    def task_deliveries(self, task_id: str) -> list[records.WebhookDelivery]: ...


@runtime_checkable
class MetadataWriter(Protocol):
    # --- videos --------------------------------------------------------------------------------

    def register_video(self, video_key: str, project_id: str, session_id: str, request: dict) -> None: ...

    def save_plan(self, video_key: str, plan: dict, version: int, plan_object: dict) -> None: ...

    def add_llm_usage(self, video_key: str, usage: dict) -> None:
        """Add one step's token/cost usage to the video's total."""
        ...

    def save_scene_plan(self, video_key: str, scene_number: int, scene_plan: dict) -> None:
        """Replace one scene of the video's plan (an offline edit's plan is kept for re-renders)."""
        ...

    def save_combined(self, video_key: str, version: int, combined: dict, total_duration: float) -> None: ...

    def claim_join(self, video_key: str, token: str) -> bool:
        """Claim the join of one exact set of scene versions: True for the first caller only."""
        ...

    def release_join(self, video_key: str, token: str) -> None: ...

    def set_join_token(self, video_key: str, token: str) -> None: ...

    # --- scenes --------------------------------------------------------------------------------

    def set_scene_status(
        self, video_key: str, scene_number: int, scene_id: str, title: str, status: SceneStatus,
        error: str | None = None,
    ) -> None: ...

    def record_scene_version(
        self, video_key: str, scene_number: int, scene_id: str, title: str, version: int,
        assets: dict, duration: float, render_seconds: float, quality: str,
        task_id: str | None, run_id: str | None, edit_prompt: str | None = None, extra: dict | None = None,
    ) -> None:
        """Append a version to the history and make it the scene's current one, atomically."""
        ...

    def record_scene_preview(self, video_key: str, scene_number: int, preview: dict) -> None:
        """Progressive rendering: a preview of the scene (`key`, `version`, its probe) was stored;
        the tasks working on the scene list it and get a `scene.preview` event."""
        ...

    def replace_scene_version(
        self, video_key: str, scene_number: int, version: int, assets: dict, duration: float, extra: dict,
    ) -> None:
        """An in-place edit (version_increment=false): the version's objects were replaced."""
        ...

    def record_edit(
        self, video_key: str, scene_number: int, from_version: int, to_version: int, prompt: str,
        model: str, applied: list[str], task_id: str | None,
    ) -> None: ...

    # --- tasks ---------------------------------------------------------------------------------

    def create_task(
        self, task_id: str, kind: str, project_id: str, session_id: str, video_key: str,
        total_steps: int, quality: str, scene_id: str | None = None, message: str = "Task queued",
        exclusive: bool = False, request: dict | None = None, webhook_url: str | None = None,
    ) -> records.Task:
        """Create a task (a repeat is a no-op); `exclusive` raises VideoBusy while another task
        works on the video; `request` is stored on the video in the same transaction; the task's
        events of events.WEBHOOK_EVENTS are sent to `webhook_url`."""
        ...

    def update_task(self, task_id: str, **fields: Any) -> None:
        """Progress only moves forward; a finished task stays finished."""
        ...

    def start_task(self, task_id: str) -> None: ...

    def reopen_task(self, task_id: str, message: str) -> bool:
        """A failed task goes back to `progress` for a retry; False when it was not failed."""
        ...

    # --- the agent endpoint's renders and batches ---------------------------------------------

    def create_agent_render(self, request_id: str, project_id: str | None) -> None: ...

    def finish_agent_render(self, request_id: str, status: str, result: dict | None = None,
                            error: str | None = None, log: str | None = None) -> None: ...

    def create_batch(
        self, batch_id: str, name: str, source: str, entries: list[records.BatchEntry]
    ) -> bool:
        """Record a batch; False when a batch with this id already exists."""
        ...

    def finish_batch(self, batch_id: str, summary: dict) -> None: ...

    # --- the webhook outbox -------------------------------------------------------------------

    def claim_delivery(self, delivery_id: int, seen_next_attempt: float, lease_until: float) -> bool:
        """Take a due delivery for one attempt: True for one caller only."""
        ...

    def record_delivery(
        self, delivery_id: int, delivered: bool, status_code: int | None, error: str | None,
        next_attempt_at: float | None,
    ) -> None:
        """One attempt's outcome: delivered, retried at `next_attempt_at`, or (None) given up."""
        ...

    # --- removing a video ----------------------------------------------------------------------

    def delete_video(self, video_key: str) -> records.VideoRecords:
        """Remove the video, its scenes, scene versions, edits and tasks in one transaction;
        raises VideoBusy (removing nothing) while one of its tasks is queued or running.
        Returns what was removed."""
        ...


@runtime_checkable
class MetadataStore(MetadataReader, MetadataWriter, Protocol):
    """Tasks, videos, scenes, scene versions and their assets: reads and writes."""


def _methods(protocol: type) -> tuple[str, ...]:
    return tuple(n for n, f in vars(protocol).items() if inspect.isfunction(f) and not n.startswith("_"))


READERS: tuple[str, ...] = _methods(MetadataReader)
WRITERS: tuple[str, ...] = _methods(MetadataWriter)

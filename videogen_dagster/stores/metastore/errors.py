"""Typed errors of the metadata store, which the edges map to codes (404, 409, 503)."""

from __future__ import annotations

from videogen_dagster.stores.metastore.records import Task


class StoreError(RuntimeError):
    """A metadata store operation failed."""


class NotFound(StoreError, LookupError):
    """The record an operation needs does not exist."""


class Conflict(StoreError):
    """The operation conflicts with the record's current state (a running task, a newer version)."""


class Unavailable(StoreError):
    """The store (or the backend it mirrors to) cannot be reached now; retrying later may work."""


class VideoBusy(Conflict):
    """The video has a generation or an edit of the same scene still running."""

    def __init__(self, video_key: str, task: Task):
        self.video_key, self.task = video_key, task
        what = "generated" if task.kind == "generate" else f"edited ({task.scene_id})"
        super().__init__(
            f"video {video_key} is still being {what} by task {task.task_id} ({task.status}); "
            "wait for it to finish or cancel it"
        )

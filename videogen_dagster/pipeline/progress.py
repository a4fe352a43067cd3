"""The one writer of a task's progress, completion, failure and cancellation.

Every step of the pipeline and the REST bridge record how a task moves through here, so a
failure always reads the same way (`<what>: <error>`, cut at one length) and progress is always
a percentage of the task's steps. The metadata store keeps progress moving forward only and a
finished task finished (a late write from a straggling run changes nothing)."""

from __future__ import annotations

from typing import Any

from videogen_dagster.stores.metastore import MetadataStore, TaskStatus

# The longest error a task or scene keeps: a render's log tail is already in it, and more only
# bloats every status poll.
ERROR_LIMIT = 4000


def clip(error: str) -> str:
    """An error as a task or scene keeps it: its first ERROR_LIMIT characters."""
    return error[:ERROR_LIMIT]


def percent(done: int, total: int) -> int:
    return min(100, int(100 * done / max(total, 1)))


def advance(
    meta: MetadataStore, task_id: str | None, done: int, total: int, message: str, step: str
) -> None:
    """`done` of `total` steps, with what the task is doing now (no-op without a task)."""
    if task_id:
        meta.update_task(
            task_id,
            progress=percent(done, total),
            total_steps=total,
            message=message,
            current_step=step,
        )


def complete(
    meta: MetadataStore, task_id: str | None, total: int, message: str, result: dict[str, Any]
) -> None:
    """The task finished: 100 %, its fixed result record, and when it completed."""
    if task_id:
        meta.update_task(
            task_id,
            status=TaskStatus.COMPLETED,
            progress=100,
            message=message,
            current_step="completed",
            result=result,
            completed_at=result["completed_at"],
            total_steps=total,
        )


def fail(
    meta: MetadataStore,
    task_id: str | None,
    what: str | None,
    error: BaseException | str,
    message: str,
) -> None:
    """The task failed: `error` (prefixed with `what` failed, e.g. "scene 2") and a one-line
    `message` for the user (no-op without a task)."""
    if task_id:
        text = f"{what}: {error}" if what else str(error)
        meta.update_task(task_id, status=TaskStatus.FAILED, error=clip(text), message=message)


def cancel(meta: MetadataStore, task_id: str, message: str) -> None:
    meta.update_task(task_id, status=TaskStatus.CANCELLED, message=message)

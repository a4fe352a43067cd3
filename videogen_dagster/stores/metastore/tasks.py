"""The store's task rows (with their rules: forward-only progress, one task at a time per
video, a finished task stays finished), the agent endpoint's renders and the batches."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from videogen_dagster.stores.metastore import records, rows
from videogen_dagster.stores.metastore.db import SqliteDb, decode
from videogen_dagster.stores.metastore.errors import VideoBusy
from videogen_dagster.stores.metastore.events import task_changed
from videogen_dagster.stores.metastore.status import (
    ACTIVE,
    FINISHED,
    BatchStatus,
    TaskKind,
    TaskStatus,
    now_iso,
    sql_list,
)
from videogen_dagster.stores.metastore.videos import upsert_video

# The columns update_task may set.
TASK_FIELDS = {
    "status", "progress", "message", "current_step", "total_steps", "result", "error",
    "started_at", "completed_at",
}
ACTIVE_SQL = sql_list(ACTIVE)
FINISHED_SQL = sql_list(FINISHED)


def _row(db, task_id: str):
    return db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()


class SqliteTasks(SqliteDb):
    # --- tasks -------------------------------------------------------------------------------

    def create_task(
        self, task_id: str, kind: str, project_id: str, session_id: str, video_key: str,
        total_steps: int, quality: str, scene_id: str | None = None, message: str = "Task queued",
        exclusive: bool = False, request: dict | None = None, webhook_url: str | None = None,
    ) -> records.Task:
        """Create a task (a repeat of the same task id is a no-op), with its `task.queued` event.

        `exclusive`: in the same transaction, refuse (VideoBusy) while another task works on the
        video — any generation; for an edit, also an edit of the same scene — so two requests
        that arrive together cannot both pass a check and then both start. `request` (a
        generation's) is stored on the video in that transaction too."""
        now = now_iso()
        with self._tx() as db:
            if exclusive:
                found = db.execute(
                    f"""SELECT * FROM tasks WHERE video_key = ? AND task_id != ?
                        AND status IN ({ACTIVE_SQL}) ORDER BY created_at""",
                    (video_key, task_id),
                ).fetchall()
                for row in found:
                    other = rows.task(row)
                    if TaskKind.GENERATE in (kind, other.kind) or other.scene_id == scene_id:
                        raise VideoBusy(video_key, other)
            if request is not None:
                upsert_video(db, video_key, project_id, session_id, request, now)
            cur = db.execute(
                f"""INSERT INTO tasks (task_id, kind, project_id, session_id, scene_id, video_key,
                     status, message, total_steps, quality, created_at, updated_at, webhook_url)
                   VALUES (?, ?, ?, ?, ?, ?, '{TaskStatus.QUEUED}', ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (task_id) DO NOTHING""",
                (task_id, kind, project_id, session_id, scene_id, video_key, message, total_steps,
                 quality, now, now, webhook_url),
            )
            if cur.rowcount == 1:
                task_changed(db, None, _row(db, task_id))
        task = self.get_task(task_id)
        assert task is not None
        return task

    def get_task(self, task_id: str) -> records.Task | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return rows.task(row) if row else None

    def active_tasks(self, video_key: str) -> list[records.Task]:
        """The video's queued or running tasks, oldest first."""
        found = self._conn().execute(
            f"SELECT * FROM tasks WHERE video_key = ? AND status IN ({ACTIVE_SQL}) ORDER BY created_at",
            (video_key,),
        ).fetchall()
        return [rows.task(r) for r in found]

    def update_task(self, task_id: str, **fields: Any) -> None:
        """Progress only moves forward: a write with a lower `progress` than the task's (a scene
        run that finished after a later one) leaves progress, message and step as they are."""
        unknown = set(fields) - TASK_FIELDS
        if unknown:
            raise ValueError(f"unknown task fields: {sorted(unknown)}")
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        fields["updated_at"] = now_iso()
        sets, values = [], []
        progress = fields.pop("progress", None)
        if progress is not None:
            for col in ("message", "current_step", "total_steps"):
                if col in fields:
                    sets.append(f"{col} = CASE WHEN ? >= progress THEN ? ELSE {col} END")
                    values += [progress, fields.pop(col)]
            sets.append("progress = CASE WHEN ? > progress THEN ? ELSE progress END")  # SQLite and PostgreSQL
            values += [progress, progress]
        for col, value in fields.items():
            sets.append(f"{col} = ?")
            values.append(value)
        with self._tx() as db:
            before = _row(db, task_id)
            # A finished task stays finished: late writes from a straggling run do not reopen it.
            db.execute(
                f"UPDATE tasks SET {', '.join(sets)} WHERE task_id = ? AND status NOT IN ({FINISHED_SQL})"
                if fields.get("status") not in FINISHED
                else f"UPDATE tasks SET {', '.join(sets)} WHERE task_id = ? AND status != '{TaskStatus.CANCELLED}'",
                (*values, task_id),
            )
            task_changed(db, before, _row(db, task_id))

    def start_task(self, task_id: str) -> None:
        with self._tx() as db:
            before = _row(db, task_id)
            db.execute(
                f"""UPDATE tasks SET started_at = COALESCE(started_at, ?), status = '{TaskStatus.PROGRESS}',
                   updated_at = ? WHERE task_id = ? AND status = '{TaskStatus.QUEUED}'""",
                (now_iso(), now_iso(), task_id),
            )
            task_changed(db, before, _row(db, task_id))

    def reopen_task(self, task_id: str, message: str) -> bool:
        """A failed task goes back to `progress` for a retry; False when it was not failed."""
        with self._tx() as db:
            before = _row(db, task_id)
            cur = db.execute(
                f"""UPDATE tasks SET status = '{TaskStatus.PROGRESS}', error = NULL, result = NULL,
                   completed_at = NULL, message = ?, updated_at = ?
                   WHERE task_id = ? AND status = '{TaskStatus.FAILED}'""",
                (message, now_iso(), task_id),
            )
            task_changed(db, before, _row(db, task_id))
            return cur.rowcount == 1

    # --- renders of the developers' agent endpoint ----------------------------------------------

    def create_agent_render(self, request_id: str, project_id: str | None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO agent_renders (request_id, project_id, status, created_at)
                   VALUES (?, ?, 'queued', ?) ON CONFLICT (request_id) DO NOTHING""",
                (request_id, project_id, now_iso()),
            )

    def finish_agent_render(self, request_id: str, status: str, result: dict | None = None,
                            error: str | None = None, log: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO agent_renders (request_id, status, result, error, log, created_at, finished_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (request_id) DO UPDATE SET status = excluded.status,
                     result = excluded.result, error = excluded.error, log = excluded.log,
                     finished_at = excluded.finished_at""",
                (request_id, status, json.dumps(result) if result else None, error, log, now_iso(), now_iso()),
            )

    def get_agent_render(self, request_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM agent_renders WHERE request_id = ?", (request_id,)).fetchone()
        return decode(row, ("result",)) if row else None

    # --- batches -------------------------------------------------------------------------------

    def create_batch(
        self, batch_id: str, name: str, source: str, entries: list[records.BatchEntry]
    ) -> bool:
        """Record a batch; False when a batch with this id (the same content) already exists."""
        with self._tx() as db:
            cur = db.execute(
                f"""INSERT INTO batches (batch_id, name, source, status, entries, created_at)
                   VALUES (?, ?, ?, '{BatchStatus.RUNNING}', ?, ?) ON CONFLICT (batch_id) DO NOTHING""",
                (batch_id, name, source, json.dumps([asdict(e) for e in entries]), now_iso()),
            )
            return cur.rowcount == 1

    def get_batch(self, batch_id: str) -> records.Batch | None:
        row = self._conn().execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return rows.batch(row) if row else None

    def list_batches(self, status: BatchStatus) -> list[records.Batch]:
        found = self._conn().execute(
            "SELECT * FROM batches WHERE status = ? ORDER BY created_at", (status,)
        ).fetchall()
        return [rows.batch(r) for r in found]

    def finish_batch(self, batch_id: str, summary: dict) -> None:
        with self._tx() as db:
            db.execute(
                f"UPDATE batches SET status = '{BatchStatus.DONE}', summary = ?, done_at = ? WHERE batch_id = ?",
                (json.dumps(summary), now_iso(), batch_id),
            )

"""Removing a video from the store: the video row, its scenes, scene versions, edits and tasks,
in one transaction that refuses while one of its tasks is queued or running."""

from __future__ import annotations

import sqlite3

from videogen_dagster.stores.metastore import records, rows
from videogen_dagster.stores.metastore.db import SqliteDb
from videogen_dagster.stores.metastore.errors import VideoBusy
from videogen_dagster.stores.metastore.status import ACTIVE, sql_list

# Every table that holds records of a video, by its `video_key` column, as VideoRecords names them.
VIDEO_TABLES = {
    "videos": "videos", "tasks": "tasks", "scenes": "scenes",
    "scene_versions": "scene_versions", "scene_edits": "scene_edits",
}

# Its tasks' event log and webhook outbox go with them (their task ids then answer 404).
EVENT_TABLES = ("task_events", "webhook_deliveries")


def _count(db: sqlite3.Connection, video_key: str) -> records.VideoRecords:
    counts = {
        field: db.execute(f"SELECT COUNT(*) FROM {table} WHERE video_key = ?", (video_key,)).fetchone()[0]
        for field, table in VIDEO_TABLES.items()
    }
    return records.VideoRecords(**counts)


class SqliteRemoval(SqliteDb):
    def video_records(self, video_key: str) -> records.VideoRecords:
        """How many records the video has in each table (all zero for an unknown video)."""
        return _count(self._conn(), video_key)

    def delete_video(self, video_key: str) -> records.VideoRecords:
        """Remove the video and everything recorded about it (scenes, versions, edits, tasks: a
        removed task's status is then unknown). Raises VideoBusy, removing nothing, while one of
        its tasks is queued or running. Returns what was removed (zeros: nothing was there)."""
        with self._tx() as db:
            busy = db.execute(
                f"SELECT * FROM tasks WHERE video_key = ? AND status IN ({sql_list(ACTIVE)}) ORDER BY created_at",
                (video_key,),
            ).fetchone()
            if busy is not None:
                raise VideoBusy(video_key, rows.task(busy))
            removed = _count(db, video_key)
            for table in (*VIDEO_TABLES.values(), *EVENT_TABLES):
                db.execute(f"DELETE FROM {table} WHERE video_key = ?", (video_key,))
        return removed

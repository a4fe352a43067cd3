"""The embedded metadata store: one SQLite file (see db.py for connections and transactions)."""

from __future__ import annotations

from videogen_dagster.stores.metastore.events import SqliteEvents
from videogen_dagster.stores.metastore.removal import SqliteRemoval
from videogen_dagster.stores.metastore.tasks import SqliteTasks
from videogen_dagster.stores.metastore.videos import SqliteVideos


class SqliteMetadataStore(SqliteVideos, SqliteTasks, SqliteEvents, SqliteRemoval):
    """The MetadataStore on SQLite: videos and scenes (videos.py), tasks, the agent endpoint's
    renders and batches (tasks.py), the task event log and webhook outbox (events.py), removing a
    video (removal.py). Every write is a transaction;
    progress only moves forward and a finished task stays finished."""

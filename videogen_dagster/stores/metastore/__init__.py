"""The metadata store: tasks, videos, scenes, scene versions and their assets.

Readers return the typed records of records.py (rows.py makes them from SQLite rows); status.py
holds every status enum (TaskStatus and SceneStatus are re-exported here).

`MetadataStore` (protocol.py) is the interface; `SqliteMetadataStore` (sqlite.py) the embedded
implementation, `PostgresMetadataStore` (postgres.py) the same on PostgreSQL (cluster mode);
`videogen_dagster.stores.convex.MirroredMetadataStore` wraps one and mirrors every write
to Convex. Every write is an upsert by natural key, so replaying one is harmless.
"""

from videogen_dagster.stores.metastore.errors import (
    Conflict,
    NotFound,
    StoreError,
    Unavailable,
    VideoBusy,
)
from videogen_dagster.stores.metastore.events import (
    TERMINAL_EVENTS,
    WEBHOOK_EVENTS,
    DeliveryStatus,
    EventType,
)
from videogen_dagster.stores.metastore.postgres import PostgresMetadataStore
from videogen_dagster.stores.metastore.protocol import (
    READERS,
    WRITERS,
    MetadataReader,
    MetadataStore,
    MetadataWriter,
)
from videogen_dagster.stores.metastore.records import (
    Batch,
    BatchEntry,
    Scene,
    SceneEdit,
    SceneVersion,
    Task,
    TaskEvent,
    Video,
    VideoRecords,
    WebhookDelivery,
)
from videogen_dagster.stores.metastore.sqlite import SqliteMetadataStore
from videogen_dagster.stores.metastore.status import (
    ACTIVE,
    FINISHED,
    SceneStatus,
    TaskStatus,
    now_iso,
)
from videogen_dagster.stores.metastore.tasks import TASK_FIELDS

__all__ = [
    "ACTIVE", "FINISHED", "READERS", "TASK_FIELDS", "TERMINAL_EVENTS", "WEBHOOK_EVENTS", "WRITERS", "Batch",
    "BatchEntry", "Conflict", "DeliveryStatus", "EventType", "TaskEvent", "WebhookDelivery",
    "MetadataReader", "MetadataStore", "MetadataWriter", "NotFound", "PostgresMetadataStore", "Scene", "SceneEdit",
    "SceneStatus", "SceneVersion", "SqliteMetadataStore", "StoreError", "Task", "TaskStatus",
    "Unavailable", "Video", "VideoBusy", "VideoRecords", "now_iso",
]

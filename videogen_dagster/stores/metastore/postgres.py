"""The metadata store on PostgreSQL, for cluster mode: the same mixins as the SQLite store
(videos.py, tasks.py, events.py, removal.py: the same SQL and rules), on PostgresDb's connections.

Every write transaction takes one advisory lock first, so writers run one at a time across every
process and machine, as SQLite's BEGIN IMMEDIATE makes them: the compare-and-sets (join claims,
delivery leases), the `exclusive` check of create_task and forward-only progress hold as they do
on SQLite, and event ids (taken under the lock) commit in increasing order. Reads take no lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from videogen_dagster.stores.metastore.events import SqliteEvents
from videogen_dagster.stores.metastore.pg_conn import PgConnection, PgPool, lock_key
from videogen_dagster.stores.metastore.pg_schema import create_pg_schema
from videogen_dagster.stores.metastore.removal import SqliteRemoval
from videogen_dagster.stores.metastore.tasks import SqliteTasks
from videogen_dagster.stores.metastore.videos import SqliteVideos

SCHEMA = "videogen"


class PostgresDb:
    """The connection interface the store's mixins use (`_conn`, `_tx`, `ping`), on PostgreSQL."""

    def __init__(self, url: str, schema: str = SCHEMA):
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ValueError(f"not a plain schema name: {schema!r}")
        self.url, self.schema = url, schema
        self._pool = PgPool(url, schema)
        self._write_lock = lock_key(schema, "metastore")
        with self._tx() as db:
            create_pg_schema(db, schema)

    def _conn(self) -> PgConnection:
        return self._pool.conn()

    @contextmanager
    def _tx(self) -> Iterator[PgConnection]:
        with self._pool.transaction(self._write_lock) as db:
            yield db

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()


# The mixins type their connection as sqlite3's; PgConnection answers the same calls.
class PostgresMetadataStore(PostgresDb, SqliteVideos, SqliteTasks, SqliteEvents, SqliteRemoval):  # type: ignore[misc]
    """The MetadataStore on PostgreSQL (PostgresDb first: its connections, transactions and
    schema replace SqliteDb's); the same readers, writers and rules as SqliteMetadataStore."""

    remote = True  # each call is a network round trip: async callers make it off their loop

    def __repr__(self) -> str:  # the URL may hold a password
        return f"PostgresMetadataStore(schema={self.schema!r})"


_SHARED: dict[tuple[str, str], PostgresMetadataStore] = {}
_SHARED_LOCK = threading.Lock()


def shared_postgres_store(url: str, schema: str = SCHEMA) -> PostgresMetadataStore:
    """One store per database in this process (its connections, and the schema check, made once),
    however often the resource or the bridge opens it."""
    with _SHARED_LOCK:
        store = _SHARED.get((url, schema))
        if store is None:
            store = _SHARED[(url, schema)] = PostgresMetadataStore(url, schema)
        return store

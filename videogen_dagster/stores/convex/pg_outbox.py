"""The Convex outbox on PostgreSQL (cluster mode): table `videogen.convex_outbox` in the metadata
store's database, written by the workers of every machine and drained by the head's sensor (and
by any writer). The same semantics as outbox.py's SQLite file: ordered, rejected entries kept as
`dead`, one drainer at a time (an advisory lock instead of the lock file).
"""

from __future__ import annotations

import json
import threading
from contextlib import AbstractContextManager

from videogen_dagster.stores.convex.outbox import DrainingOutbox
from videogen_dagster.stores.metastore.pg_conn import PgConnection, PgPool, lock_key
from videogen_dagster.stores.metastore.postgres import SCHEMA
from videogen_dagster.stores.metastore.status import now_iso

PG_OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS convex_outbox (
    id BIGSERIAL PRIMARY KEY,
    path TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | dead
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL
);
"""


class PostgresConvexOutbox(DrainingOutbox):
    """Durable, ordered queue of mutations for Convex, shared by every process of every machine."""

    def __init__(self, url: str, schema: str = SCHEMA):
        self._pool = PgPool(url, schema)
        self._holder = PgPool(url, schema)  # the drain lock's connections (flush)
        self._enqueue_lock = lock_key(schema, "convex_outbox:enqueue")
        self._drain_key = lock_key(schema, "convex_outbox:drain")
        with self._pool.transaction(self._enqueue_lock) as db:
            if db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)).fetchone() is None:
                db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            db.execute(PG_OUTBOX_SCHEMA)

    def _db(self) -> PgConnection:
        return self._pool.conn()

    def enqueue(self, path: str, args: dict) -> None:
        # Ids are taken and committed one writer at a time, so a drainer reading `ORDER BY id`
        # never sends an entry before one that commits later with a smaller id.
        with self._pool.transaction(self._enqueue_lock) as db:
            db.execute(
                "INSERT INTO convex_outbox (path, args, created_at) VALUES (?, ?, ?)",
                (path, json.dumps(args), now_iso()),
            )

    def pending(self) -> list[tuple[int, str, dict]]:
        rows = self._db().execute(
            "SELECT id, path, args FROM convex_outbox WHERE state = 'pending' ORDER BY id"
        ).fetchall()
        return [(i, p, json.loads(a)) for i, p, a in rows]

    def dead(self) -> list[dict]:
        rows = self._db().execute(
            "SELECT id, path, last_error FROM convex_outbox WHERE state = 'dead' ORDER BY id"
        ).fetchall()
        return [{"id": i, "path": p, "error": e} for i, p, e in rows]

    def _drain_lock(self) -> AbstractContextManager[object]:
        # One drainer at a time across machines keeps the order: the lock is held by a
        # transaction of a connection of its own (the entries' statements run beside it).
        return self._holder.transaction(self._drain_key)

    def _delete(self, entry_id: int) -> None:
        self._db().execute("DELETE FROM convex_outbox WHERE id = ?", (entry_id,))

    def _mark(self, entry_id: int, state: str, error: str) -> None:
        self._db().execute(
            "UPDATE convex_outbox SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (state, error[:2000], entry_id),
        )


_SHARED: dict[tuple[str, str], PostgresConvexOutbox] = {}
_SHARED_LOCK = threading.Lock()


def shared_postgres_outbox(url: str, schema: str = SCHEMA) -> PostgresConvexOutbox:
    """One outbox per database in this process (its connections and its table check made once)."""
    with _SHARED_LOCK:
        outbox = _SHARED.get((url, schema))
        if outbox is None:
            outbox = _SHARED[(url, schema)] = PostgresConvexOutbox(url, schema)
        return outbox

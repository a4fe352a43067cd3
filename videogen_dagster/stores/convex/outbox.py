"""The durable, ordered outbox of mutations for Convex (SQLite), shared by every process.

Each entry carries the full state of one record (a task, a video, a scene), one immutable scene
version or one edit, and the Convex mutations are upserts by natural key, so replaying an entry
twice is harmless. A mutation Convex rejects (validator, schema drift) is kept as `dead`, never
retried forever and never dropped silently.
"""

from __future__ import annotations

import fcntl
import json
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from videogen_dagster.stores.convex.client import (
    ConvexClient,
    ConvexFunctionError,
    ConvexRequestError,
    ConvexUnavailable,
)
from videogen_dagster.stores.metastore.status import now_iso

log = logging.getLogger("videogen.convex")


OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL
);
"""


class DrainingOutbox(ABC):
    """The drain both outboxes share (this SQLite file's, pg_outbox.py's table): the entries'
    storage and the lock that lets one drainer at a time keep the order are the subclass's."""

    @abstractmethod
    def pending(self) -> list[tuple[int, str, dict]]: ...

    @abstractmethod
    def _mark(self, entry_id: int, state: str, error: str) -> None: ...

    @abstractmethod
    def _delete(self, entry_id: int) -> None: ...

    @abstractmethod
    def _drain_lock(self) -> AbstractContextManager[object]:
        """Held while draining: one drainer at a time across processes (and machines)."""

    def flush(self, client: ConvexClient) -> int:
        """Send pending entries in order; returns how many were sent. Stops at the first
        unavailability (the rest waits); raises on a rejected mutation after marking it dead."""
        sent = 0
        with self._drain_lock():
            for entry_id, path, args in self.pending():
                try:
                    client.mutation(path, args)
                except ConvexUnavailable as exc:
                    self._mark(entry_id, "pending", str(exc))
                    log.warning("Convex unavailable; %d update(s) wait in the outbox", len(self.pending()))
                    return sent
                except (ConvexFunctionError, ConvexRequestError) as exc:
                    self._mark(entry_id, "dead", str(exc))
                    raise
                self._delete(entry_id)
                sent += 1
        return sent


class ConvexOutbox(DrainingOutbox):
    """Durable, ordered queue of mutations for Convex, shared by every process of the pipeline."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = self.path.with_suffix(".lock")
        with self._db() as db:
            db.executescript(OUTBOX_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def enqueue(self, path: str, args: dict) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO outbox (path, args, created_at) VALUES (?, ?, ?)",
                (path, json.dumps(args), now_iso()),
            )

    def pending(self) -> list[tuple[int, str, dict]]:
        with self._db() as db:
            rows = db.execute("SELECT id, path, args FROM outbox WHERE state = 'pending' ORDER BY id").fetchall()
        return [(i, p, json.loads(a)) for i, p, a in rows]

    def dead(self) -> list[dict]:
        with self._db() as db:
            rows = db.execute("SELECT id, path, last_error FROM outbox WHERE state = 'dead' ORDER BY id").fetchall()
        return [{"id": i, "path": p, "error": e} for i, p, e in rows]

    @contextmanager
    def _drain_lock(self) -> Iterator[None]:
        self._lockfile.touch(exist_ok=True)
        with open(self._lockfile) as lock:
            # One flusher at a time across processes keeps the order.
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _delete(self, entry_id: int) -> None:
        with self._db() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def _mark(self, entry_id: int, state: str, error: str) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                (state, error[:2000], entry_id),
            )

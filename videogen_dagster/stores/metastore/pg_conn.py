"""PostgreSQL connections with the call shape of sqlite3's, for the metadata store and the Convex
outbox in cluster mode (many processes on many machines sharing one server).

- `PgConnection.execute(sql, params)`: the store's `?` placeholders become psycopg2's `%s`; rows
  answer `row["col"]`, `row[0]` and `dict(row)` (DictCursor). Autocommit: a statement outside a
  transaction is its own, as with sqlite3's `isolation_level=None`.
- `PgPool`: one connection per thread and per process. A forked child never uses the
  connections it inherited (nor closes them: psycopg2 closes one only in its own process).
- `PgPool.transaction(lock)`: BEGIN, then `pg_advisory_xact_lock(lock)`, so the store's writers
  run one at a time across every process and machine, as SQLite's BEGIN IMMEDIATE makes them.
- A server restart is survived: a connection found broken is opened again, retrying with backoff
  for up to RECONNECT_SECONDS. A statement outside a transaction, and the opening of a
  transaction, are retried on a fresh connection; an error inside a transaction propagates
  (a half-done transaction is never replayed).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg2
import psycopg2.extras

from videogen_dagster.stores.metastore.errors import Unavailable

log = logging.getLogger("videogen.metastore")

# A `pg_ctl restart` takes 1-2 s; a failover longer. Past this, the error is raised.
RECONNECT_SECONDS = 30.0
DISCONNECTED = (psycopg2.OperationalError, psycopg2.InterfaceError)
# Connection failures that waiting does not cure (a wrong password, an unknown database).
_FATAL = ("authentication", "does not exist", "pg_hba.conf", "invalid dsn", "invalid connection option")


def lock_key(schema: str, purpose: str) -> int:
    """A pg_advisory lock key of one purpose in one schema (advisory locks are per database,
    which Dagster's own tables share; it takes none)."""
    return zlib.crc32(f"videogen:{schema}:{purpose}".encode())


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """sqlite3's `?` placeholders as psycopg2's `%s` (a literal `%` doubled). The store's SQL has
    no `?` in a string literal."""
    return sql.replace("%", "%%").replace("?", "%s")


def _transient(exc: Exception) -> bool:
    text = str(exc).lower()
    return not any(word in text for word in _FATAL)


class PgConnection:
    """One psycopg2 connection of one thread, reopened when the server dropped it."""

    def __init__(self, url: str, schema: str):
        self.url, self.schema, self.pid = url, schema, os.getpid()
        self.in_tx = False
        self.raw: Any = None
        self._open(time.monotonic() + RECONNECT_SECONDS)

    def _open(self, deadline: float) -> None:
        delay = 0.05
        while True:
            try:
                raw = psycopg2.connect(
                    self.url, connect_timeout=5, options=f"-c search_path={self.schema}",
                    cursor_factory=psycopg2.extras.DictCursor,
                )
                raw.autocommit = True
                self.raw = raw
                return
            except psycopg2.OperationalError as exc:
                if not _transient(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    # The edges answer 503 for this (the bridge, the health check).
                    raise Unavailable(f"PostgreSQL unreachable: {str(exc).strip()}") from exc
                log.info("PostgreSQL unreachable (%s); connecting again in %.2f s", str(exc).strip(), delay)
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    @property
    def broken(self) -> bool:
        return self.raw is None or bool(self.raw.closed)

    def _ensure(self, deadline: float) -> None:
        if self.broken:
            self._open(deadline)

    def _run(self, sql: str, params: Sequence[Any] | None) -> Any:
        cur = self.raw.cursor()
        if params:
            cur.execute(to_pyformat(sql), tuple(params))
        else:
            cur.execute(sql)
        return cur

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run one statement; its cursor (fetchone, fetchall, rowcount, iteration)."""
        if self.in_tx:
            return self._run(sql, params)
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            self._ensure(deadline)
            try:
                return self._run(sql, params)
            except DISCONNECTED:
                # A statement that failed on its own (a timeout, bad SQL) leaves the connection
                # open: that error is the caller's. A dropped connection: the statement is retried.
                if not self.broken:
                    raise
                if time.monotonic() > deadline:
                    raise Unavailable("PostgreSQL connection lost") from None

    def begin(self, lock: int | None) -> None:
        """BEGIN (and take the advisory lock), on a fresh connection if this one is dead."""
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            self._ensure(deadline)
            try:
                self._run("BEGIN", None)
                if lock is not None:
                    self._run("SELECT pg_advisory_xact_lock(?)", (lock,))
                self.in_tx = True
                return
            except Exception as exc:
                if isinstance(exc, DISCONNECTED) and self.broken and time.monotonic() <= deadline:
                    continue  # nothing was done yet: open the transaction on a fresh connection
                self.rollback()
                raise

    def commit(self) -> None:
        try:
            self._run("COMMIT", None)
        finally:
            self.in_tx = False

    def rollback(self) -> None:
        """Roll back (nothing to do on a dropped connection: the server rolled it back)."""
        self.in_tx = False
        if self.broken:
            return
        try:
            self._run("ROLLBACK", None)
        except DISCONNECTED:
            pass



class PgPool:
    """The connections of one database and schema: one per thread, made again in a forked child."""

    def __init__(self, url: str, schema: str = "videogen"):
        self.url, self.schema = url, schema
        self._local = threading.local()

    def conn(self) -> PgConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.pid != os.getpid():
            # A forked child's inherited connection is dropped unused: psycopg2 closes a
            # connection only in the process that opened it, so the parent's session lives on.
            conn = PgConnection(self.url, self.schema)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self, lock: int | None) -> Iterator[PgConnection]:
        """A transaction holding the advisory lock `lock` (None: no lock) until it ends."""
        conn = self.conn()
        conn.begin(lock)
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

"""The SQLite connection shared by the store's parts: one connection per thread (WAL mode, so
the pipeline's concurrent runs and the bridge's readers do not block each other) and
`BEGIN IMMEDIATE` transactions."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videogen_dagster.stores.metastore.schema import create_schema


class SqliteDb:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        create_schema(self._conn())

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def ping(self) -> None:
        self._conn().execute("SELECT 1").fetchone()


def decode(row: sqlite3.Row, json_cols: tuple[str, ...]) -> dict[str, Any]:
    """A row as a dict, with its JSON columns parsed."""
    out = dict(row)
    for col in json_cols:
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out

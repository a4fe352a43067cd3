"""The store's tables on PostgreSQL: schema.py's DDL with PostgreSQL's types, in a schema of their
own (`videogen`) beside Dagster's tables (`public`), and the same migrations of older stores."""

from __future__ import annotations

import re

from videogen_dagster.stores.metastore.pg_conn import PgConnection
from videogen_dagster.stores.metastore.schema import (
    ADDED_COLUMNS,
    AGENT_RENDERS_SCHEMA,
    BATCHES_SCHEMA,
    EDITS_SCHEMA,
    EVENTS_SCHEMA,
    SCHEMA,
)

# SQLite gives every row a `rowid`, which edit_history orders ties by; here it is a column.
# (table, column, type): the columns a store made before them lacks.
PG_ADDED_COLUMNS = (
    *((table, column, "TEXT") for table, column in ADDED_COLUMNS),
    ("scene_edits", "rowid", "BIGSERIAL"),
)


def pg_ddl(sqlite_ddl: str) -> str:
    """SQLite DDL (schema.py) as PostgreSQL's: ids from a sequence, 64-bit integers, doubles."""
    ddl = sqlite_ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY")
    ddl = re.sub(r"\bINTEGER\b", "BIGINT", ddl)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", ddl)


PG_SCHEMA = pg_ddl(SCHEMA + EDITS_SCHEMA + BATCHES_SCHEMA + AGENT_RENDERS_SCHEMA + EVENTS_SCHEMA)


def create_pg_schema(db: PgConnection, schema: str) -> None:
    """Inside the caller's transaction (which holds the store's write lock, so processes starting
    together do not race): the schema, its tables (idempotent) and the columns an older store
    lacks. A column is only added when missing: ALTER TABLE would lock out readers even then."""
    if db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?", (schema,)).fetchone() is None:
        db.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    db.execute(PG_SCHEMA)
    have = {
        (r[0], r[1]) for r in db.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ?", (schema,)
        ).fetchall()
    }
    for table, column, type_ in PG_ADDED_COLUMNS:
        if (table, column) not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type_}")

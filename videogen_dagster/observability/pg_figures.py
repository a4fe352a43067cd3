"""figures.py's queries on PostgreSQL (cluster mode): the same figures from the store's tables in
schema `videogen` (JSON columns read with jsonb operators instead of SQLite's json_extract), all
read in one REPEATABLE READ, read-only transaction: one consistent snapshot, and a scrape never
creates, migrates or locks anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg2

from videogen_dagster.stores.metastore.postgres import SCHEMA


def _num(column: str, path: str) -> str:
    """A number inside a JSON column (NULL where absent), as json_extract gives it on SQLite."""
    keys = ",".join(path.split("."))
    return f"({column}::jsonb #>> '{{{keys}}}')::double precision"


def _objects(table: str, column: str) -> str:
    each = f"CASE WHEN jsonb_typeof({table}.{column}::jsonb) = 'object' THEN {table}.{column}::jsonb ELSE '{{}}' END"
    return f"""SELECT j.key, COUNT(*), SUM((j.value ->> 'bytes')::double precision)
               FROM {table}, jsonb_each({each}) AS j
               WHERE {table}.{column} IS NOT NULL AND jsonb_typeof(j.value) = 'object'
                     AND j.value ->> 'key' IS NOT NULL
               GROUP BY j.key"""


# The queries that read no JSON column are the same in both dialects: taken from SQLite's.
PORTABLE = ("tasks", "task_errors", "scenes", "scene_errors")


def pg_sql(buckets: tuple[float, ...], llm_counts: tuple[str, ...], sqlite_sql: Mapping[str, str]) -> dict[str, str]:
    """figures.SQLITE_SQL's queries (`sqlite_sql`), by the same names: its PORTABLE ones as they
    are, the others in PostgreSQL's dialect. The store writes its JSON columns with json.dumps, so
    `IS NOT NULL` stands for SQLite's json_valid."""
    return {
        **{name: sqlite_sql[name] for name in PORTABLE},
        "renders": f"""SELECT COALESCE(quality, 'unknown'), COUNT(render_seconds), SUM(render_seconds),
                              SUM(duration),
                              {", ".join(f"COUNT(*) FILTER (WHERE render_seconds <= {b!r})" for b in buckets)}
                       FROM scene_versions GROUP BY 1""",
        "generation": f"""SELECT kind, COUNT(*), SUM({_num("result", "generation_time_seconds")}),
                                 SUM(CASE WHEN kind = 'edit' THEN 1 ELSE {_num("result", "scene_count")} END)
                          FROM tasks WHERE status = 'completed' AND result IS NOT NULL
                               AND {_num("result", "generation_time_seconds")} IS NOT NULL
                          GROUP BY kind""",
        "llm": f"""SELECT {", ".join(f"SUM({_num('llm_usage', k)})" for k in llm_counts)}
                   FROM videos WHERE llm_usage IS NOT NULL""",
        "narration": f"""SELECT COUNT(*), SUM({_num("extra", "narration.duration")}),
                                SUM({_num("extra", "narration.synthesized")}),
                                SUM({_num("extra", "narration.cached")})
                         FROM scene_versions WHERE extra IS NOT NULL
                              AND {_num("extra", "narration.duration")} IS NOT NULL""",
        "objects_scene_versions": _objects("scene_versions", "assets"),
        "objects_videos": _objects("videos", "combined"),
        "plan": f"""SELECT COUNT(*), SUM({_num("plan_object", "bytes")}) FROM videos
                    WHERE plan_object IS NOT NULL AND plan_object::jsonb ->> 'key' IS NOT NULL""",
    }


def read_pg_rows(url: str, sql: dict[str, str]) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, int] | None]:
    """Every query's rows, and the Convex outbox's entries by state (None: no outbox table, the
    mirror is off), from one snapshot. Raises psycopg2.Error when the store cannot be read."""
    db = psycopg2.connect(url, connect_timeout=5, options=f"-c search_path={SCHEMA}")
    try:
        db.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with db.cursor() as cur:
            rows: dict[str, list[tuple[Any, ...]]] = {}
            for name, query in sql.items():
                cur.execute(query)
                rows[name] = cur.fetchall()
            cur.execute("SELECT to_regclass('convex_outbox') IS NOT NULL")
            outbox = None
            if cur.fetchone()[0]:
                cur.execute("SELECT state, COUNT(*) FROM convex_outbox GROUP BY state")
                outbox = dict(cur.fetchall())
        db.rollback()
    finally:
        db.close()
    return rows, outbox

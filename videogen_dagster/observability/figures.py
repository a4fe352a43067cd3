"""The figures behind the bridge's metrics, read from the metadata store's SQLite file (or its
PostgreSQL database in cluster mode: pg_figures.py) at scrape time: what every process wrote
(the bridge, the CLI and the run workers forked by the warm launcher alike), so nothing is lost
with the process that did the work.

Read-only (a `mode=ro` connection: a scrape never creates or migrates the store) and aggregated
in SQL (SQLite's JSON functions read the JSON columns; SQLITE_SQL, and PostgreSQL's in
pg_figures.py, are the same queries in each dialect), so one read costs a few queries whatever
the store's size. The store's protocol has no aggregate reader; these queries read its tables
(schema.py) directly and change nothing. Only failure messages are read back into Python, one
row per distinct message, to classify them (error_types.py).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videogen_dagster.observability.error_types import classify_error
from videogen_dagster.observability.pg_figures import pg_sql, read_pg_rows

# Render seconds of one scene: preview scenes take 3-10 s here, production ones minutes.
RENDER_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
LLM_COUNTS = ("calls", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")
OUTBOX_FILE = "convex_outbox.sqlite"  # beside the store, when the Convex mirror is on


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (upper bound -> observations at most that), count and sum."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass
class StoreFigures:
    tasks: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status) -> tasks
    task_errors: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, type) -> tasks
    scenes: dict[str, int] = field(default_factory=dict)  # status -> scenes (current state)
    scene_errors: dict[str, int] = field(default_factory=dict)  # type -> scenes failed now
    render_seconds: dict[str, Histogram] = field(default_factory=dict)  # quality -> renders
    scene_video_seconds: dict[str, float] = field(default_factory=dict)  # quality -> seconds made
    # kind -> (completed tasks with a time, their generation seconds, the scenes they made)
    generation: dict[str, tuple[int, float, int]] = field(default_factory=dict)
    llm: dict[str, float] = field(default_factory=dict)  # LLM_COUNTS, summed over the videos
    narrated_scenes: int = 0
    narration_seconds: float = 0.0
    narration_lines: dict[str, int] = field(default_factory=dict)  # synthesized | cached -> lines
    objects: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (objects, bytes)
    convex_outbox: dict[str, int] | None = None  # state -> entries; None: no Convex mirror

    @property
    def objects_stored(self) -> int:
        return sum(n for n, _ in self.objects.values())

    @property
    def storage_failures(self) -> int:
        return sum(n for (_, kind), n in self.task_errors.items() if kind == "storage")


# A query by its name (below) -> its rows.
Query = Callable[[str], Iterable[tuple[Any, ...]]]


def _j(column: str, path: str) -> str:
    return f"json_extract({column}, '$.{path}')"


SQLITE_SQL: dict[str, str] = {
    "tasks": "SELECT kind, status, COUNT(*) FROM tasks GROUP BY kind, status",
    "task_errors": """SELECT kind, status, error, COUNT(*) FROM tasks WHERE status IN ('failed', 'cancelled')
                      GROUP BY kind, status, error""",
    "scenes": "SELECT status, COUNT(*) FROM scenes GROUP BY status",
    "scene_errors": "SELECT error, COUNT(*) FROM scenes WHERE status = 'failed' GROUP BY error",
    "renders": f"""SELECT COALESCE(quality, 'unknown'), COUNT(render_seconds), SUM(render_seconds),
                          SUM(duration), {", ".join(f"SUM(render_seconds <= {b!r})" for b in RENDER_BUCKETS)}
                   FROM scene_versions GROUP BY 1""",
    "generation": f"""SELECT kind, COUNT(*), SUM({_j("result", "generation_time_seconds")}),
                             SUM(CASE WHEN kind = 'edit' THEN 1 ELSE {_j("result", "scene_count")} END)
                      FROM tasks WHERE status = 'completed' AND json_valid(result)
                           AND {_j("result", "generation_time_seconds")} IS NOT NULL
                      GROUP BY kind""",
    "llm": f"""SELECT {", ".join(f"SUM({_j('llm_usage', k)})" for k in LLM_COUNTS)}
               FROM videos WHERE json_valid(llm_usage)""",
    "narration": f"""SELECT COUNT(*), SUM({_j("extra", "narration.duration")}),
                            SUM({_j("extra", "narration.synthesized")}), SUM({_j("extra", "narration.cached")})
                     FROM scene_versions WHERE json_valid(extra) AND {_j("extra", "narration.duration")} IS NOT NULL""",
    **{
        f"objects_{table}": f"""SELECT j.key, COUNT(*), SUM(json_extract(j.value, '$.bytes'))
                                FROM {table}, json_each({table}.{column}) AS j
                                WHERE {table}.{column} IS NOT NULL AND j.type = 'object'
                                      AND json_extract(j.value, '$.key') IS NOT NULL
                                GROUP BY j.key"""
        for table, column in (("scene_versions", "assets"), ("videos", "combined"))
    },
    "plan": f"""SELECT COUNT(*), SUM({_j("plan_object", "bytes")}) FROM videos
                WHERE json_valid(plan_object) AND {_j("plan_object", "key")} IS NOT NULL""",
}


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    db.execute("PRAGMA busy_timeout=5000")
    return db


def read_figures(metadata: Path | str) -> StoreFigures:
    """Every figure, read in one read transaction (a consistent snapshot under WAL). `metadata`:
    the SQLite file, or a PostgreSQL URL (VIDEOGEN_DATABASE_URL: pg_figures.py). Raises
    sqlite3.Error (psycopg2.Error) when the store cannot be read (e.g. not made yet)."""
    if isinstance(metadata, str) and metadata.startswith(("postgresql://", "postgres://")):
        rows, outbox = read_pg_rows(metadata, pg_sql(RENDER_BUCKETS, LLM_COUNTS, SQLITE_SQL))
        figures = read_store(rows.__getitem__)
        figures.convex_outbox = None if outbox is None else outbox_counts(outbox)
        return figures
    path = Path(metadata)
    if not path.is_file():
        raise sqlite3.OperationalError(f"no metadata store at {path}")
    db = _connect(path)
    try:
        db.execute("BEGIN")
        figures = read_store(lambda name: db.execute(SQLITE_SQL[name]))
        db.execute("COMMIT")
    finally:
        db.close()
    figures.convex_outbox = _outbox(path.with_name(OUTBOX_FILE))
    return figures


def read_store(query: Query) -> StoreFigures:
    """The figures from the store's tables, read with `query` (inside one read transaction)."""
    f = StoreFigures()
    for kind, status, n in query("tasks"):
        f.tasks[(kind, status)] = int(n)
    errors: Counter[tuple[str, str]] = Counter()
    for kind, status, error, n in query("task_errors"):
        errors[(kind, classify_error(error, status))] += int(n)
    f.task_errors = dict(errors)
    for status, n in query("scenes"):
        f.scenes[status] = int(n)
    scene_errors: Counter[str] = Counter()
    for error, n in query("scene_errors"):
        scene_errors[classify_error(error)] += int(n)
    f.scene_errors = dict(scene_errors)
    _renders(query, f)
    _generation(query, f)
    (row,) = query("llm")
    f.llm = {k: float(v or 0) for k, v in zip(LLM_COUNTS, row, strict=True)}
    _narration(query, f)
    _objects(query, f)
    return f


def _renders(query: Query, f: StoreFigures) -> None:
    """Scene versions: each is one render (a reused scene makes no version)."""
    for quality, count, total, video, *cumulative in query("renders"):
        f.scene_video_seconds[quality] = float(video or 0.0)
        if count:
            buckets = tuple(zip(RENDER_BUCKETS, (int(c or 0) for c in cumulative), strict=True))
            f.render_seconds[quality] = Histogram((*buckets, (float("inf"), int(count))), int(count),
                                                  float(total or 0.0))


def _generation(query: Query, f: StoreFigures) -> None:
    """Completed tasks' generation_time_seconds (their result record): a generation made its
    video's scene_count scenes, an edit one."""
    for kind, n, seconds, scenes in query("generation"):
        f.generation[kind] = (int(n), float(seconds or 0.0), int(scenes or 0))


def _narration(query: Query, f: StoreFigures) -> None:
    ((n, seconds, synthesized, cached),) = query("narration")
    f.narrated_scenes, f.narration_seconds = int(n or 0), float(seconds or 0.0)
    f.narration_lines = {"synthesized": int(synthesized or 0), "cached": int(cached or 0)}


def _objects(query: Query, f: StoreFigures) -> None:
    """Objects the store records as written: every scene version's files, each video's current
    joined files and plan (earlier joins and plans are not kept in the metadata)."""
    objects: dict[str, tuple[int, int]] = {}
    for prefix, name in (("scene_", "objects_scene_versions"), ("combined_", "objects_videos")):
        for kind, n, size in query(name):
            objects[prefix + kind] = (int(n), int(size or 0))
    ((n, size),) = query("plan")
    if n:
        objects["plan"] = (int(n), int(size or 0))
    f.objects = objects


def _outbox(path: Path) -> dict[str, int] | None:
    if not path.is_file():
        return None
    db = _connect(path)
    try:
        found = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    finally:
        db.close()
    return outbox_counts(found)


def outbox_counts(found: dict[str, int]) -> dict[str, int]:
    return {"pending": int(found.get("pending", 0)), "dead": int(found.get("dead", 0))}

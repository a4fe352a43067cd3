"""The figures behind the bridge's metrics, read from the metadata store's SQLite file at scrape
time: what every process wrote (the bridge, the CLI and the run workers forked by the warm
launcher alike), so nothing is lost with the process that did the work.

Read-only (a `mode=ro` connection: a scrape never creates or migrates the store) and aggregated
in SQL (SQLite's JSON functions read the JSON columns), so one read costs a few queries whatever
the store's size. The store's protocol has no aggregate reader; these queries read its tables
(schema.py) directly and change nothing. Only failure messages are read back into Python, one
row per distinct message, to classify them (error_types.py).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from videogen_dagster.observability.error_types import classify_error

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


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    db.execute("PRAGMA busy_timeout=5000")
    return db


def read_figures(metadata_path: Path | str) -> StoreFigures:
    """Every figure, read in one read transaction (a consistent snapshot under WAL). Raises
    sqlite3.Error when the store cannot be read (e.g. not made yet)."""
    path = Path(metadata_path)
    if not path.is_file():
        raise sqlite3.OperationalError(f"no metadata store at {path}")
    db = _connect(path)
    try:
        db.execute("BEGIN")
        figures = _read(db)
        db.execute("COMMIT")
    finally:
        db.close()
    figures.convex_outbox = _outbox(path.with_name(OUTBOX_FILE))
    return figures


def _read(db: sqlite3.Connection) -> StoreFigures:
    f = StoreFigures()
    for kind, status, n in db.execute("SELECT kind, status, COUNT(*) FROM tasks GROUP BY kind, status"):
        f.tasks[(kind, status)] = n
    errors: Counter[tuple[str, str]] = Counter()
    for kind, status, error, n in db.execute(
        """SELECT kind, status, error, COUNT(*) FROM tasks WHERE status IN ('failed', 'cancelled')
           GROUP BY kind, status, error"""
    ):
        errors[(kind, classify_error(error, status))] += n
    f.task_errors = dict(errors)
    for status, n in db.execute("SELECT status, COUNT(*) FROM scenes GROUP BY status"):
        f.scenes[status] = n
    scene_errors: Counter[str] = Counter()
    for error, n in db.execute("SELECT error, COUNT(*) FROM scenes WHERE status = 'failed' GROUP BY error"):
        scene_errors[classify_error(error)] += n
    f.scene_errors = dict(scene_errors)
    _renders(db, f)
    _generation(db, f)
    _llm(db, f)
    _narration(db, f)
    _objects(db, f)
    return f


def _renders(db: sqlite3.Connection, f: StoreFigures) -> None:
    """Scene versions: each is one render (a reused scene makes no version)."""
    le = ", ".join(f"SUM(render_seconds <= {b!r})" for b in RENDER_BUCKETS)
    for quality, count, total, video, *cumulative in db.execute(
        f"""SELECT COALESCE(quality, 'unknown'), COUNT(render_seconds), SUM(render_seconds),
                   SUM(duration), {le}
            FROM scene_versions GROUP BY 1"""
    ):
        f.scene_video_seconds[quality] = float(video or 0.0)
        if count:
            buckets = tuple(zip(RENDER_BUCKETS, (int(c or 0) for c in cumulative), strict=True))
            f.render_seconds[quality] = Histogram((*buckets, (float("inf"), count)), count, float(total or 0.0))


def _generation(db: sqlite3.Connection, f: StoreFigures) -> None:
    """Completed tasks' generation_time_seconds (their result record): a generation made its
    video's scene_count scenes, an edit one."""
    for kind, n, seconds, scenes in db.execute(
        """SELECT kind, COUNT(*), SUM(json_extract(result, '$.generation_time_seconds')),
                  SUM(CASE WHEN kind = 'edit' THEN 1 ELSE json_extract(result, '$.scene_count') END)
           FROM tasks WHERE status = 'completed' AND json_valid(result)
                AND json_extract(result, '$.generation_time_seconds') IS NOT NULL
           GROUP BY kind"""
    ):
        f.generation[kind] = (n, float(seconds or 0.0), int(scenes or 0))


def _llm(db: sqlite3.Connection, f: StoreFigures) -> None:
    sums = ", ".join(f"SUM(json_extract(llm_usage, '$.{k}'))" for k in LLM_COUNTS)
    row = db.execute(f"SELECT {sums} FROM videos WHERE json_valid(llm_usage)").fetchone()
    f.llm = {k: float(v or 0) for k, v in zip(LLM_COUNTS, row, strict=True)}


def _narration(db: sqlite3.Connection, f: StoreFigures) -> None:
    n, seconds, synthesized, cached = db.execute(
        """SELECT COUNT(*), SUM(json_extract(extra, '$.narration.duration')),
                  SUM(json_extract(extra, '$.narration.synthesized')),
                  SUM(json_extract(extra, '$.narration.cached'))
           FROM scene_versions WHERE json_valid(extra)
                AND json_extract(extra, '$.narration.duration') IS NOT NULL"""
    ).fetchone()
    f.narrated_scenes, f.narration_seconds = int(n or 0), float(seconds or 0.0)
    f.narration_lines = {"synthesized": int(synthesized or 0), "cached": int(cached or 0)}


def _objects(db: sqlite3.Connection, f: StoreFigures) -> None:
    """Objects the store records as written: every scene version's files, each video's current
    joined files and plan (earlier joins and plans are not kept in the metadata)."""
    objects: dict[str, tuple[int, int]] = {}
    queries = (
        ("scene_", "scene_versions", "assets"),
        ("combined_", "videos", "combined"),
    )
    for prefix, table, column in queries:
        for kind, n, size in db.execute(
            f"""SELECT j.key, COUNT(*), SUM(json_extract(j.value, '$.bytes'))
                FROM {table}, json_each({table}.{column}) AS j
                WHERE {table}.{column} IS NOT NULL AND j.type = 'object'
                      AND json_extract(j.value, '$.key') IS NOT NULL
                GROUP BY j.key"""
        ):
            objects[prefix + kind] = (int(n), int(size or 0))
    n, size = db.execute(
        """SELECT COUNT(*), SUM(json_extract(plan_object, '$.bytes')) FROM videos
           WHERE json_valid(plan_object) AND json_extract(plan_object, '$.key') IS NOT NULL"""
    ).fetchone()
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
    return {"pending": int(found.get("pending", 0)), "dead": int(found.get("dead", 0))}

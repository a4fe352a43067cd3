"""The metadata store: tasks, videos, scenes, scene versions and their assets.

The embedded default is one SQLite file (WAL mode, so the pipeline's concurrent runs and the
bridge's readers do not block each other). The Convex backend implements the same methods.
Every write is an upsert by natural key, so replaying one is harmless.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                 -- generate | edit
    project_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    scene_id TEXT,
    video_key TEXT NOT NULL,
    status TEXT NOT NULL,               -- queued | progress | completed | failed | cancelled
    progress INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    current_step TEXT,
    total_steps INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    quality TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    updated_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_video ON tasks (video_key, created_at);
CREATE TABLE IF NOT EXISTS videos (
    video_key TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    request TEXT NOT NULL,
    plan TEXT,
    plan_version INTEGER NOT NULL DEFAULT 0,
    plan_object TEXT,
    combined_version INTEGER NOT NULL DEFAULT 0,
    combined TEXT,
    status TEXT NOT NULL DEFAULT 'queued',
    total_duration REAL,
    llm_usage TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS videos_by_project ON videos (project_id);
CREATE TABLE IF NOT EXISTS scenes (
    video_key TEXT NOT NULL,
    scene_number INTEGER NOT NULL,
    scene_id TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    duration REAL,
    assets TEXT,
    error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (video_key, scene_number)
);
CREATE TABLE IF NOT EXISTS scene_versions (
    video_key TEXT NOT NULL,
    scene_number INTEGER NOT NULL,
    version INTEGER NOT NULL,
    assets TEXT NOT NULL,
    duration REAL NOT NULL,
    render_seconds REAL,
    quality TEXT,
    task_id TEXT,
    run_id TEXT,
    edit_prompt TEXT,
    extra TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (video_key, scene_number, version)
);
"""

EDITS_SCHEMA = """
CREATE TABLE IF NOT EXISTS scene_edits (
    video_key TEXT NOT NULL,
    scene_number INTEGER NOT NULL,
    from_version INTEGER NOT NULL,
    to_version INTEGER NOT NULL,
    edit_prompt TEXT NOT NULL,
    model TEXT NOT NULL,
    applied TEXT,
    task_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scene_edits_by_scene ON scene_edits (video_key, scene_number, created_at);
"""

BATCHES_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,               -- file | api | schedule
    status TEXT NOT NULL,               -- running | done
    entries TEXT NOT NULL,              -- [{line, task_id, error}]
    summary TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
"""

AGENT_RENDERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_renders (
    request_id TEXT PRIMARY KEY,
    project_id TEXT,
    status TEXT NOT NULL,               -- queued | completed | failed
    result TEXT,
    error TEXT,
    log TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
"""

TASK_FIELDS = {
    "status", "progress", "message", "current_step", "total_steps", "result", "error",
    "started_at", "completed_at",
}


FINISHED = ("completed", "cancelled", "failed")
ACTIVE = ("queued", "progress")
FINISHED_SQL = ", ".join(f"'{x}'" for x in FINISHED)


class VideoBusy(RuntimeError):
    """The video has a generation or an edit of the same scene still running."""

    def __init__(self, video_key: str, task: dict):
        self.video_key, self.task = video_key, task
        what = "generated" if task["kind"] == "generate" else f"edited ({task.get('scene_id')})"
        super().__init__(
            f"video {video_key} is still being {what} by task {task['task_id']} ({task['status']}); "
            "wait for it to finish or cancel it"
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SqliteMetadataStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._conn().executescript(SCHEMA + EDITS_SCHEMA + BATCHES_SCHEMA + AGENT_RENDERS_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after the first release, for stores made before them."""
        db = self._conn()
        for table, column in (("videos", "llm_usage"), ("scene_versions", "extra"), ("videos", "join_token")):
            names = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if column not in names:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

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

    # --- videos ------------------------------------------------------------------------------

    def register_video(self, video_key: str, project_id: str, session_id: str, request: dict) -> None:
        now = now_iso()
        with self._tx() as db:
            db.execute(
                """INSERT INTO videos (video_key, project_id, session_id, request, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (video_key) DO UPDATE SET request = excluded.request,
                     updated_at = excluded.updated_at""",
                (video_key, project_id, session_id, json.dumps(request), now, now),
            )

    def get_video(self, video_key: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM videos WHERE video_key = ?", (video_key,)).fetchone()
        return _decode(row, ("request", "plan", "plan_object", "combined", "llm_usage")) if row else None

    def save_plan(self, video_key: str, plan: dict, version: int, plan_object: dict) -> None:
        with self._tx() as db:
            db.execute(
                """UPDATE videos SET plan = ?, plan_version = ?, plan_object = ?, status = 'progress',
                   updated_at = ? WHERE video_key = ?""",
                (json.dumps(plan), version, json.dumps(plan_object), now_iso(), video_key),
            )

    def add_llm_usage(self, video_key: str, usage: dict) -> None:
        """Add one step's token/cost usage to the video's total (for the budget and the manifest)."""
        with self._tx() as db:
            row = db.execute("SELECT llm_usage FROM videos WHERE video_key = ?", (video_key,)).fetchone()
            total = json.loads(row[0]) if row and row[0] else {}
            for k in ("calls", "prompt_tokens", "completion_tokens", "total_tokens"):
                total[k] = total.get(k, 0) + usage.get(k, 0)
            total["cost_usd"] = round(total.get("cost_usd", 0.0) + usage.get("cost_usd", 0.0), 6)
            db.execute("UPDATE videos SET llm_usage = ? WHERE video_key = ?", (json.dumps(total), video_key))

    def save_scene_plan(self, video_key: str, scene_number: int, scene_plan: dict) -> None:
        with self._tx() as db:
            row = db.execute("SELECT plan FROM videos WHERE video_key = ?", (video_key,)).fetchone()
            plan = json.loads(row[0])
            plan["scenes"] = [scene_plan if s["scene_number"] == scene_number else s for s in plan["scenes"]]
            db.execute("UPDATE videos SET plan = ?, updated_at = ? WHERE video_key = ?",
                       (json.dumps(plan), now_iso(), video_key))

    def save_combined(self, video_key: str, version: int, combined: dict, total_duration: float) -> None:
        with self._tx() as db:
            db.execute(
                """UPDATE videos SET combined_version = ?, combined = ?, total_duration = ?,
                   status = 'completed', updated_at = ? WHERE video_key = ?""",
                (version, json.dumps(combined), total_duration, now_iso(), video_key),
            )

    def claim_join(self, video_key: str, token: str) -> bool:
        """Claim the join of one exact set of scene versions (`token`): True for the first caller
        only, so of the scene runs that finish together exactly one joins the video."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE videos SET join_token = ? WHERE video_key = ? AND COALESCE(join_token, '') != ?",
                (token, video_key, token),
            )
            return cur.rowcount == 1

    def release_join(self, video_key: str, token: str) -> None:
        """Give a claim back (its join failed), so a later join of the same scenes may run."""
        with self._tx() as db:
            db.execute("UPDATE videos SET join_token = NULL WHERE video_key = ? AND join_token = ?", (video_key, token))

    def set_join_token(self, video_key: str, token: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE videos SET join_token = ? WHERE video_key = ?", (token, video_key))

    # --- scenes ------------------------------------------------------------------------------

    def next_scene_version(self, video_key: str, scene_number: int) -> int:
        row = self._conn().execute(
            "SELECT MAX(version) FROM scene_versions WHERE video_key = ? AND scene_number = ?",
            (video_key, scene_number),
        ).fetchone()
        return (row[0] or 0) + 1

    def set_scene_status(
        self, video_key: str, scene_number: int, scene_id: str, title: str, status: str,
        error: str | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO scenes (video_key, scene_number, scene_id, title, status, error, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (video_key, scene_number) DO UPDATE SET status = excluded.status,
                     title = excluded.title, error = excluded.error, updated_at = excluded.updated_at""",
                (video_key, scene_number, scene_id, title, status, error, now_iso()),
            )

    def record_scene_version(
        self, video_key: str, scene_number: int, scene_id: str, title: str, version: int,
        assets: dict, duration: float, render_seconds: float, quality: str,
        task_id: str | None, run_id: str | None, edit_prompt: str | None = None, extra: dict | None = None,
    ) -> None:
        """Append a version to the history and make it the scene's current one, atomically."""
        now = now_iso()
        with self._tx() as db:
            db.execute(
                """INSERT INTO scene_versions (video_key, scene_number, version, assets, duration,
                     render_seconds, quality, task_id, run_id, edit_prompt, extra, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT DO NOTHING""",
                (video_key, scene_number, version, json.dumps(assets), duration, render_seconds,
                 quality, task_id, run_id, edit_prompt, json.dumps(extra or {}), now),
            )
            db.execute(
                """INSERT INTO scenes (video_key, scene_number, scene_id, title, status, version,
                     duration, assets, error, updated_at)
                   VALUES (?, ?, ?, ?, 'completed', ?, ?, ?, NULL, ?)
                   ON CONFLICT (video_key, scene_number) DO UPDATE SET status = 'completed',
                     title = excluded.title, version = excluded.version, duration = excluded.duration,
                     assets = excluded.assets, error = NULL, updated_at = excluded.updated_at""",
                (video_key, scene_number, scene_id, title, version, duration, json.dumps(assets), now),
            )

    def replace_scene_version(
        self, video_key: str, scene_number: int, version: int, assets: dict, duration: float, extra: dict,
    ) -> None:
        """version_increment=false: the current version's objects were replaced in place."""
        now = now_iso()
        with self._tx() as db:
            db.execute(
                """UPDATE scene_versions SET assets = ?, duration = ?, extra = ? WHERE video_key = ?
                   AND scene_number = ? AND version = ?""",
                (json.dumps(assets), duration, json.dumps(extra), video_key, scene_number, version),
            )
            db.execute(
                """UPDATE scenes SET assets = ?, duration = ?, status = 'completed', error = NULL,
                   updated_at = ? WHERE video_key = ? AND scene_number = ?""",
                (json.dumps(assets), duration, now, video_key, scene_number),
            )

    def record_edit(
        self, video_key: str, scene_number: int, from_version: int, to_version: int, prompt: str,
        model: str, applied: list[str], task_id: str | None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO scene_edits (video_key, scene_number, from_version, to_version, edit_prompt,
                   model, applied, task_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (video_key, scene_number, from_version, to_version, prompt, model, json.dumps(applied),
                 task_id, now_iso()),
            )

    def edit_history(self, video_key: str, scene_number: int) -> list[dict]:
        rows = self._conn().execute(
            "SELECT * FROM scene_edits WHERE video_key = ? AND scene_number = ? ORDER BY created_at, rowid",
            (video_key, scene_number),
        ).fetchall()
        return [_decode(r, ("applied",)) for r in rows]

    def get_scene(self, video_key: str, scene_number: int) -> dict | None:
        row = self._conn().execute(
            "SELECT * FROM scenes WHERE video_key = ? AND scene_number = ?", (video_key, scene_number)
        ).fetchone()
        return _decode(row, ("assets",)) if row else None

    def current_scene(self, video_key: str, scene_number: int) -> dict | None:
        """The scene as the source of truth has it (here: SQLite; Convex when mirrored)."""
        return self.get_scene(video_key, scene_number)

    def list_scenes(self, video_key: str) -> list[dict]:
        rows = self._conn().execute(
            "SELECT * FROM scenes WHERE video_key = ? ORDER BY scene_number", (video_key,)
        ).fetchall()
        return [_decode(r, ("assets",)) for r in rows]

    def scene_history(self, video_key: str, scene_number: int) -> list[dict]:
        rows = self._conn().execute(
            """SELECT * FROM scene_versions WHERE video_key = ? AND scene_number = ?
               ORDER BY version""",
            (video_key, scene_number),
        ).fetchall()
        return [_decode(r, ("assets", "extra")) for r in rows]

    def render_history(self, quality: str, limit: int = 50) -> list[float]:
        """Recent render times (seconds) of scenes at a quality, for duration estimates."""
        rows = self._conn().execute(
            "SELECT render_seconds FROM scene_versions WHERE quality = ? AND render_seconds IS NOT NULL "
            "ORDER BY created_at DESC LIMIT ?",
            (quality, limit),
        ).fetchall()
        return [r[0] for r in rows]

    # --- tasks -------------------------------------------------------------------------------

    def create_task(
        self, task_id: str, kind: str, project_id: str, session_id: str, video_key: str,
        total_steps: int, quality: str, scene_id: str | None = None, message: str = "Task queued",
        exclusive: bool = False, request: dict | None = None,
    ) -> dict:
        """Create a task (a repeat of the same task id is a no-op).

        `exclusive`: in the same transaction, refuse (VideoBusy) while another task works on the
        video — any generation; for an edit, also an edit of the same scene — so two requests
        that arrive together cannot both pass a check and then both start. `request` (a
        generation's) is stored on the video in that transaction too."""
        now = now_iso()
        with self._tx() as db:
            if exclusive:
                rows = db.execute(
                    f"""SELECT * FROM tasks WHERE video_key = ? AND task_id != ?
                        AND status IN ({", ".join(f"'{x}'" for x in ACTIVE)}) ORDER BY created_at""",
                    (video_key, task_id),
                ).fetchall()
                for row in rows:
                    other = dict(row)
                    if kind == "generate" or other["kind"] == "generate" or other["scene_id"] == scene_id:
                        raise VideoBusy(video_key, other)
            if request is not None:
                db.execute(
                    """INSERT INTO videos (video_key, project_id, session_id, request, created_at, updated_at)
                       VALUES (?, ?, ?, ?, ?, ?)
                       ON CONFLICT (video_key) DO UPDATE SET request = excluded.request,
                         updated_at = excluded.updated_at""",
                    (video_key, project_id, session_id, json.dumps(request), now, now),
                )
            db.execute(
                """INSERT INTO tasks (task_id, kind, project_id, session_id, scene_id, video_key,
                     status, message, total_steps, quality, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)
                   ON CONFLICT (task_id) DO NOTHING""",
                (task_id, kind, project_id, session_id, scene_id, video_key, message, total_steps,
                 quality, now, now),
            )
        task = self.get_task(task_id)
        assert task is not None
        return task

    def active_tasks(self, video_key: str) -> list[dict]:
        """The video's queued or running tasks, oldest first."""
        rows = self._conn().execute(
            f"""SELECT * FROM tasks WHERE video_key = ? AND status IN ({", ".join(f"'{x}'" for x in ACTIVE)})
                ORDER BY created_at""",
            (video_key,),
        ).fetchall()
        return [_decode(r, ("result",)) for r in rows]

    def update_task(self, task_id: str, **fields: Any) -> None:
        """Progress only moves forward: a write with a lower `progress` than the task's (a scene
        run that finished after a later one) leaves progress, message and step as they are."""
        unknown = set(fields) - TASK_FIELDS
        if unknown:
            raise ValueError(f"unknown task fields: {sorted(unknown)}")
        if "result" in fields and fields["result"] is not None:
            fields["result"] = json.dumps(fields["result"])
        fields["updated_at"] = now_iso()
        sets, values = [], []
        progress = fields.pop("progress", None)
        if progress is not None:
            for col in ("message", "current_step", "total_steps"):
                if col in fields:
                    sets.append(f"{col} = CASE WHEN ? >= progress THEN ? ELSE {col} END")
                    values += [progress, fields.pop(col)]
            sets.append("progress = MAX(progress, ?)")
            values.append(progress)
        for col, value in fields.items():
            sets.append(f"{col} = ?")
            values.append(value)
        with self._tx() as db:
            # A finished task stays finished: late writes from a straggling run do not reopen it.
            db.execute(
                f"UPDATE tasks SET {', '.join(sets)} WHERE task_id = ? AND status NOT IN ({FINISHED_SQL})"
                if fields.get("status") not in FINISHED
                else f"UPDATE tasks SET {', '.join(sets)} WHERE task_id = ? AND status != 'cancelled'",
                (*values, task_id),
            )

    def start_task(self, task_id: str) -> None:
        with self._tx() as db:
            db.execute(
                """UPDATE tasks SET started_at = COALESCE(started_at, ?), status = 'progress',
                   updated_at = ? WHERE task_id = ? AND status = 'queued'""",
                (now_iso(), now_iso(), task_id),
            )

    def reopen_task(self, task_id: str, message: str) -> bool:
        """A failed task goes back to `progress` for a retry; False when it was not failed."""
        with self._tx() as db:
            cur = db.execute(
                """UPDATE tasks SET status = 'progress', error = NULL, result = NULL, completed_at = NULL,
                   message = ?, updated_at = ? WHERE task_id = ? AND status = 'failed'""",
                (message, now_iso(), task_id),
            )
            return cur.rowcount == 1

    # --- renders of the developers' agent endpoint ------------------------------------------------

    def create_agent_render(self, request_id: str, project_id: str | None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO agent_renders (request_id, project_id, status, created_at)
                   VALUES (?, ?, 'queued', ?) ON CONFLICT (request_id) DO NOTHING""",
                (request_id, project_id, now_iso()),
            )

    def finish_agent_render(self, request_id: str, status: str, result: dict | None = None,
                            error: str | None = None, log: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                """INSERT INTO agent_renders (request_id, status, result, error, log, created_at, finished_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (request_id) DO UPDATE SET status = excluded.status,
                     result = excluded.result, error = excluded.error, log = excluded.log,
                     finished_at = excluded.finished_at""",
                (request_id, status, json.dumps(result) if result else None, error, log, now_iso(), now_iso()),
            )

    def get_agent_render(self, request_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM agent_renders WHERE request_id = ?", (request_id,)).fetchone()
        return _decode(row, ("result",)) if row else None

    # --- batches -----------------------------------------------------------------------------

    def create_batch(self, batch_id: str, name: str, source: str, entries: list[dict]) -> bool:
        """Record a batch; False when a batch with this id (the same content) already exists."""
        with self._tx() as db:
            cur = db.execute(
                """INSERT INTO batches (batch_id, name, source, status, entries, created_at)
                   VALUES (?, ?, ?, 'running', ?, ?) ON CONFLICT (batch_id) DO NOTHING""",
                (batch_id, name, source, json.dumps(entries), now_iso()),
            )
            return cur.rowcount == 1

    def get_batch(self, batch_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return _decode(row, ("entries", "summary")) if row else None

    def list_batches(self, status: str) -> list[dict]:
        rows = self._conn().execute("SELECT * FROM batches WHERE status = ? ORDER BY created_at", (status,)).fetchall()
        return [_decode(r, ("entries", "summary")) for r in rows]

    def finish_batch(self, batch_id: str, summary: dict) -> None:
        with self._tx() as db:
            db.execute("UPDATE batches SET status = 'done', summary = ?, done_at = ? WHERE batch_id = ?",
                       (json.dumps(summary), now_iso(), batch_id))

    def get_task(self, task_id: str) -> dict | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return _decode(row, ("result",)) if row else None


def _decode(row: sqlite3.Row, json_cols: tuple[str, ...]) -> dict:
    out = dict(row)
    for col in json_cols:
        if out.get(col) is not None:
            out[col] = json.loads(out[col])
    return out

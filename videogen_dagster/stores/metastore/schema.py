"""The SQLite store's tables (DDL) and the migrations of stores made by earlier releases."""

from __future__ import annotations

import sqlite3

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

# The task event log (events.py): the event id is the order, per task and over all tasks. The
# webhook outbox: one row per event to send, with its attempts (times are Unix seconds).
EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS task_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    video_key TEXT NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS task_events_by_task ON task_events (task_id, id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    video_key TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,               -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status INTEGER,
    last_error TEXT,
    next_attempt_at REAL NOT NULL,
    last_attempt_at TEXT,
    delivered_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending ON webhook_deliveries (status, task_id, event_id);
"""

# Columns added after the first release: (table, column), all TEXT and nullable.
ADDED_COLUMNS = (
    ("videos", "llm_usage"), ("scene_versions", "extra"), ("videos", "join_token"), ("tasks", "webhook_url"),
    ("tasks", "previews"),  # JSON: the preview renders published so far (progressive rendering)
)


def create_schema(db: sqlite3.Connection) -> None:
    """Create the tables (idempotent) and add the columns a store made before them lacks."""
    db.executescript(SCHEMA + EDITS_SCHEMA + BATCHES_SCHEMA + AGENT_RENDERS_SCHEMA + EVENTS_SCHEMA)
    for table, column in ADDED_COLUMNS:
        names = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
        if column not in names:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

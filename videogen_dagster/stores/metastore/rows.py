"""SQLite rows to the store's records, once, where they are read: JSON columns parsed, statuses and
kinds as their enums, JSON NULLs that mean "none" as empty containers."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from videogen_dagster.stores.metastore import records, status


def _json(value: str | None, empty: Any = None) -> Any:
    return json.loads(value) if value is not None else empty


def task(row: sqlite3.Row) -> records.Task:
    d = dict(row)
    return records.Task(
        **{
            **d,
            "kind": status.TaskKind(d["kind"]),
            "status": status.TaskStatus(d["status"]),
            "result": _json(d["result"]),
            "previews": _json(d.get("previews"), []),
        }
    )


def video(row: sqlite3.Row) -> records.Video:
    d = dict(row)
    return records.Video(
        **{
            **d,
            "status": status.VideoStatus(d["status"]),
            **{col: _json(d[col]) for col in ("plan", "plan_object", "combined", "llm_usage")},
            "request": _json(d["request"], {}),
        }
    )


def scene(row: sqlite3.Row) -> records.Scene:
    d = dict(row)
    return records.Scene(
        **{**d, "status": status.SceneStatus(d["status"]), "assets": _json(d["assets"], {})}
    )


def scene_version(row: sqlite3.Row) -> records.SceneVersion:
    d = dict(row)
    return records.SceneVersion(
        **{**d, "assets": _json(d["assets"], {}), "extra": _json(d["extra"], {})}
    )


def scene_edit(row: sqlite3.Row) -> records.SceneEdit:
    d = dict(row)
    d.pop("rowid", None)  # PostgreSQL's stand-in for SQLite's implicit rowid (pg_schema.py)
    return records.SceneEdit(**{**d, "applied": _json(d["applied"], [])})


def batch(row: sqlite3.Row) -> records.Batch:
    d = dict(row)
    return records.Batch(
        **{
            **d,
            "status": status.BatchStatus(d["status"]),
            "entries": [records.BatchEntry(**e) for e in _json(d["entries"], [])],
            "summary": _json(d["summary"]),
        }
    )

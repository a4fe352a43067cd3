"""The store's video rows (request, plan, combined video, LLM usage, join claims) and scene rows
(current state, append-only version history, edit records)."""

from __future__ import annotations

import json

from videogen_dagster.stores.metastore import records, rows
from videogen_dagster.stores.metastore.db import SqliteDb
from videogen_dagster.stores.metastore.errors import NotFound
from videogen_dagster.stores.metastore.events import scene_changed, scene_previewed
from videogen_dagster.stores.metastore.status import SceneStatus, VideoStatus, now_iso

USAGE_COUNTS = ("calls", "prompt_tokens", "completion_tokens", "total_tokens")


def upsert_video(db, video_key: str, project_id: str, session_id: str, request: dict, now: str) -> None:
    """Store a video's request (inserting the video the first time), inside the caller's transaction."""
    db.execute(
        """INSERT INTO videos (video_key, project_id, session_id, request, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (video_key) DO UPDATE SET request = excluded.request,
             updated_at = excluded.updated_at""",
        (video_key, project_id, session_id, json.dumps(request), now, now),
    )


def _scene_row(db, video_key: str, scene_number: int):
    return db.execute(
        "SELECT * FROM scenes WHERE video_key = ? AND scene_number = ?", (video_key, scene_number)
    ).fetchone()


class SqliteVideos(SqliteDb):
    # --- videos --------------------------------------------------------------------------------

    def register_video(self, video_key: str, project_id: str, session_id: str, request: dict) -> None:
        with self._tx() as db:
            upsert_video(db, video_key, project_id, session_id, request, now_iso())

    def get_video(self, video_key: str) -> records.Video | None:
        row = self._conn().execute("SELECT * FROM videos WHERE video_key = ?", (video_key,)).fetchone()
        return rows.video(row) if row else None

    def save_plan(self, video_key: str, plan: dict, version: int, plan_object: dict) -> None:
        with self._tx() as db:
            db.execute(
                f"""UPDATE videos SET plan = ?, plan_version = ?, plan_object = ?,
                   status = '{VideoStatus.PROGRESS}', updated_at = ? WHERE video_key = ?""",
                (json.dumps(plan), version, json.dumps(plan_object), now_iso(), video_key),
            )

    def add_llm_usage(self, video_key: str, usage: dict) -> None:
        """Add one step's token/cost usage to the video's total (for the budget and the manifest)."""
        with self._tx() as db:
            row = db.execute("SELECT llm_usage FROM videos WHERE video_key = ?", (video_key,)).fetchone()
            total = json.loads(row[0]) if row and row[0] else {}
            for k in USAGE_COUNTS:
                total[k] = total.get(k, 0) + usage.get(k, 0)
            total["cost_usd"] = round(total.get("cost_usd", 0.0) + usage.get("cost_usd", 0.0), 6)
            db.execute("UPDATE videos SET llm_usage = ? WHERE video_key = ?", (json.dumps(total), video_key))

    def save_scene_plan(self, video_key: str, scene_number: int, scene_plan: dict) -> None:
        with self._tx() as db:
            row = db.execute("SELECT plan FROM videos WHERE video_key = ?", (video_key,)).fetchone()
            if row is None or row[0] is None:
                raise NotFound(f"video {video_key} has no plan to update scene {scene_number} of")
            plan = json.loads(row[0])
            plan["scenes"] = [scene_plan if s["scene_number"] == scene_number else s for s in plan["scenes"]]
            db.execute("UPDATE videos SET plan = ?, updated_at = ? WHERE video_key = ?",
                       (json.dumps(plan), now_iso(), video_key))

    def save_combined(self, video_key: str, version: int, combined: dict, total_duration: float) -> None:
        with self._tx() as db:
            db.execute(
                f"""UPDATE videos SET combined_version = ?, combined = ?, total_duration = ?,
                   status = '{VideoStatus.COMPLETED}', updated_at = ? WHERE video_key = ?""",
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

    # --- scenes --------------------------------------------------------------------------------

    def next_scene_version(self, video_key: str, scene_number: int) -> int:
        row = self._conn().execute(
            "SELECT MAX(version) FROM scene_versions WHERE video_key = ? AND scene_number = ?",
            (video_key, scene_number),
        ).fetchone()
        return (row[0] or 0) + 1

    def set_scene_status(
        self, video_key: str, scene_number: int, scene_id: str, title: str, status: SceneStatus,
        error: str | None = None,
    ) -> None:
        with self._tx() as db:
            before = _scene_row(db, video_key, scene_number)
            db.execute(
                """INSERT INTO scenes (video_key, scene_number, scene_id, title, status, error, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (video_key, scene_number) DO UPDATE SET status = excluded.status,
                     title = excluded.title, error = excluded.error, updated_at = excluded.updated_at""",
                (video_key, scene_number, scene_id, title, status, error, now_iso()),
            )
            scene_changed(db, video_key, scene_number, before)

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
                f"""INSERT INTO scenes (video_key, scene_number, scene_id, title, status, version,
                     duration, assets, error, updated_at)
                   VALUES (?, ?, ?, ?, '{SceneStatus.COMPLETED}', ?, ?, ?, NULL, ?)
                   ON CONFLICT (video_key, scene_number) DO UPDATE SET status = '{SceneStatus.COMPLETED}',
                     title = excluded.title, version = excluded.version, duration = excluded.duration,
                     assets = excluded.assets, error = NULL, updated_at = excluded.updated_at""",
                (video_key, scene_number, scene_id, title, version, duration, json.dumps(assets), now),
            )
            scene_changed(db, video_key, scene_number, None, rendered=True)

    def record_scene_preview(self, video_key: str, scene_number: int, preview: dict) -> None:
        """Progressive rendering: the scene's preview (`key`, `version`, its probe) is stored;
        the tasks working on the scene list it and get a `scene.preview` event."""
        with self._tx() as db:
            scene_previewed(db, video_key, scene_number, preview)

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
                f"""UPDATE scenes SET assets = ?, duration = ?, status = '{SceneStatus.COMPLETED}',
                   error = NULL, updated_at = ? WHERE video_key = ? AND scene_number = ?""",
                (json.dumps(assets), duration, now, video_key, scene_number),
            )
            scene_changed(db, video_key, scene_number, None, rendered=True)

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

    def edit_history(self, video_key: str, scene_number: int) -> list[records.SceneEdit]:
        found = self._conn().execute(
            "SELECT * FROM scene_edits WHERE video_key = ? AND scene_number = ? ORDER BY created_at, rowid",
            (video_key, scene_number),
        ).fetchall()
        return [rows.scene_edit(r) for r in found]

    def get_scene(self, video_key: str, scene_number: int) -> records.Scene | None:
        row = self._conn().execute(
            "SELECT * FROM scenes WHERE video_key = ? AND scene_number = ?", (video_key, scene_number)
        ).fetchone()
        return rows.scene(row) if row else None

    def current_scene(self, video_key: str, scene_number: int) -> records.Scene | None:
        """The scene as the source of truth has it (here: SQLite; Convex when mirrored)."""
        return self.get_scene(video_key, scene_number)

    def list_scenes(self, video_key: str) -> list[records.Scene]:
        found = self._conn().execute(
            "SELECT * FROM scenes WHERE video_key = ? ORDER BY scene_number", (video_key,)
        ).fetchall()
        return [rows.scene(r) for r in found]

    def scene_history(self, video_key: str, scene_number: int) -> list[records.SceneVersion]:
        found = self._conn().execute(
            "SELECT * FROM scene_versions WHERE video_key = ? AND scene_number = ? ORDER BY version",
            (video_key, scene_number),
        ).fetchall()
        return [rows.scene_version(r) for r in found]

    def render_history(self, quality: str, limit: int = 50) -> list[float]:
        """Recent render times (seconds) of scenes at a quality, for duration estimates."""
        found = self._conn().execute(
            "SELECT render_seconds FROM scene_versions WHERE quality = ? AND render_seconds IS NOT NULL "
            "ORDER BY created_at DESC LIMIT ?",
            (quality, limit),
        ).fetchall()
        return [r[0] for r in found]

"""Convex mirror of the metadata store, over Convex's HTTP function API (httpx).

Every write to the local SQLite store is also queued in a durable outbox (SQLite) and replayed in
order to Convex; when Convex cannot be reached the entries wait and are sent by the next write or
by the `convex_outbox_sensor`. Each entry carries the full state of one record (a task, a video,
a scene) or one immutable scene version, and the Convex mutations are upserts by natural key, so
replaying an entry twice is harmless. A mutation that Convex rejects (validator, schema drift)
fails loudly, naming the function and Convex's message; it is kept in the outbox as `dead`, never
retried forever and never dropped silently.
"""

from __future__ import annotations

import fcntl
import json
import logging
import random
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from videogen_dagster.metastore import SqliteMetadataStore, now_iso

log = logging.getLogger("videogen.convex")


class ConvexError(RuntimeError):
    pass


class ConvexFunctionError(ConvexError):
    """The function ran and failed (in-band `status: "error"`): not retried."""

    def __init__(self, function: str, message: str, data: Any = None):
        super().__init__(f"Convex function {function} failed: {message}")
        self.function, self.message, self.data = function, message, data


class ConvexRequestError(ConvexError):
    """Convex refused the request itself (bad key, bad JSON, unknown route): not retried."""

    def __init__(self, function: str, status: int, code: str, message: str):
        hint = " (check CONVEX_DEPLOY_KEY)" if status in (401, 403) else ""
        super().__init__(f"Convex refused {function}: HTTP {status} {code}: {message}{hint}")
        self.function, self.status, self.code = function, status, code


class ConvexUnavailable(ConvexError):
    """Network errors, timeouts, 429 and 5xx after every retry."""


class ConvexClient:
    def __init__(
        self, url: str, deploy_key: str, timeout: float = 10.0, max_attempts: int = 4,
        backoff: float = 0.25, transport: httpx.BaseTransport | None = None,
    ):
        self.url = url.rstrip("/")
        self.max_attempts, self.backoff = max_attempts, backoff
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport,
            headers={"Authorization": f"Convex {deploy_key}", "Content-Type": "application/json"},
        )

    def query(self, path: str, args: dict) -> Any:
        return self._call("query", path, args)

    def mutation(self, path: str, args: dict) -> Any:
        return self._call("mutation", path, args)

    def _call(self, kind: str, path: str, args: dict) -> Any:
        body = {"path": path, "args": args, "format": "json"}
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self._http.post(f"/api/{kind}", json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                # 560 is Convex's status for an in-band function error.
                if resp.status_code in (200, 560):
                    data = resp.json()
                    if data.get("status") == "success":
                        return data.get("value")
                    raise ConvexFunctionError(path, data.get("errorMessage", "?"), data.get("errorData"))
                if resp.status_code != 429 and resp.status_code < 500:
                    try:
                        err = resp.json()
                    except ValueError:
                        err = {}
                    raise ConvexRequestError(
                        path, resp.status_code, err.get("code", "?"), err.get("message", resp.text[:200])
                    )
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
            if attempt < self.max_attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
        raise ConvexUnavailable(f"Convex at {self.url} unavailable for {path} after {self.max_attempts} attempts: {last}")


OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL
);
"""


class ConvexOutbox:
    """Durable, ordered queue of mutations for Convex, shared by every process of the pipeline."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lockfile = self.path.with_suffix(".lock")
        with self._db() as db:
            db.executescript(OUTBOX_SCHEMA)

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()

    def enqueue(self, path: str, args: dict) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO outbox (path, args, created_at) VALUES (?, ?, ?)",
                (path, json.dumps(args), now_iso()),
            )

    def pending(self) -> list[tuple[int, str, dict]]:
        with self._db() as db:
            rows = db.execute("SELECT id, path, args FROM outbox WHERE state = 'pending' ORDER BY id").fetchall()
        return [(i, p, json.loads(a)) for i, p, a in rows]

    def dead(self) -> list[dict]:
        with self._db() as db:
            rows = db.execute("SELECT id, path, last_error FROM outbox WHERE state = 'dead' ORDER BY id").fetchall()
        return [{"id": i, "path": p, "error": e} for i, p, e in rows]

    def flush(self, client: ConvexClient) -> int:
        """Send pending entries in order; returns how many were sent. Stops at the first
        unavailability (the rest waits); raises on a rejected mutation after marking it dead."""
        sent = 0
        self._lockfile.touch(exist_ok=True)
        with open(self._lockfile) as lock:
            # One flusher at a time across processes keeps the order.
            fcntl.flock(lock, fcntl.LOCK_EX)
            for entry_id, path, args in self.pending():
                try:
                    client.mutation(path, args)
                except ConvexUnavailable as exc:
                    self._mark(entry_id, "pending", str(exc))
                    log.warning("Convex unavailable; %d update(s) wait in the outbox", len(self.pending()))
                    return sent
                except (ConvexFunctionError, ConvexRequestError) as exc:
                    self._mark(entry_id, "dead", str(exc))
                    raise
                with self._db() as db:
                    db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))
                sent += 1
        return sent

    def _mark(self, entry_id: int, state: str, error: str) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
                (state, error[:2000], entry_id),
            )


def _clean(d: dict) -> dict:
    """Convex's v.optional fields take a missing key, not null."""
    return {k: v for k, v in d.items() if v is not None}


def _asset_refs(assets: dict) -> list[dict]:
    return [
        _clean({
            "kind": kind, "bucket": a.get("bucket"), "key": a["key"], "versionId": a.get("version_id"),
            "sha256": a["sha256"], "bytes": a["bytes"], "contentType": a["content_type"],
        })
        for kind, a in sorted(assets.items())
        if isinstance(a, dict) and "key" in a
    ]


class MirroredMetadataStore(SqliteMetadataStore):
    """The SQLite store, with every write mirrored to Convex through the outbox."""

    # After Convex was found unreachable, writes only queue for this long before trying again,
    # so an outage does not slow every step of the pipeline down by the retry backoff.
    RETRY_AFTER_SECONDS = 5.0

    def __init__(self, path: Path | str, client: ConvexClient, outbox: ConvexOutbox):
        super().__init__(path)
        self.convex = client
        self.outbox = outbox
        self._down_until = 0.0

    def _send(self, path: str, args: dict) -> None:
        self.outbox.enqueue(path, _clean(args))
        if time.monotonic() >= self._down_until:
            self.flush()

    def flush(self) -> int:
        sent = self.outbox.flush(self.convex)
        self._down_until = time.monotonic() + self.RETRY_AFTER_SECONDS if self.outbox.pending() else 0.0
        return sent

    # -- mirrored records --

    def _mirror_task(self, task_id: str) -> None:
        t = self.get_task(task_id)
        if t is None:
            return
        self._send("tasks:upsert", {
            "taskId": t["task_id"], "kind": t["kind"], "projectId": t["project_id"],
            "sessionId": t["session_id"], "sceneId": t["scene_id"], "videoKey": t["video_key"],
            "status": t["status"], "progress": t["progress"], "message": t["message"],
            "currentStep": t["current_step"], "totalSteps": t["total_steps"], "error": t["error"],
            "createdAt": t["created_at"], "updatedAt": t["updated_at"], "completedAt": t["completed_at"],
        })

    def _mirror_video(self, video_key: str) -> None:
        v = self.get_video(video_key)
        if v is None:
            return
        request, plan, combined = v["request"] or {}, v.get("plan") or {}, v.get("combined") or {}
        refs = None
        if combined:
            refs = _asset_refs({
                "combined": combined["video"], "subtitles": combined["subtitles_srt"],
                "subtitles_vtt": combined["subtitles_vtt"], "manifest": combined.get("manifest"),
            })
        self._send("videos:upsert", {
            "videoKey": video_key, "projectId": v["project_id"], "sessionId": v["session_id"],
            "prompt": request.get("content_prompt", ""),
            "sceneCount": plan.get("scene_count") or request.get("scene_count", 0),
            "status": v["status"], "planVersion": v["plan_version"], "combinedVersion": v["combined_version"],
            "totalDuration": v.get("total_duration"), "combined": refs, "updatedAt": v["updated_at"],
        })

    def _mirror_scene_status(self, video_key: str, scene_number: int) -> None:
        s = self.get_scene(video_key, scene_number)
        if s is None:
            return
        self._send("scenes:setStatus", {
            "videoKey": video_key, "sceneNumber": scene_number, "sceneId": s["scene_id"],
            "title": s["title"], "status": s["status"], "error": s["error"], "updatedAt": s["updated_at"],
        })

    # -- the store's writes --

    def register_video(self, video_key, project_id, session_id, request) -> None:
        super().register_video(video_key, project_id, session_id, request)
        self._mirror_video(video_key)

    def save_plan(self, video_key, plan, version, plan_object) -> None:
        super().save_plan(video_key, plan, version, plan_object)
        self._mirror_video(video_key)

    def save_combined(self, video_key, version, combined, total_duration) -> None:
        super().save_combined(video_key, version, combined, total_duration)
        self._mirror_video(video_key)

    def set_scene_status(self, video_key, scene_number, scene_id, title, status, error=None) -> None:
        super().set_scene_status(video_key, scene_number, scene_id, title, status, error)
        self._mirror_scene_status(video_key, scene_number)

    def record_scene_version(
        self, video_key, scene_number, scene_id, title, version, assets, duration, render_seconds,
        quality, task_id, run_id, edit_prompt=None, extra=None,
    ) -> None:
        super().record_scene_version(
            video_key, scene_number, scene_id, title, version, assets, duration, render_seconds,
            quality, task_id, run_id, edit_prompt, extra,
        )
        row = next(h for h in self.scene_history(video_key, scene_number) if h["version"] == version)
        self._send("scenes:recordVersion", {
            "videoKey": video_key, "sceneNumber": scene_number, "sceneId": scene_id, "title": title,
            "version": version, "editedBy": "edit" if edit_prompt else "pipeline",
            "editPrompt": edit_prompt, "taskId": task_id, "duration": duration,
            "assets": _asset_refs(assets), "createdAt": row["created_at"],
        })

    def create_task(self, task_id, *args, **kwargs) -> dict:
        task = super().create_task(task_id, *args, **kwargs)
        if kwargs.get("request") is not None:
            self._mirror_video(task["video_key"])
        self._mirror_task(task_id)
        return task

    def update_task(self, task_id: str, **fields: Any) -> None:
        super().update_task(task_id, **fields)
        self._mirror_task(task_id)

    def current_scene(self, video_key: str, scene_number: int) -> dict | None:
        """Edits load the scene's metadata from Convex, never from a local copy that may be stale:
        the pending outbox is flushed first, and Convex's version must match the local record."""
        local = self.get_scene(video_key, scene_number)
        if local is None:
            return None
        self.flush()
        if self.outbox.pending():
            raise ConvexUnavailable("Convex is unreachable: an edit needs the scene's current metadata from it")
        remote = self.convex.query("scenes:bySceneId", {"sceneId": local["scene_id"]})
        if remote is None or remote["version"] != local["version"]:
            raise ConvexError(
                f"scene {local['scene_id']}: Convex has version {remote and remote['version']}, "
                f"the pipeline {local['version']}; refusing to edit from a stale record"
            )
        return {**local, "status": remote["status"], "version": remote["version"]}

    def reopen_task(self, task_id: str, message: str) -> bool:
        reopened = super().reopen_task(task_id, message)
        self._mirror_task(task_id)
        return reopened

    def start_task(self, task_id: str) -> None:
        super().start_task(task_id)
        self._mirror_task(task_id)


def open_metadata_store(
    sqlite_path: Path | str, convex_url: str | None = None, deploy_key: str | None = None
) -> SqliteMetadataStore:
    """SQLite alone, or SQLite mirrored to Convex when a deployment URL and key are given."""
    if not convex_url:
        return SqliteMetadataStore(sqlite_path)
    if not deploy_key:
        raise ConvexError("CONVEX_DEPLOYMENT_URL is set but CONVEX_DEPLOY_KEY is not")
    outbox = ConvexOutbox(Path(sqlite_path).with_name("convex_outbox.sqlite"))
    return MirroredMetadataStore(sqlite_path, ConvexClient(convex_url, deploy_key), outbox)

"""A metadata store mirrored to Convex: wraps any MetadataStore (composition, not a subclass).

Reads go to the wrapped store. Every writer of the MetadataWriter protocol is made here from one
table: it calls the wrapped store, then sends what MIRRORS says Convex needs (through the durable
outbox), or nothing when LOCAL_ONLY names it with the reason. A writer in neither table (one added
to the protocol later) fails this class's creation, so no write goes unmirrored silently.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videogen_dagster.stores.convex.client import (
    ConvexClient,
    ConvexError,
    ConvexStale,
    ConvexUnavailable,
)
from videogen_dagster.stores.convex.outbox import ConvexOutbox
from videogen_dagster.stores.convex.pg_outbox import PostgresConvexOutbox, shared_postgres_outbox
from videogen_dagster.stores.convex.records import (
    clean,
    edit_args,
    replaced_version_args,
    scene_status_args,
    task_args,
    version_args,
    video_args,
)
from videogen_dagster.stores.metastore import (
    READERS,
    WRITERS,
    MetadataStore,
    SceneStatus,
    SqliteMetadataStore,
    records,
)
from videogen_dagster.stores.metastore.postgres import shared_postgres_store

if TYPE_CHECKING:
    # The methods are made from the protocol at import time (_delegate_and_mirror below); to a
    # type checker the class is a MetadataStore.
    _Store = MetadataStore
else:
    _Store = object

# A mirror's sender: the store, the writer's arguments by name (defaults applied), its result.
Sender = Callable[["MirroredMetadataStore", dict[str, Any], Any], None]


@dataclass(frozen=True)
class Mirror:
    functions: tuple[str, ...]  # the Convex mutations it may send, in order
    send: Sender


class MirroredMetadataStore(_Store):
    """`inner` (SQLite: the pipeline's and the bridge's local source) with every write mirrored
    to Convex, which is what apps subscribe to."""

    # After Convex was found unreachable, writes only queue for this long before trying again,
    # so an outage does not slow every step of the pipeline down by the retry backoff.
    RETRY_AFTER_SECONDS = 5.0

    def __init__(self, inner: MetadataStore, convex: ConvexClient, outbox: ConvexOutbox | PostgresConvexOutbox):
        self.inner = inner
        self.convex = convex
        self.outbox = outbox
        self._down_until = 0.0

    def send(self, path: str, args: dict[str, Any]) -> None:
        """Queue a mutation in the outbox, and send the queue unless Convex was just found down."""
        self.outbox.enqueue(path, clean(args))
        if time.monotonic() >= self._down_until:
            self.flush()

    def flush(self) -> int:
        sent = self.outbox.flush(self.convex)
        self._down_until = time.monotonic() + self.RETRY_AFTER_SECONDS if self.outbox.pending() else 0.0
        return sent

    def send_task(self, task_id: str) -> None:
        task = self.inner.get_task(task_id)
        if task is not None:
            self.send("tasks:upsert", task_args(task))

    def send_video(self, video_key: str) -> None:
        video = self.inner.get_video(video_key)
        if video is not None:
            self.send("videos:upsert", video_args(video))

    def current_scene(self, video_key: str, scene_number: int) -> records.Scene | None:
        """Edits load the scene's metadata from Convex, never from a local copy that may be stale:
        the pending outbox is flushed first, and Convex's version must match the local record."""
        local = self.inner.get_scene(video_key, scene_number)
        if local is None:
            return None
        self.flush()
        if self.outbox.pending():
            raise ConvexUnavailable("Convex is unreachable: an edit needs the scene's current metadata from it")
        # `remote` is Convex's wire document (convex/scenes.ts bySceneId), read as such.
        remote = self.convex.query("scenes:bySceneId", {"sceneId": local.scene_id})
        if remote is None or remote["version"] != local.version:
            raise ConvexStale(
                f"scene {local.scene_id}: Convex has version {remote and remote['version']}, "
                f"the pipeline {local.version}; refusing to edit from a stale record"
            )
        return dataclasses.replace(local, status=SceneStatus(remote["status"]), version=remote["version"])


# --- what each writer sends -------------------------------------------------------------------


def _video(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    m.send_video(a["video_key"])


def _task(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    m.send_task(a["task_id"])


def _new_task(m: MirroredMetadataStore, a: dict[str, Any], task: records.Task) -> None:
    if a["request"] is not None:  # stored on the video in the task's transaction
        m.send_video(task.video_key)
    m.send_task(a["task_id"])


def _scene_status(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    scene = m.inner.get_scene(a["video_key"], a["scene_number"])
    if scene is not None:
        m.send("scenes:setStatus", scene_status_args(scene))


def _version_row(m: MirroredMetadataStore, a: dict[str, Any]) -> records.SceneVersion | None:
    history = m.inner.scene_history(a["video_key"], a["scene_number"])
    return next((h for h in history if h.version == a["version"]), None)


def _new_version(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    row = _version_row(m, a)
    if row is not None:
        m.send("scenes:recordVersion", version_args(a["scene_id"], a["title"], row))


def _replaced_version(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    row, scene = _version_row(m, a), m.inner.get_scene(a["video_key"], a["scene_number"])
    if row is not None and scene is not None:  # else the store had nothing to replace
        m.send("scenes:replaceVersion", replaced_version_args(row, scene.updated_at))


def _edit(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    mine = (a["from_version"], a["to_version"], a["prompt"], a["task_id"])
    for e in reversed(m.inner.edit_history(a["video_key"], a["scene_number"])):
        if (e.from_version, e.to_version, e.edit_prompt, e.task_id) == mine:
            m.send("scenes:recordEdit", edit_args(e))
            return


def _removed(m: MirroredMetadataStore, a: dict[str, Any], _: Any) -> None:
    # Sent even when nothing was removed here: Convex may still hold what the local store lost.
    m.send("videos:remove", {"videoKey": a["video_key"]})


VIDEO = Mirror(("videos:upsert",), _video)
TASK = Mirror(("tasks:upsert",), _task)

MIRRORS: dict[str, Mirror] = {
    "register_video": VIDEO,
    "save_plan": VIDEO,
    "add_llm_usage": VIDEO,  # the video's llmUsage total
    "save_scene_plan": VIDEO,  # its updatedAt: the plan's body is local (Convex has its version)
    "save_combined": VIDEO,
    "set_scene_status": Mirror(("scenes:setStatus",), _scene_status),
    "record_scene_version": Mirror(("scenes:recordVersion",), _new_version),
    "replace_scene_version": Mirror(("scenes:replaceVersion",), _replaced_version),
    "record_edit": Mirror(("scenes:recordEdit",), _edit),
    "create_task": Mirror(("videos:upsert", "tasks:upsert"), _new_task),
    "update_task": TASK,
    "start_task": TASK,
    "reopen_task": TASK,
    "delete_video": Mirror(("videos:remove",), _removed),  # the video and all its records
}

_JOIN = (
    "the pipeline's own coordination of its scene runs (a compare-and-set that must be atomic in "
    "the store those runs share); no fact about the video for apps"
)
_AGENT = (
    "the developers' agent endpoint's one-off renders belong to no task, video or scene; the "
    "bridge answers their polls from the local store, and Convex's schema has no table for them"
)
_WEBHOOK = (
    "the webhook outbox's own bookkeeping (which attempt is due, how it went), kept where the "
    "bridge's deliverer runs; apps read it through GET .../tasks/{id}/webhooks"
)
_PREVIEW = (
    "a running task's transient progress (progressive rendering), published by the bridge's status, "
    "events and webhooks; the finished version, preview object included, is mirrored by "
    "record_scene_version"
)
_BATCH = "a batch's bookkeeping of what it launched; each task it launches is mirrored itself (create_task)"

LOCAL_ONLY: dict[str, str] = {
    "claim_join": _JOIN,
    "release_join": _JOIN,
    "set_join_token": _JOIN,
    "create_agent_render": _AGENT,
    "finish_agent_render": _AGENT,
    "create_batch": _BATCH,
    "finish_batch": _BATCH,
    "record_scene_preview": _PREVIEW,
    "claim_delivery": _WEBHOOK,
    "record_delivery": _WEBHOOK,
}


# --- the methods, made from the protocol -------------------------------------------------------


def _reader(name: str) -> Callable[..., Any]:
    @functools.wraps(getattr(MetadataStore, name))
    def read(self: MirroredMetadataStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.inner, name)(*args, **kwargs)

    return read


def _writer(name: str, mirror: Mirror | None) -> Callable[..., Any]:
    signature = inspect.signature(getattr(MetadataStore, name))

    @functools.wraps(getattr(MetadataStore, name))
    def write(self: MirroredMetadataStore, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.inner, name)(*args, **kwargs)
        if mirror is not None:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            mirror.send(self, {k: v for k, v in bound.arguments.items() if k != "self"}, result)
        return result

    return write


def delegate_and_mirror(cls: type, mirrors: Mapping[str, Mirror], local_only: Mapping[str, str]) -> None:
    """Give `cls` every method of the protocol: readers delegate (unless `cls` defines them),
    writers delegate and then mirror. Raises TypeError for a writer in neither table."""
    missing = [w for w in WRITERS if w not in mirrors and w not in local_only]
    both = sorted(set(mirrors) & set(local_only))
    unknown = sorted((set(mirrors) | set(local_only)) - set(WRITERS))
    defined = sorted(w for w in WRITERS if w in vars(cls))
    if missing or both or unknown or defined:
        raise TypeError(
            f"{cls.__name__}: every MetadataWriter method needs exactly one entry in MIRRORS or "
            f"LOCAL_ONLY (missing: {missing}, in both: {both}, not writers: {unknown}; "
            f"defined as methods instead: {defined})"
        )
    for name in READERS:
        if name not in vars(cls):
            setattr(cls, name, _reader(name))
    for name in WRITERS:
        setattr(cls, name, _writer(name, mirrors.get(name)))


delegate_and_mirror(MirroredMetadataStore, MIRRORS, LOCAL_ONLY)


def open_metadata_store(
    sqlite_path: Path | str, convex_url: str | None = None, deploy_key: str | None = None,
    database_url: str | None = None,
) -> MetadataStore:
    """SQLite (PostgreSQL when `database_url` is given: cluster mode) alone, or mirrored to
    Convex when a deployment URL and key are given (the outbox then lives beside the store)."""
    inner: MetadataStore = (
        shared_postgres_store(database_url) if database_url else SqliteMetadataStore(sqlite_path)
    )
    if not convex_url:
        return inner
    if not deploy_key:
        raise ConvexError("CONVEX_DEPLOYMENT_URL is set but CONVEX_DEPLOY_KEY is not")
    outbox = (
        shared_postgres_outbox(database_url) if database_url
        else ConvexOutbox(Path(sqlite_path).with_name("convex_outbox.sqlite"))
    )
    client = ConvexClient(convex_url, deploy_key)
    # mypy takes the protocol's methods for abstract: they are made at import time, above.
    return MirroredMetadataStore(inner, client, outbox)  # type: ignore[abstract]

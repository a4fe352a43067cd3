"""The task event log and the webhook outbox in the metadata store: events appended in the
transaction of the change they report, in order, read after an id; an old store migrated."""

import sqlite3
import time

import pytest

from api_bridge.webhook_delivery import next_attempt, retry_policy, sign, verify
from videogen_dagster.pipeline.progress import advance, cancel, complete, fail
from videogen_dagster.settings import Settings
from videogen_dagster.stores.metastore import (
    DeliveryStatus,
    SceneStatus,
    SqliteMetadataStore,
    VideoBusy,
)
from videogen_dagster.stores.metastore import schema as store_schema

from .pg_server import BACKENDS, make_store

KEY = "demo.s1"
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(params=BACKENDS)
def meta(request, tmp_path):
    return make_store(request.param, request, tmp_path / "meta.sqlite")


def _generation(meta, task_id="t1", webhook_url=HOOK, scenes=2):
    """What a generation writes, as the pipeline's steps write it."""
    meta.create_task(task_id, "generate", "demo", "s1", KEY, scenes + 3, "preview", exclusive=True,
                     request={"content_prompt": "x"}, webhook_url=webhook_url)
    meta.start_task(task_id)
    advance(meta, task_id, 0, scenes + 3, "Planning scenes...", "planning")
    for n in range(1, scenes + 1):
        meta.set_scene_status(KEY, n, f"s1_scene_{n}", f"Scene {n}", SceneStatus.QUEUED)
    advance(meta, task_id, 1, scenes + 3, f"Planned {scenes} scenes; rendering...", "planned")
    for n in range(1, scenes + 1):
        meta.set_scene_status(KEY, n, f"s1_scene_{n}", f"Scene {n}", SceneStatus.RENDERING)
        assets = {k: {"key": f"projects/demo/s1/scenes/{n:02d}/v1/{k}"} for k in ("video", "thumbnail")}
        meta.record_scene_version(KEY, n, f"s1_scene_{n}", f"Scene {n}", 1, assets, 3.0, 1.0, "preview",
                                  task_id, "run")
        advance(meta, task_id, 1 + n, scenes + 3, f"Rendering scenes: {n} of {scenes} done", f"render_scene_{n}")
    advance(meta, task_id, scenes + 1, scenes + 3, "Combining scenes...", "combine")
    complete(meta, task_id, scenes + 3, "Video generation completed", {"completed_at": "2026-01-01T00:00:00Z"})


def test_a_generation_writes_every_step_in_order(meta):
    _generation(meta)
    events = meta.task_events("t1")
    assert [e.type for e in events] == [
        "task.queued", "task.progress", "task.progress", "scene.queued", "scene.queued", "task.progress",
        "scene.rendering", "scene.rendered", "task.progress", "scene.rendering", "scene.rendered",
        "task.progress", "task.progress", "task.completed",
    ]
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    rendered = [e for e in events if e.type == "scene.rendered"]
    assert rendered[0].data["version"] == 1 and rendered[0].data["scene_number"] == 1
    # Object keys are stored, never URLs (they expire): readers make the URLs.
    assert rendered[0].data["objects"]["video"] == "projects/demo/s1/scenes/01/v1/video"
    assert events[-1].data["status"] == "completed" and events[-1].data["progress"] == 100
    assert [e.data["current_step"] for e in events if e.type == "task.progress"] == [
        None, "planning", "planned", "render_scene_1", "render_scene_2", "combine"]


def test_reading_after_an_id_and_across_tasks(meta):
    _generation(meta)
    events = meta.task_events("t1")
    middle = events[5].id
    assert meta.task_events("t1", after_id=middle) == events[6:]
    assert meta.task_events("t1", after_id=middle, limit=2) == events[6:8]
    meta.create_task("other", "generate", "demo", "s2", "demo.s2", 4, "preview")
    everything = meta.events_after(0)
    assert [e.id for e in everything] == [*(e.id for e in events), everything[-1].id]
    assert everything[-1].task_id == "other" and meta.last_event_id() == everything[-1].id
    assert meta.events_after(everything[-1].id) == []


def test_nothing_is_written_for_a_change_that_did_not_happen(meta):
    _generation(meta)
    before = meta.task_events("t1")
    # A straggler's progress, a finished task's late writes, a refused second task.
    advance(meta, "t1", 2, 5, "Rendering scenes: 1 of 2 done", "render_scene_1")
    fail(meta, "t1", "scene 2", "too late", "Scene 2 failed")  # completed -> failed is a change...
    assert [e.type for e in meta.task_events("t1", before[-1].id)] == ["task.failed"]
    meta.create_task("t2", "generate", "demo", "s1", KEY, 4, "preview")
    meta.start_task("t2")
    with pytest.raises(VideoBusy):
        meta.create_task("t3", "generate", "demo", "s1", KEY, 4, "preview", exclusive=True)
    assert meta.task_events("t3") == []  # the refusal rolled the whole transaction back
    cancel(meta, "t2", "Task cancelled by user")
    cancel(meta, "t2", "Task cancelled by user")
    assert [e.type for e in meta.task_events("t2")] == ["task.queued", "task.progress", "task.cancelled"]
    # A cancelled task hears nothing more of its video's scenes.
    meta.set_scene_status(KEY, 1, "s1_scene_1", "Scene 1", SceneStatus.RENDERING)
    assert [e.type for e in meta.task_events("t2")][-1] == "task.cancelled"


def test_an_edit_hears_only_its_scene(meta):
    _generation(meta)
    meta.create_task("e2", "edit", "demo", "s1", KEY, 4, "preview", scene_id="s1_scene_2", exclusive=True)
    meta.create_task("e1", "edit", "demo", "s1", KEY, 4, "preview", scene_id="s1_scene_1", exclusive=True)
    meta.set_scene_status(KEY, 2, "s1_scene_2", "Scene 2", SceneStatus.RENDERING)
    meta.set_scene_status(KEY, 1, "s1_scene_1", "Scene 1", SceneStatus.RENDERING)
    meta.set_scene_status(KEY, 1, "s1_scene_1", "Scene 1", SceneStatus.COMPLETED)  # a failed edit restores it
    assert [e.type for e in meta.task_events("e2")] == ["task.queued", "scene.rendering"]
    assert [e.type for e in meta.task_events("e1")] == ["task.queued", "scene.rendering", "scene.restored"]
    assert meta.task_events("e1")[-1].data["version"] == 1


def test_the_outbox_gets_the_webhook_events_in_the_same_transaction(meta):
    _generation(meta)
    _generation(meta, "t9", webhook_url=None)  # no webhook: no delivery
    deliveries = meta.task_deliveries("t1")
    types = {e.id: e.type for e in meta.task_events("t1")}
    assert [types[d.event_id] for d in deliveries] == ["scene.rendered", "scene.rendered", "task.completed"]
    assert {d.url for d in deliveries} == {HOOK} and meta.task_deliveries("t9") == []
    assert all(d.status == DeliveryStatus.PENDING and d.attempts == 0 for d in deliveries)


def test_one_task_is_delivered_in_order(meta):
    _generation(meta)
    first, second, third = meta.task_deliveries("t1")
    now = time.time()
    assert [d.id for d in meta.due_deliveries(now)] == [first.id]  # only the oldest of a task
    assert meta.claim_delivery(first.id, first.next_attempt_at, now + 60)
    assert not meta.claim_delivery(first.id, first.next_attempt_at, now + 60)  # claimed once
    assert meta.due_deliveries(now) == []  # leased: the later ones wait behind it
    meta.record_delivery(first.id, False, 500, "HTTP 500", now + 5)
    assert meta.due_deliveries(now) == [] and [d.id for d in meta.due_deliveries(now + 5)] == [first.id]
    meta.record_delivery(first.id, True, 200, None, None)
    assert [d.id for d in meta.due_deliveries(now)] == [second.id]
    meta.record_delivery(second.id, False, None, "ConnectError", None)  # attempts spent: given up
    assert [d.id for d in meta.due_deliveries(now)] == [third.id]
    got = {d.id: d for d in meta.task_deliveries("t1")}
    assert (got[first.id].status, got[first.id].attempts, got[first.id].last_status) == ("delivered", 2, 200)
    assert got[first.id].delivered_at and got[second.id].status == "failed"


def test_deleting_the_video_removes_its_events_and_deliveries(meta):
    _generation(meta)
    meta.delete_video(KEY)
    assert meta.task_events("t1") == [] and meta.task_deliveries("t1") == []


def test_an_old_store_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(store_schema.SCHEMA + store_schema.EDITS_SCHEMA + store_schema.BATCHES_SCHEMA
                     + store_schema.AGENT_RENDERS_SCHEMA)  # a store made before events and webhooks
    db.execute("""INSERT INTO tasks (task_id, kind, project_id, session_id, video_key, status, created_at,
                  updated_at) VALUES ('old', 'generate', 'demo', 's1', 'demo.s1', 'progress', 'x', 'x')""")
    db.commit()
    db.close()
    meta = SqliteMetadataStore(path)
    assert meta.get_task("old").webhook_url is None and meta.task_events("old") == []
    complete(meta, "old", 4, "done", {"completed_at": "2026-01-01T00:00:00Z"})
    assert [e.type for e in meta.task_events("old")] == ["task.completed"]
    SqliteMetadataStore(path)  # opening it again changes nothing
    assert len(meta.events_after(0)) == 1


def test_signature_and_retry_schedule():
    secret, body = b"k" * 32, b'{"id":1}'
    header = sign(secret, body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify(secret, body, header, now=1_700_000_100)
    assert not verify(secret, body + b" ", header, now=1_700_000_100)  # body changed
    assert not verify(b"x" * 32, body, header, now=1_700_000_100)  # another secret
    assert not verify(secret, body, header, now=1_700_001_000)  # too old: a replay
    policy = retry_policy(Settings.from_env({}))
    waits = [next_attempt(policy, n, 0.0) for n in range(1, 26)]
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0] and max(w for w in waits if w) == 3600.0
    assert waits[-1] is None  # the 25th failed attempt is the last

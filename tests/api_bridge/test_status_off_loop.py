"""The status and result routes read a remote metadata store (PostgreSQL: a network round trip
each read) off the event loop, where it would hold up every other request; a local SQLite file
is read on the loop (under a millisecond a read, less than a thread-pool hop costs)."""

import asyncio
import threading

import httpx
import pytest

from api_bridge.dagster_client import RunInfo
from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from api_bridge.settings import Settings
from tests.api_bridge.test_routes import BASE, RecordingDagster
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

PREVIEW = {"version": 1, "key": "projects/p/s/scenes/01/v1/preview.mp4", "duration": 4.0, "width": 854,
           "height": 480, "fps": 15.0, "render_seconds": 1.5, "seconds": 1.8, "created_at": "2026-01-01T00:00:01Z"}


class ThreadRecordingStore:
    """The store, with the thread of every method call recorded."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls.append((name, threading.get_ident()))
            return attr(*args, **kwargs)

        return call


class KnowingDagster(RecordingDagster):
    """The run watch's view and a fresh health answer at hand: polls answered without asking."""

    def watch(self, task_id):
        return self.runs.get(task_id, [])

    def cached_health(self, max_age):
        return self.health()


@pytest.fixture(params=[RecordingDagster, KnowingDagster], ids=["dagster-asked", "dagster-known"])
def env(tmp_path, request):
    inner = SqliteMetadataStore(tmp_path / "metadata.sqlite")
    inner.remote = True  # as PostgresMetadataStore says of itself
    inner.register_video("p.s", "p", "s", {"render_config": {"quality": "preview"}})
    for task_id, status in (("running", "progress"), ("done", "completed"), ("broken", "progress")):
        inner.create_task(task_id, "generate", "p", "s", "p.s", 6, "preview")
        inner.start_task(task_id)
        inner.update_task(task_id, status=status, progress=100 if status == "completed" else 45)
    inner.set_scene_status("p.s", 1, "s_scene_1", "Intro", "rendering")
    inner.record_scene_preview("p.s", 1, PREVIEW)  # the running task lists a preview
    dagster = request.param()
    dagster.runs["broken"] = [RunInfo("r1", "scene_job", "FAILURE", "p.s/01")]  # fails it: a store write
    meta, store, settings = ThreadRecordingStore(inner), StoreConfig(local_root=str(tmp_path / "objects")), Settings()
    app = create_app()
    app.dependency_overrides.update({
        provide_meta: lambda: meta, provide_store: lambda: store, provide_dagster: lambda: dagster,
        provide_settings: lambda: settings,
    })
    return app, meta


async def _get(app, paths):
    loop_thread = threading.get_ident()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bridge") as client:
        answers = [(await client.get(p)) for p in paths]
    return loop_thread, answers


def test_status_and_result_read_the_store_off_the_event_loop(env):
    app, meta = env
    paths = [f"{BASE}/tasks/{t}/{route}" for t in ("running", "done", "broken", "missing") for route in ("status", "result")]
    loop_thread, answers = asyncio.run(_get(app, paths))
    assert [a.status_code for a in answers] == [200] * 6 + [404] * 2
    running, _, done, _, broken, broken_result, *_ = (a.json() for a in answers)
    assert running["status"] == "progress" and running["previews"][0]["scene_number"] == 1
    assert running["estimated_completion"] and done["status"] == "completed" and done["result"] is not None
    assert broken["status"] == "failed" and "r1" in broken["error"] and broken_result["status"] == "failed"
    used = {name for name, _ in meta.calls}
    assert {"get_task", "get_video", "render_history", "update_task"} <= used, used
    on_loop = sorted({name for name, thread in meta.calls if thread == loop_thread})
    assert on_loop == [], f"store calls on the event loop's thread: {on_loop}"


def test_a_local_sqlite_store_is_read_on_the_loop(env):
    app, meta = env
    meta.inner.remote = False  # SqliteMetadataStore's own answer
    assert not getattr(SqliteMetadataStore, "remote", False)
    loop_thread, answers = asyncio.run(_get(app, [f"{BASE}/tasks/running/status", f"{BASE}/tasks/done/result"]))
    assert [a.status_code for a in answers] == [200, 200]
    assert {thread for _, thread in meta.calls} == {loop_thread}

"""DELETE /api/v1/videos/{project_id}/{session_id}, with Dagster replaced through dependency
overrides (a fake that keeps partitions and runs); the real removal run is in test_e2e_removal.py."""

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from api_bridge.dagster_client import DagsterUnavailable
from api_bridge.dagster_videos import VideoRemovalFailed
from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from api_bridge.settings import Settings
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline import register_request
from videogen_dagster.removal import of_video
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

URL = "/api/v1/videos"


class FakeDagster:
    """Partitions and active runs the test sets; `remove_video` removes a video's partitions."""

    def __init__(self):
        self.partitions = {"videos": [], "scenes": []}
        self.active: list[tuple[str, str, str]] = []  # (run id, job, partition)
        self.removed: list[str] = []
        self.down = self.fail_removal = False

    def _check(self):
        if self.down:
            raise DagsterUnavailable("the Dagster webserver at http://127.0.0.1:1 is unreachable")

    def add(self, video_key, scenes):
        self.partitions["videos"].append(video_key)
        self.partitions["scenes"] += [f"{video_key}/{n:02d}" for n in range(1, scenes + 1)]

    def video_partitions(self, video_key):
        self._check()
        return {name: [k for k in keys if of_video(k, video_key)] for name, keys in self.partitions.items()}

    def active_video_runs(self, video_key):
        self._check()
        return [r for r in self.active if of_video(r[2], video_key)]

    def task_runs(self, task_id, max_age=0.0):
        self._check()
        return []

    def remove_video(self, video_key, timeout=120.0):
        self._check()
        if self.fail_removal:
            raise VideoRemovalFailed(f"video {video_key} has 1 run(s) queued or running in Dagster (run r9)", True)
        self.removed.append(video_key)
        self.partitions = {n: [k for k in keys if not of_video(k, video_key)] for n, keys in self.partitions.items()}
        return "removal-run"


@pytest.fixture
def env(tmp_path):
    app = create_app()
    meta = SqliteMetadataStore(tmp_path / "metadata.sqlite")
    store = StoreConfig(local_root=str(tmp_path / "objects"))
    dagster, settings = FakeDagster(), Settings()
    app.dependency_overrides.update({
        provide_meta: lambda: meta, provide_store: lambda: store, provide_dagster: lambda: dagster,
        provide_settings: lambda: settings,
    })
    return TestClient(app), meta, store, dagster, settings


def _video(meta, store, dagster, project="p1", session="s1", scenes=2, finished=True):
    """A video as a generation leaves it: records, partitions, objects under its prefix."""
    request = GenerateRequest.model_validate({"project_id": project, "session_id": session, "scene_count": scenes,
                                              "content_prompt": "Explain gravity"})
    task_id = f"t-{project}-{session}"
    register_request(meta, request, task_id)
    for n in range(1, scenes + 1):
        meta.record_scene_version(request.video_key, n, f"{session}_scene_{n}", f"Scene {n}", 1, {}, 3.0, 1.0,
                                  "preview", task_id, "r")
    if finished:
        meta.update_task(task_id, status="completed", progress=100, message="done")
    dagster.add(request.video_key, scenes)
    local = store.store_for(None)
    for name in ("plan/v1/plan.json", "scenes/01/v1/scene.mp4", "video/v1/combined.mp4"):
        local.put_bytes(f"projects/{project}/{session}/{name}", b"x")
    return task_id


def test_delete_removes_partitions_and_records_and_keeps_objects(env):
    client, meta, store, dagster, _ = env
    task_id = _video(meta, store, dagster)
    _video(meta, store, dagster, session="s2")
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partitions"] == {"videos": ["p1.s1"], "scenes": ["p1.s1/01", "p1.s1/02"]}
    assert body["records"] == {"videos": 1, "tasks": 1, "scenes": 2, "scene_versions": 2, "scene_edits": 0}
    assert body["objects"] is None and body["status"] == "deleted" and "objects are kept" in body["message"]
    assert dagster.removed == ["p1.s1"] and meta.get_video("p1.s1") is None
    # Its task is gone (404); its objects stay; the other video is untouched.
    assert client.get(f"/api/v1/video-generation/tasks/{task_id}/status").status_code == 404
    assert len(store.store_for(None).list_keys("projects/p1/s1/")) == 3
    assert meta.get_video("p1.s2") is not None and dagster.partitions["videos"] == ["p1.s2"]
    # Gone now: a second DELETE is 404.
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 404 and r.json()["error_code"] == "NOT_FOUND"


def test_delete_objects_deletes_every_object_of_the_video_only(env):
    client, meta, store, dagster, _ = env
    _video(meta, store, dagster)
    _video(meta, store, dagster, session="s10")  # a prefix of s1's is not s1's
    r = client.delete(f"{URL}/p1/s1", params={"delete_objects": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["objects"] == 3 and ", 3 object(s)" in r.json()["message"]
    local = store.store_for(None)
    assert local.list_keys("projects/p1/s1/") == [] and len(local.list_keys("projects/p1/s10/")) == 3


def test_unknown_video_bad_ids_and_another_projects_video(env):
    client, meta, store, dagster, settings = env
    _video(meta, store, dagster)
    assert client.delete(f"{URL}/p1/nope").status_code == 404
    r = client.delete(f"{URL}/p1/bad.id")
    assert r.status_code == 400 and r.json()["error_code"] == "VALIDATION_ERROR" and "session_id" in r.json()["detail"]
    r = client.delete(f"{URL}/p1/s1", params={"delete_objects": "maybe"})
    assert r.status_code == 400 and "delete_objects" in r.json()["detail"]
    settings.jwt_secret = "a-secret-long-enough-for-hs256-0123456789"

    def token(projects):
        return {"Authorization": "Bearer " + jwt.encode(
            {"sub": "u", "projects": projects, "exp": time.time() + 60}, settings.jwt_secret, algorithm="HS256")}

    assert client.delete(f"{URL}/p1/s1").status_code == 401
    r = client.delete(f"{URL}/p1/s1", headers=token(["other"]))
    assert r.status_code == 404 and meta.get_video("p1.s1") is not None
    assert client.delete(f"{URL}/p1/s1", headers=token(["p1"])).status_code == 200


def test_partitions_left_by_an_interrupted_removal_are_removed(env):
    """Records gone but partitions left (Dagster was down half-way): the video is still known."""
    client, meta, store, dagster, _ = env
    dagster.add("p1.s1", 1)
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 200 and r.json()["partitions"]["scenes"] == ["p1.s1/01"]
    assert r.json()["records"]["videos"] == 0


def test_refused_while_a_task_or_a_run_of_the_video_is_active(env):
    client, meta, store, dagster, _ = env
    task_id = _video(meta, store, dagster, finished=False)
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 409 and r.json()["error_code"] == "CONFLICT"
    assert task_id in r.json()["detail"] and "nothing deleted" in r.json()["detail"]
    assert meta.get_video("p1.s1") is not None and dagster.removed == []
    meta.update_task(task_id, status="completed", progress=100, message="done")
    dagster.active = [("r7", "scene_job", "p1.s1/02"), ("r8", "scene_job", "p1.s10/01")]
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 409 and "run r7" in r.json()["detail"] and meta.get_video("p1.s1") is not None
    # A run that starts after the check: the removal run refuses, 409 again.
    dagster.active, dagster.fail_removal = [], True
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 409 and "DELETE again" in r.json()["detail"]


def test_dagster_down_is_503_and_nothing_is_deleted(env):
    client, meta, store, dagster, _ = env
    _video(meta, store, dagster)
    dagster.down = True
    r = client.delete(f"{URL}/p1/s1")
    assert r.status_code == 503 and r.json()["error_code"] == "SERVICE_UNAVAILABLE" and "Dagster" in r.json()["detail"]
    assert meta.get_video("p1.s1") is not None

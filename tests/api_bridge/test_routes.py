"""Every endpoint's success and error paths, with Dagster replaced through dependency overrides."""

import re
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from api_bridge.dagster_client import DagsterUnavailable, RunInfo
from api_bridge.deps import provide_dagster, provide_meta, provide_settings, provide_store
from api_bridge.main import create_app
from api_bridge.settings import Settings
from videogen_dagster.stores.metastore import SqliteMetadataStore
from videogen_dagster.stores.objectstore import StoreConfig

BASE = "/api/v1/video-generation"


class RecordingDagster:
    """Records launches; answers run queries from a dict the test controls."""

    def __init__(self):
        self.partitions, self.launches, self.terminated = [], [], []
        self.runs: dict[str, list[RunInfo]] = {}
        self.down = False
        self.active: list[tuple[str, str | None]] = []

    def _check(self):
        if self.down:
            raise DagsterUnavailable("Dagster webserver at http://127.0.0.1:1 is unreachable")

    def add_video_partition(self, key):
        self._check()
        self.partitions.append(key)

    active_renders = 0
    renders = None  # (meta, stores, workdir): run agent renders as the run worker would

    def launch(self, job, tags, run_config=None):
        self._check()
        self.launches.append((job, tags, run_config))
        if job == "agent_render_job" and self.renders:
            from videogen_dagster.media.agent_render import render_posted_code
            from videogen_dagster.models import RenderConfig

            meta, stores, workdir = self.renders
            c = run_config["ops"]["render_posted_code_op"]["config"]
            render_posted_code(meta, stores, workdir, c["request_id"], c["code"], c["class_name"],
                               RenderConfig.model_validate(c["render_config"]))
        return f"run{len(self.launches)}"

    def count_active_runs(self, tag, value):
        self._check()
        return self.active_renders

    def run_status(self, run_id):
        return "SUCCESS"

    def watch(self, task_id):
        return None  # no background view: every poll asks `task_runs` (run_watch.py is tested apart)

    def forget(self, task_id):
        pass

    def task_runs(self, task_id, max_age=0.0):
        self._check()
        return self.runs.get(task_id, [])

    def active_runs_for_partition(self, partition):
        self._check()
        return self.active

    def terminate(self, run_ids):
        self.terminated += run_ids
        return run_ids

    daemon_down = False

    def health(self, max_age=0.0):
        if self.down:
            return {"dagster_webserver": "unreachable", "dagster_daemon": "unknown"}
        return {"dagster_webserver": None, "dagster_daemon": "the Dagster daemon is not running" if self.daemon_down else None}

    def cached_health(self, max_age):
        return None


@pytest.fixture
def env(tmp_path):
    app = create_app()
    meta = SqliteMetadataStore(tmp_path / "metadata.sqlite")
    store = StoreConfig(local_root=str(tmp_path / "objects"))
    dagster = RecordingDagster()
    dagster.renders = (meta, store, tmp_path / "work")
    settings = Settings()
    app.dependency_overrides.update({
        provide_meta: lambda: meta, provide_store: lambda: store, provide_dagster: lambda: dagster,
        provide_settings: lambda: settings,
    })
    return TestClient(app), meta, dagster, settings


def _generate(client, **extra):
    return client.post(f"{BASE}/generate", json={"project_id": "p1", "content_prompt": "Explain gravity", **extra})


def test_generate_registers_and_launches(env):
    client, meta, dagster, _ = env
    r = _generate(client, scene_count=2, session_id="s1")
    assert r.status_code == 202
    body = r.json()
    # The spec's accepted answer, plus `warnings` (issue 16): "gravity" is no bundled topic.
    assert set(body) == {"task_id", "project_id", "session_id", "status", "message", "estimated_duration_minutes",
                         "created_at", "warnings"}
    assert body["status"] == "queued" and body["session_id"] == "s1"
    assert body["estimated_duration_minutes"] > 0
    assert dagster.partitions == ["p1.s1"]
    job, tags, _ = dagster.launches[0]
    assert job == "plan_job" and tags["dagster/partition"] == "p1.s1"
    assert tags["videogen/task_id"] == body["task_id"]
    # What the run will do is on the run itself, for the Dagster UI's runs list.
    assert tags["videogen/prompt"] == "Explain gravity" and tags["videogen/scene_count"] == "2"
    assert tags["videogen/quality"] == "medium"
    assert meta.get_video("p1.s1").request["scene_count"] == 2


def test_generate_makes_a_session_id(env):
    client, *_ = env
    # Made from the prompt ("Explain gravity"), readable in the Dagster UI, unique.
    first, second = (_generate(client).json()["session_id"] for _ in range(2))
    assert re.fullmatch(r"gravity-[0-9a-f]{6}", first) and first != second


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"project_id": "p1", "content_prompt": "x", "scene_count": 0}, "scene_count"),
        ({"project_id": "p/1", "content_prompt": "x"}, "project_id"),
        ({"project_id": "p1"}, "content_prompt"),
        ({"project_id": "p1", "content_prompt": "x", "render_config": {"fps": 5}}, "render_config.fps"),
        ({"project_id": "p1", "content_prompt": "x", "render_config": {"quality": "ultra"}}, "render_config.quality"),
        ({"project_id": "p1", "content_prompt": "x", "narration_config": {"engine": "festival"}},
         "narration_config.engine: Input should be 'piper', 'espeak' or 'openai'"),
        ({"project_id": "p1", "content_prompt": "x", "narration_config": {"engine": "piper", "voice": "nova"}},
         "unknown piper voice 'nova'; piper voices: en_US-joe-medium"),
        ({"project_id": "p1", "content_prompt": "x", "narration_config": {"speed": 3}}, "narration_config.speed"),
        ({"project_id": "p1", "content_prompt": "x", "narration_config": {"language": "xx"}},
         "unknown language 'xx'; espeak languages: en-us"),
    ],
)
def test_validation_errors_are_400_with_the_field(env, payload, field):
    client, *_ = env
    r = client.post(f"{BASE}/generate", json=payload)
    assert r.status_code == 400
    body = r.json()
    assert body["error_code"] == "VALIDATION_ERROR" and field in body["detail"] and body["timestamp"]


def test_dagster_down_is_503_and_the_task_records_it(env):
    client, meta, dagster, _ = env
    dagster.down = True
    r = _generate(client, session_id="s9")
    assert r.status_code == 503 and r.json()["error_code"] == "SERVICE_UNAVAILABLE"


def test_status_and_result_before_and_after_completion(env):
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s1").json()["task_id"]
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert s["status"] == "queued" and s["progress"] == 0 and s["total_steps"] == 6
    assert s["estimated_completion"] and s["project_id"] == "p1" and s["result"] is None
    meta.update_task(task_id, status="progress", progress=45, message="Rendering scene 2 of 3...", current_step="render_scene_2")
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert (s["status"], s["progress"], s["message"]) == ("progress", 45, "Rendering scene 2 of 3...")
    r = client.get(f"{BASE}/tasks/{task_id}/result")
    assert r.status_code == 200
    assert r.json()["result"] is None and r.json()["status"] == "progress" and "45%" in r.json()["message"]


def test_failed_run_fails_the_task(env):
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s1").json()["task_id"]
    dagster.runs[task_id] = [RunInfo("r1", "scene_job", "FAILURE", "p1.s1/01")]
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert s["status"] == "failed" and "r1" in s["error"]


def test_unknown_task_is_404(env):
    client, *_ = env
    for method, path in (("get", "status"), ("get", "result")):
        r = getattr(client, method)(f"{BASE}/tasks/nope/{path}")
        assert r.status_code == 404 and r.json()["error_code"] == "NOT_FOUND"
    assert client.delete(f"{BASE}/tasks/nope").status_code == 404


def test_cancel_terminates_runs(env):
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s1").json()["task_id"]
    dagster.runs[task_id] = [RunInfo("r1", "plan_job", "SUCCESS", "p1.s1"), RunInfo("r2", "scene_job", "STARTED", "p1.s1/01")]
    r = client.delete(f"{BASE}/tasks/{task_id}")
    assert r.json() == {"task_id": task_id, "message": "Task cancellation requested", "status": "cancelled"}
    assert dagster.terminated == ["r2"]
    assert meta.get_task(task_id).status == "cancelled"
    assert client.delete(f"{BASE}/tasks/{task_id}").json()["message"] == "Task already cancelled"


def test_edit_scene_paths(env):
    client, meta, dagster, _ = env
    payload = {"scene_id": "s1_scene_2", "project_id": "p1", "edit_prompt": "make it blue"}
    assert client.post(f"{BASE}/edit-scene", json=payload).status_code == 404
    meta.register_video("p1.s1", "p1", "s1", {"project_id": "p1", "content_prompt": "x", "scene_count": 2})
    meta.record_scene_version("p1.s1", 2, "s1_scene_2", "T", 1, {}, 3.0, 1.0, "preview", None, None)
    r = client.post(f"{BASE}/edit-scene", json=payload)
    assert r.status_code == 202 and r.json()["scene_id"] == "s1_scene_2"
    job, tags, config = dagster.launches[-1]
    assert job == "scene_job" and tags["dagster/partition"] == "p1.s1/02"
    assert tags["videogen/scene_title"] == "T"
    assert config["ops"]["scene_assets"]["config"]["edit_prompt"] == "make it blue"
    # While that edit is queued or running, another edit of the same scene is refused.
    first = r.json()["task_id"]
    r = client.post(f"{BASE}/edit-scene", json=payload)
    assert r.status_code == 409 and first in r.json()["detail"]
    meta.update_task(first, status="completed")
    dagster.active = [("r9", None)]
    r = client.post(f"{BASE}/edit-scene", json=payload)
    assert r.status_code == 409 and "version 1" in r.json()["detail"]
    # A run whose task already completed is only finishing: the next edit is accepted at once.
    meta.create_task("done-task", "edit", "p1", "s1", "p1.s1", 4, "preview")
    meta.update_task("done-task", status="completed")
    dagster.active = [("r8", "done-task")]
    assert client.post(f"{BASE}/edit-scene", json=payload).status_code == 202
    meta.update_task("done-task", status="cancelled")  # a cancelled run may still be stopping
    assert client.post(f"{BASE}/edit-scene", json=payload).status_code == 409
    bad = client.post(f"{BASE}/edit-scene", json={**payload, "scene_id": "nonsense"})
    assert bad.status_code == 400 and "scene_id" in bad.json()["detail"]


def test_health(env):
    client, meta, dagster, _ = env
    r = client.get(f"{BASE}/health")
    assert r.status_code == 200 and r.json()["status"] == "healthy" and r.json()["service"] == "video-generation"
    dagster.down = True
    r = client.get(f"{BASE}/health")
    assert r.status_code == 503 and r.json()["status"] == "unhealthy" and "dagster_webserver" in r.json()["message"]


def test_a_dead_daemon_makes_health_503_and_status_say_why(env):
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s1").json()["task_id"]
    dagster.daemon_down = True
    r = client.get(f"{BASE}/health")
    assert r.status_code == 503 and "dagster_daemon" in r.json()["message"]
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert s["status"] == "queued" and "waiting: the Dagster daemon is not running" in s["message"]
    assert s["estimated_completion"] is None
    dagster.daemon_down, dagster.down = False, True
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert "waiting:" in s["message"] and "unreachable" in s["message"] and s["estimated_completion"] is None


def test_a_video_being_generated_or_edited_refuses_another_generate(env):
    client, meta, dagster, _ = env
    first = _generate(client, session_id="s1")
    assert first.status_code == 202
    r = _generate(client, session_id="s1", content_prompt="Explain light")
    assert r.status_code == 409 and r.json()["error_code"] == "CONFLICT"
    assert first.json()["task_id"] in r.json()["detail"]
    # The refused request changed nothing: the stored request is still the first one.
    assert meta.get_video("p1.s1").request["content_prompt"] == "Explain gravity"
    # A batch naming the busy video, or one video twice, is refused whole.
    r = client.post(f"{BASE}/batch", json=[{"project_id": "p1", "content_prompt": "x", "session_id": "s1"}])
    assert r.status_code == 409
    r = client.post(f"{BASE}/batch", json=[{"project_id": "p1", "content_prompt": "x", "session_id": "b1"}] * 2)
    assert r.status_code == 409 and "more than once" in r.json()["detail"]
    # A blocking task whose run failed unnoticed is settled with Dagster, and blocks nothing.
    dagster.runs[first.json()["task_id"]] = [RunInfo("r1", "plan_job", "FAILURE", "p1.s1")]
    second = _generate(client, session_id="s1", content_prompt="Explain light")
    assert second.status_code == 202
    assert meta.get_task(first.json()["task_id"]).status == "failed"
    # An edit of the video while it is generated: 409 too.
    meta.record_scene_version("p1.s1", 1, "s1_scene_1", "T", 1, {}, 3.0, 1.0, "preview", None, None)
    r = client.post(f"{BASE}/edit-scene", json={"scene_id": "s1_scene_1", "project_id": "p1", "edit_prompt": "blue"})
    assert r.status_code == 409 and second.json()["task_id"] in r.json()["detail"]


def test_internal_errors_have_no_stack_trace(env):
    client, meta, dagster, _ = env
    client.app.dependency_overrides[provide_meta] = lambda: (_ for _ in ()).throw(RuntimeError("secret path /x"))
    client = TestClient(client.app, raise_server_exceptions=False)
    r = client.get(f"{BASE}/tasks/x/status")
    assert r.status_code == 500 and r.json()["error_code"] == "INTERNAL_ERROR"
    assert "secret" not in r.text and "Traceback" not in r.text


def test_jwt_scopes_projects(env):
    client, meta, dagster, settings = env
    settings.jwt_secret = "s3cret"
    assert client.get(f"{BASE}/health").status_code == 200  # health stays open
    assert _generate(client).status_code == 401

    def token(projects):
        return jwt.encode({"sub": "u", "projects": projects, "exp": time.time() + 60}, "s3cret", algorithm="HS256")

    a = {"Authorization": f"Bearer {token(['p1'])}"}
    b = {"Authorization": f"Bearer {token(['p2'])}"}
    r = client.post(f"{BASE}/generate", headers=a, json={"project_id": "p1", "content_prompt": "Explain x"})
    assert r.status_code == 202
    task_id = r.json()["task_id"]
    assert client.get(f"{BASE}/tasks/{task_id}/status", headers=a).status_code == 200
    assert client.get(f"{BASE}/tasks/{task_id}/status", headers=b).status_code == 404
    assert client.post(f"{BASE}/generate", headers=b, json={"project_id": "p1", "content_prompt": "x"}).status_code == 404
    bad = {"Authorization": "Bearer not-a-jwt"}
    assert client.get(f"{BASE}/tasks/{task_id}/status", headers=bad).json()["error_code"] == "UNAUTHORIZED"


def test_agents_plan_and_code(env):
    client, *_ = env
    plan = client.post("/api/v1/video/agents/plan", json={"project_id": "p1", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 3})
    assert plan.status_code == 200 and len(plan.json()["scenes"]) == 3
    code = client.post("/api/v1/video/agents/code", json={"scene_plan": plan.json()["scenes"][1], "max_scene_duration": 8})
    assert code.status_code == 200 and "class Scene02(Scene)" in code.json()["code"]


def test_openapi_docs(env):
    client, *_ = env
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert f"{BASE}/tasks/{{task_id}}/status" in paths and f"{BASE}/generate" in paths


def test_failed_task_result_is_partial_and_retry_reruns_only_failed(env):
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s1", scene_count=2).json()["task_id"]
    plan = {"project_id": "p1", "session_id": "s1", "prompt": "x", "topic": "x", "scene_count": 2,
            "scenes": [{"scene_number": n, "title": f"T{n}", "kind": "points", "narration": ["a"]} for n in (1, 2)]}
    meta.save_plan("p1.s1", plan, 1, {})
    meta.record_scene_version("p1.s1", 1, "s1_scene_1", "T1", 1,
                              {"video": {"key": "projects/p1/s1/scenes/01/v1/scene.mp4"}}, 3.0, 1.0, "preview", task_id, None)
    meta.set_scene_status("p1.s1", 2, "s1_scene_2", "T2", "failed", error="manim exited with code 1")
    meta.update_task(task_id, status="failed", error="scene 2: manim exited with code 1")

    r = client.get(f"{BASE}/tasks/{task_id}/result").json()
    assert r["status"] == "failed" and "retry" in r["message"]
    s1, s2 = r["result"]["scenes"]
    assert s1["status"] == "completed" and s1["s3_video_url"].endswith("scenes/01/v1/scene.mp4")
    assert s2["status"] == "failed" and s2["error"] == "manim exited with code 1"

    r = client.post(f"{BASE}/tasks/{task_id}/retry")
    assert r.status_code == 202 and r.json()["scenes"] == [2]
    job, tags, _ = dagster.launches[-1]
    assert job == "scene_job" and tags["dagster/partition"] == "p1.s1/02" and tags["videogen/task_id"] == task_id
    assert meta.get_task(task_id).status == "progress" and meta.get_task(task_id).error is None
    again = client.post(f"{BASE}/tasks/{task_id}/retry")
    assert again.status_code == 409 and "only a failed task" in again.json()["detail"]


@pytest.mark.slow
def test_agents_render_confined_and_refusals(env):
    client, *_ = env
    code = "from manim import *\n\n\nclass Dot1(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n"
    r = client.post("/api/v1/video/agents/render", json={"code": code})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["class_name"] == "Dot1" and body["width"] == 854 and body["video_url"].startswith("file://")
    bad = client.post("/api/v1/video/agents/render", json={"code": "import os\nos.system('id')\n"})
    assert bad.status_code == 400 and "line 1: import of 'os' is not allowed" in bad.json()["detail"]
    broken = client.post("/api/v1/video/agents/render", json={"code": code.replace("Dot()", "Dott()")})
    assert broken.status_code == 400 and broken.json()["error_code"] == "RENDER_ERROR"


def test_agents_render_shares_the_render_cap(env):
    client, meta, dagster, settings = env
    code = "from manim import *\n\n\nclass Dot1(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()))\n"
    dagster.active_renders = settings.scene_concurrency
    dagster.renders = None
    r = client.post("/api/v1/video/agents/render", json={"code": code})
    assert r.status_code == 429 and r.json()["error_code"] == "RATE_LIMITED"
    assert int(r.headers["Retry-After"]) >= 1 and "render slots are busy" in r.json()["detail"]
    assert dagster.launches == []
    dagster.active_renders = settings.scene_concurrency - 1
    dagster.renders = (meta, None, None)  # launched: the run's record decides the answer

    def launched_and_failed(job, tags, run_config=None):
        dagster.launches.append((job, tags, run_config))
        c = run_config["ops"]["render_posted_code_op"]["config"]
        meta.finish_agent_render(c["request_id"], "failed", error="manim exited with code 1", log="NameError")
        return "r1"

    dagster.launch = launched_and_failed
    r = client.post("/api/v1/video/agents/render", json={"code": code})
    assert r.status_code == 400 and "manim exited with code 1" in r.json()["detail"]
    job, tags, _ = dagster.launches[0]
    assert job == "agent_render_job" and tags["videogen/kind"] == "scene"


def test_agents_fix_needs_an_llm(env, monkeypatch):
    client, *_ = env
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("VIDEOGEN_MODELS_FILE", raising=False)
    r = client.post("/api/v1/video/agents/fix", json={"code": "class A(Scene): pass", "error": "boom"})
    assert r.status_code == 503 and "OPENAI_API_KEY" in r.json()["detail"]


def test_agents_fix_with_an_llm(env, monkeypatch):
    from tests.fake_openai import FakeOpenAI

    client, *_ = env
    fake = FakeOpenAI()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        fake.script = {"helper": ["```python\nfrom manim import *\n\n\nclass A(Scene):\n    def construct(self):\n        self.wait(1)\n```"]}
        r = client.post("/api/v1/video/agents/fix", json={"code": "from manim import *\nclass A(Scene):\n    def construct(self):\n        self.wiat(1)\n", "error": "AttributeError: wiat"})
        assert r.status_code == 200, r.text
        assert "self.wait(1)" in r.json()["code"] and fake.roles() == ["helper"]
        assert "AttributeError: wiat" in fake.requests[0]["messages"][1]["content"]
    finally:
        fake.close()


def test_bulk_endpoint(env):
    client, meta, dagster, _ = env
    good = {"project_id": "p1", "content_prompt": "Explain x", "scene_count": 1}
    r = client.post(f"{BASE}/batch", json=[good, {**good, "content_prompt": "Explain y"}])
    assert r.status_code == 202, r.text
    body = r.json()
    assert [t["index"] for t in body["tasks"]] == [0, 1]
    batch_tags = [tags for job, tags, _ in dagster.launches]
    assert all(t["videogen/batch"] == body["batch_id"] and t["dagster/priority"] == "-1" for t in batch_tags)
    status = client.get(f"{BASE}/batches/{body['batch_id']}").json()
    assert status["status"] == "running" and status["counts"] == {"queued": 2}
    for t in body["tasks"]:
        meta.update_task(t["task_id"], status="failed", error="boom")
    status = client.get(f"{BASE}/batches/{body['batch_id']}").json()
    assert status["status"] == "done" and status["counts"] == {"failed": 2}
    assert status["entries"][0]["error"] == "boom"

    bad = client.post(f"{BASE}/batch", json=[good, {**good, "scene_count": 0}])
    assert bad.status_code == 400 and "1.scene_count" in bad.json()["detail"]
    assert client.post(f"{BASE}/batch", json=[]).status_code == 400
    assert client.get(f"{BASE}/batches/nope").status_code == 404


def test_store_errors_map_to_codes_by_type(env):
    from videogen_dagster.stores.metastore.errors import Conflict, NotFound, Unavailable

    client, *_ = env
    app = client.app
    for exc, code in ((NotFound("no such video"), 404), (Conflict("newer version"), 409),
                      (Unavailable("Convex down"), 503)):
        app.dependency_overrides[provide_meta] = lambda exc=exc: (_ for _ in ()).throw(exc)
        r = TestClient(app, raise_server_exceptions=False).get(f"{BASE}/tasks/x/status")
        assert r.status_code == code and r.json()["detail"] == str(exc), r.text


def test_generate_says_hardware_acceleration_is_not_used(env, monkeypatch):
    from videogen_dagster.media import hwaccel

    monkeypatch.setattr(hwaccel, "hardware_encoder", lambda: None)
    client, *_ = env
    r = _generate(client, session_id="hw", render_config={"quality": "preview", "use_hardware_acceleration": True})
    assert r.status_code == 202
    assert any("use_hardware_acceleration" in w and "libx264" in w for w in r.json()["warnings"])

"""GET /metrics: the pipeline's figures read from the metadata store at scrape time (exact counts
of a store with known tasks and scenes), error types, Dagster's run counts or its absence, the
bridge's HTTP figures, and an exposition Prometheus' own parser reads."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api_bridge.dagster_client import DagsterClient
from api_bridge.metrics import RUN_STATUSES, VideogenCollector
from videogen_dagster.observability.error_types import classify_error
from videogen_dagster.stores.metastore import SqliteMetadataStore


def _obj(key: str, size: int) -> dict:
    return {"key": key, "uri": f"file:///x/{key}", "sha256": "0" * 64, "bytes": size, "content_type": "x"}


def _scene_assets(video: str, n: int, v: int) -> dict:
    base = f"projects/{video}/scenes/{n:02d}/v{v}"
    return {k: _obj(f"{base}/{k}", 100) for k in ("source", "video", "thumbnail", "subtitles")}


@pytest.fixture
def store(tmp_path):
    """Two videos: p.a generated (2 scenes, one narrated, then one edit) and p.b failed in
    scene 2's render; five more tasks that failed or were cancelled in known ways."""
    meta = SqliteMetadataStore(tmp_path / "metadata.sqlite")
    for key in ("p.a", "p.b"):
        meta.create_task(f"gen-{key}", "generate", "p", key[2:], key, 4, "preview", request={"project_id": "p"})
    meta.save_plan("p.a", {"scene_count": 2}, 1, _obj("projects/p/a/plan/v1/plan.json", 50))
    narration = {"narration": {"duration": 2.5, "synthesized": 2, "cached": 1}}
    for n, seconds, extra in ((1, 4.0, narration), (2, 12.0, None)):
        meta.record_scene_version("p.a", n, f"s{n}", f"Scene {n}", 1, _scene_assets("p/a", n, 1), 3.0, seconds,
                                  "preview", "gen-p.a", "run1", extra=extra)
    meta.save_combined("p.a", 1, {"version": 1, "video": _obj("projects/p/a/video/v1/combined.mp4", 1000),
                                  "manifest": _obj("projects/p/a/video/v1/manifest.json", 10)}, 6.0)
    meta.add_llm_usage("p.a", {"calls": 3, "prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                               "cost_usd": 0.0125})
    meta.update_task("gen-p.a", status="completed", progress=100,
                     result={"generation_time_seconds": 20.0, "scene_count": 2})
    meta.create_task("edit-1", "edit", "p", "a", "p.a", 3, "preview", scene_id="s1")
    meta.record_scene_version("p.a", 1, "s1", "Scene 1", 2, _scene_assets("p/a", 1, 2), 3.0, 61.0, "preview",
                              "edit-1", "run2", edit_prompt="make it blue")
    meta.update_task("edit-1", status="completed", progress=100,
                     result={"generation_time_seconds": 5.0, "scene_count": 2})

    meta.set_scene_status("p.b", 1, "s1", "Scene 1", "completed")
    meta.set_scene_status("p.b", 2, "s2", "Scene 2", "failed",
                          error="scene 2 failed after 2 attempt(s): manim exited with code 1 rendering Scene02\n"
                                "Traceback ... S3 upload timed out in the log tail")
    meta.update_task("gen-p.b", status="failed", error="scene 2: scene 2 failed after 2 attempt(s): manim exited")
    failures = {
        "f-storage": "plan: S3 upload of key 'x' in bucket 'b' at http://h failed after 5 attempt(s) (read timeout)",
        "f-llm": "plan: token budget of 50 would be exceeded: 0 used, the next call may take 4159",
        "f-timeout": "scene 1: render of Scene01 exceeded the 60s wall-clock limit",
        "f-narration": "scene 1: the narration takes 13.5s to speak (with pauses) and the scene may last 3s",
        "f-other": "the Dagster webserver at http://127.0.0.1:1 is unreachable (connection refused)",
    }
    for task_id, error in failures.items():
        meta.create_task(task_id, "generate", "p", task_id, f"p.{task_id}", 4, "preview")
        meta.update_task(task_id, status="failed", error=error)
    meta.create_task("c-1", "edit", "p", "a", "p.a", 3, "preview", scene_id="s2")
    meta.update_task("c-1", status="cancelled", message="Task cancelled")
    meta.create_task("q-1", "generate", "p", "q", "p.q", 4, "preview")
    return tmp_path / "metadata.sqlite"


def _scrape(collector) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _get(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def _dagster(handler) -> DagsterClient:
    return DagsterClient("127.0.0.1", 1, "videogen_dagster", transport=httpx.MockTransport(handler))


def _counts(request: httpx.Request) -> httpx.Response:
    query = json.loads(request.content)["query"]
    assert "statuses: [QUEUED]" in query
    counts = {"QUEUED": 4, "STARTED": 3, "SUCCESS": 7}
    return httpx.Response(200, json={"data": {
        s.lower(): {"__typename": "Runs", "count": counts.get(s, 0)} for s in RUN_STATUSES}})


def test_collector_counts_what_the_store_holds(store):
    m = _scrape(VideogenCollector(lambda: store, lambda: _dagster(_counts)))
    assert _get(m, "videogen_metadata_store_up") == 1
    assert _get(m, "videogen_tasks", kind="generate", status="completed") == 1
    assert _get(m, "videogen_tasks", kind="generate", status="failed") == 6
    assert _get(m, "videogen_tasks", kind="generate", status="queued") == 1
    assert _get(m, "videogen_tasks", kind="edit", status="completed") == 1
    assert _get(m, "videogen_tasks", kind="edit", status="cancelled") == 1
    assert _get(m, "videogen_tasks", kind="edit", status="progress") == 0
    assert _get(m, "videogen_task_completion_ratio", kind="generate") == pytest.approx(1 / 7)
    assert _get(m, "videogen_task_completion_ratio", kind="edit") == pytest.approx(0.5)
    expected = {"render": 1, "storage": 1, "llm": 1, "timeout": 1, "narration": 1, "other": 1, "cancelled": 0}
    for error_type, n in expected.items():
        assert _get(m, "videogen_task_errors", kind="generate", error_type=error_type) == n, error_type
    assert _get(m, "videogen_task_errors", kind="edit", error_type="cancelled") == 1
    # Scenes now: p.a's two (completed by their versions), p.b's completed one and failed one.
    assert _get(m, "videogen_scenes", status="completed") == 3
    assert _get(m, "videogen_scenes", status="failed") == 1
    assert _get(m, "videogen_scene_errors", error_type="render") == 1  # not the log tail's words
    # Three renders: 4 s, 12 s, 61 s.
    assert _get(m, "videogen_scene_render_seconds_count", quality="preview") == 3
    assert _get(m, "videogen_scene_render_seconds_sum", quality="preview") == pytest.approx(77.0)
    assert _get(m, "videogen_scene_render_seconds_bucket", quality="preview", le="5.0") == 1
    assert _get(m, "videogen_scene_render_seconds_bucket", quality="preview", le="20.0") == 2
    assert _get(m, "videogen_scene_render_seconds_bucket", quality="preview", le="60.0") == 2
    assert _get(m, "videogen_scene_render_seconds_bucket", quality="preview", le="+Inf") == 3
    assert _get(m, "videogen_scene_video_seconds_total", quality="preview") == pytest.approx(9.0)
    # Generation time: 20 s for 2 scenes, an edit 5 s for its one scene.
    assert _get(m, "videogen_task_generation_seconds_count", kind="generate") == 1
    assert _get(m, "videogen_task_generation_seconds_sum", kind="generate") == 20.0
    assert _get(m, "videogen_generation_seconds_per_scene", kind="generate") == 10.0
    assert _get(m, "videogen_generation_seconds_per_scene", kind="edit") == 5.0
    assert _get(m, "videogen_task_generated_scenes_total", kind="edit") == 1
    assert _get(m, "videogen_llm_calls_total") == 3
    assert _get(m, "videogen_llm_tokens_total", type="prompt") == 1000
    assert _get(m, "videogen_llm_tokens_total", type="completion") == 200
    assert _get(m, "videogen_llm_cost_usd_total") == pytest.approx(0.0125)
    assert _get(m, "videogen_narration_seconds_total") == 2.5
    assert _get(m, "videogen_narrated_scenes_total") == 1
    assert _get(m, "videogen_narration_lines_total", source="synthesized") == 2
    assert _get(m, "videogen_narration_lines_total", source="cached") == 1
    # Objects: 3 scene versions x 4 files, the joined video and manifest, the plan.
    assert _get(m, "videogen_objects_stored_total", kind="scene_video") == 3
    assert _get(m, "videogen_objects_stored_bytes_total", kind="scene_source") == 300
    assert _get(m, "videogen_objects_stored_total", kind="combined_video") == 1
    assert _get(m, "videogen_objects_stored_bytes_total", kind="combined_video") == 1000
    assert _get(m, "videogen_objects_stored_total", kind="plan") == 1
    assert _get(m, "videogen_object_upload_success_ratio") == pytest.approx(15 / 16)
    assert not any(name.startswith("videogen_convex") for name, _ in m)  # no Convex mirror
    # Dagster's run storage.
    assert _get(m, "videogen_dagster_up") == 1
    assert _get(m, "videogen_queue_depth") == 4
    assert _get(m, "videogen_dagster_runs", status="started") == 3
    assert _get(m, "videogen_dagster_runs", status="success") == 7


def test_a_dagster_or_store_that_cannot_be_read_is_a_gauge_not_a_failed_scrape(tmp_path):
    def down(request):
        raise httpx.ConnectError("connection refused", request=request)

    m = _scrape(VideogenCollector(lambda: tmp_path / "missing.sqlite", lambda: _dagster(down)))
    assert _get(m, "videogen_dagster_up") == 0 and _get(m, "videogen_metadata_store_up") == 0
    assert not any(name in ("videogen_queue_depth", "videogen_tasks") for name, _ in m)


def test_reads_are_cached_for_a_scrape_storm(store):
    calls = []

    def counting(request):
        calls.append(1)
        return _counts(request)

    collector = VideogenCollector(lambda: store, lambda: _dagster(counting), max_age=60)
    for _ in range(20):
        _scrape(collector)
    assert len(calls) == 1


@pytest.mark.parametrize("message,status,expected", [
    ("scene 2 failed after 1 attempt(s): manim exited with code 1 rendering Scene02", "failed", "render"),
    ("edit of scene 1: scene 1 failed after 1 attempt(s): manim exited with code 1", "failed", "render"),
    ("render of Scene01 exceeded the 120s wall-clock limit", "failed", "timeout"),
    ("plan: S3 upload of key 'k' in bucket 'b' failed after 1 attempt(s) (S3_MAX_ATTEMPTS=1)", "failed", "storage"),
    ("object folder /x is not writable", "failed", "storage"),
    ("plan: the planner's answer is not a valid plan after a repair attempt", "failed", "llm"),
    ("gpt-4o unavailable after 4 attempts: Request timed out.", "failed", "llm"),
    ("plan: no LLM provider is configured (set OPENAI_API_KEY)", "failed", "llm"),
    ("the narration could not be spoken: espeak-ng is not installed", "failed", "narration"),
    ("scene 2 of unit.s1 has no rendered version to edit", "failed", "other"),
    ("run r1 (scene_job, p1.s1/01) failed", "failed", "other"),
    ("", "failed", "other"),
    (None, "failed", "other"),
    ("anything at all", "cancelled", "cancelled"),
])
def test_error_types(message, status, expected):
    assert classify_error(message, status) == expected


def test_bridge_serves_metrics_with_its_own_http_figures(store, monkeypatch):
    from api_bridge.main import create_app
    from api_bridge.settings import get_settings

    monkeypatch.setenv("VIDEOGEN_VAR_DIR", str(store.parent))
    monkeypatch.setenv("DAGSTER_PORT", "1")  # nothing listens: Dagster reads as down
    get_settings.cache_clear()
    try:
        client = TestClient(create_app())
        assert client.get("/api/v1/video-generation/tasks/nope/status").status_code in (401, 404)
        r = client.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        assert "videogen_tasks" in families and "videogen_http_requests" in families
        requests = [s for s in families["videogen_http_requests"].samples
                    if s.labels["route"] == "/api/v1/video-generation/tasks/{task_id}/status"]
        # The registry is the process's: other tests' requests may be counted too.
        assert any(s.labels["method"] == "GET" and s.value >= 1 for s in requests)
        assert any(s.name == "videogen_http_request_duration_seconds_count"
                   for s in families["videogen_http_request_duration_seconds"].samples)
        assert "/metrics" not in client.get("/openapi.json").json()["paths"]
    finally:
        get_settings.cache_clear()

"""/metrics after a real generation through a real stack (webserver, daemon, bridge; scenes
rendered in run workers forked by the warm launcher): the counts of what happened in those
other processes, and the structured log lines they wrote."""

import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api_bridge.conftest import BASE, start_stack
from tests.api_bridge.conftest import token as _token

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("var"))
    try:
        yield s
    finally:
        s.stop()


def _metrics(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples}


def _get(m, name, **labels):
    return m.get((name, tuple(sorted(labels.items()))))


def _json_lines(paths) -> list[dict]:
    found = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
    return found


def test_metrics_count_a_real_generation_made_in_run_workers(live):
    client, a = live.client(30), _token(["proj_m"])
    before = _metrics(client)
    assert _get(before, "videogen_dagster_up") == 1 and _get(before, "videogen_metadata_store_up") == 1
    r = client.post(f"{BASE}/generate", headers=a, json={
        "project_id": "proj_m", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 2,
        "render_config": {"quality": "preview", "max_scene_duration": 3},
    })
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    deadline = time.monotonic() + 240
    while (status := client.get(f"{BASE}/tasks/{task_id}/status", headers=a).json())["status"] not in (
            "completed", "failed", "cancelled"):
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "completed", status
    time.sleep(2.5)  # past the collector's cache (2 s)

    m = _metrics(client)
    assert _get(m, "videogen_tasks", kind="generate", status="completed") == 1
    assert _get(m, "videogen_tasks", kind="generate", status="failed") == 0
    assert _get(m, "videogen_task_completion_ratio", kind="generate") == 1.0
    assert _get(m, "videogen_scenes", status="completed") == 2
    # Rendered in the run workers, counted here from what they recorded.
    assert _get(m, "videogen_scene_render_seconds_count", quality="preview") == 2
    assert _get(m, "videogen_scene_render_seconds_sum", quality="preview") > 0
    assert _get(m, "videogen_scene_video_seconds_total", quality="preview") > 0
    assert _get(m, "videogen_objects_stored_total", kind="scene_video") == 2
    assert _get(m, "videogen_objects_stored_total", kind="combined_video") == 1
    assert _get(m, "videogen_task_generation_seconds_count", kind="generate") == 1
    assert _get(m, "videogen_generation_seconds_per_scene", kind="generate") > 0
    assert _get(m, "videogen_llm_calls_total") == 0  # the offline planner calls no LLM
    assert _get(m, "videogen_narration_seconds_total") == 0  # narration is off in tests
    assert _get(m, "videogen_dagster_up") == 1 and _get(m, "videogen_queue_depth") == 0
    assert _get(m, "videogen_dagster_runs", status="success") >= 2  # the plan run and a scene run
    assert _get(m, "videogen_http_requests_total", method="POST",
                route=f"{BASE}/generate", status="202") == 1

    # The run workers' JSON lines (Dagster keeps each step's stderr as its compute log) carry
    # the task, run, video and scene ids; the bridge's carry the task id of the request.
    worker_lines = [line for line in _json_lines(live.var.rglob("*.err")) if line.get("task_id") == task_id]
    finished = {(line["step"], line.get("scene")) for line in worker_lines if line["event"] == "step finished"}
    assert finished >= {("scene_plan", None), ("scene_assets", 1), ("scene_assets", 2)}, worker_lines
    assert all(line["run_id"] and line["video_key"].startswith("proj_m.") for line in worker_lines)
    rendered = [line for line in worker_lines if line["event"] == "scene rendered"]
    assert sorted(line["scene"] for line in rendered) == [1, 2] and all(line["render_seconds"] > 0 for line in rendered)
    assert client.get(f"{BASE}/tasks/{task_id}/result", headers=a).status_code == 200
    time.sleep(0.5)
    bridge = [line for line in _json_lines([live.var / "servers.log"]) if "logger" in line]
    assert bridge and all(list(line)[:4] == ["timestamp", "level", "logger", "event"] for line in bridge)
    assert any(line.get("event") == "request" and line.get("task_id") == task_id for line in bridge)
    assert any(line.get("event") == "request" and line.get("route") == f"{BASE}/generate"
               and line.get("status") == 202 for line in bridge)

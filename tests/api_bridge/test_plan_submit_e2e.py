"""With the chain sensor stopped, a generation through the bridge still completes: the plan run
submits its scene runs itself (videogen_dagster/plan_submit.py) to the daemon's run queue."""

import time

import httpx
import pytest

from tests.api_bridge.conftest import BASE, start_stack, token

pytestmark = pytest.mark.slow

SENSOR = """query { sensorOrError(sensorSelector: {repositoryName: "__repository__",
  repositoryLocationName: "videogen_dagster", sensorName: "video_chain_sensor"}) {
  __typename ... on Sensor { id sensorState { status } } } }"""
STOP = """mutation($id: String) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } } } }"""
RUNS = """query($v: String!) { runsOrError(filter: {tags: [{key: "videogen/task_id", value: $v}]}) {
  ... on Runs { results { runId jobName status tags { key value } } } } }"""


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    body = httpx.post(url, json={"query": query, "variables": variables or {}}, timeout=30).json()
    assert "errors" not in body, body
    return body["data"]


def test_generation_completes_with_the_chain_sensor_stopped(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("var"))
    try:
        sensor = _gql(s.graphql, SENSOR)["sensorOrError"]
        stopped = _gql(s.graphql, STOP, {"id": sensor["id"]})["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped
        a = token(["proj_a"])
        with s.client(30) as client:
            r = client.post(f"{BASE}/generate", headers=a, json={
                "project_id": "proj_a", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 2,
                "render_config": {"quality": "preview"}})
            assert r.status_code == 202, r.text
            task_id = r.json()["task_id"]
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                status = client.get(f"{BASE}/tasks/{task_id}/status", headers=a).json()
                if status["status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.5)
        assert status["status"] == "completed", status
        # The task completes inside the last scene run's step; the run ends a moment later.
        deadline = time.monotonic() + 60
        while True:
            runs = _gql(s.graphql, RUNS, {"v": task_id})["runsOrError"]["results"]
            if all(r["status"] == "SUCCESS" for r in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        (plan,) = [r for r in runs if r["jobName"] == "plan_job"]
        scenes = [r for r in runs if r["jobName"] == "scene_job"]
        assert len(scenes) == 2 and all(r["status"] == "SUCCESS" for r in scenes)
        # Submitted by the plan run (the sensor never ticked), through the run queue.
        assert all({"key": "videogen/plan_run", "value": plan["runId"]} in r["tags"] for r in scenes)
        assert all(any(t["key"] == "dagster/run_key" for t in r["tags"]) for r in scenes)
    finally:
        s.stop()

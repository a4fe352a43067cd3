"""Cluster mode end to end on one machine: PostgreSQL, Redis, moto as S3, a head node and two
Celery workers that share nothing on disk (tests/cluster/stack.py). A worker killed in the
middle of a render, PostgreSQL and Redis restarted in the middle of a chain."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.api_bridge.conftest import BASE, token
from tests.cluster.stack import Cluster

pytestmark = pytest.mark.slow

HEADERS = token(["team"])
RUNS = """query($key: String!, $value: String!) { runsOrError(filter: {tags: [{key: $key, value: $value}]}) {
  ... on Runs { results { runId jobName status tags { key value } } } } }"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Two workers at concurrency 1, and four render slots in Dagster's queue: two scene runs wait
    # in Redis while two render (what the Redis restart must not lose).
    c = Cluster(tmp_path_factory.mktemp("cluster"), workers=2, concurrency=1, render_slots=4)
    try:
        c.start()
        c.wait_workers()
        yield c
    finally:
        c.stop()


def _generate(c: Cluster, scenes: int, prompt: str, seconds: float = 4) -> str:
    r = c.stack.client().post(f"{BASE}/generate", headers=HEADERS, json={
        "project_id": "team", "content_prompt": prompt, "scene_count": scenes,
        "render_config": {"quality": "preview", "max_scene_duration": seconds},
        "narration_config": {"enabled": False},
    })
    assert r.status_code == 202, r.text
    return r.json()["task_id"]


def _status(c: Cluster, task_id: str) -> dict:
    return c.stack.client().get(f"{BASE}/tasks/{task_id}/status", headers=HEADERS).json()


def _wait_done(c: Cluster, task_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = _status(c, task_id)
        if s["status"] in ("completed", "failed", "cancelled"):
            return s
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} stuck: {_status(c, task_id)}")


def _runs(c: Cluster, task_id: str) -> list[dict]:
    data = httpx.post(c.stack.graphql, json={"query": RUNS, "variables": {"key": "videogen/task_id", "value": task_id}},
                      timeout=30).json()["data"]["runsOrError"]["results"]
    for r in data:
        r["tags"] = {t["key"]: t["value"] for t in r["tags"]}
    return data


def _settled_runs(c: Cluster, task_id: str, timeout: float = 60) -> list[dict]:
    """The task's runs once none is still going: a task completes inside its last scene run's
    step, and that run ends a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        runs = _runs(c, task_id)
        active = [r for r in runs if r["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")]
        if not active or time.monotonic() > deadline:
            return runs
        time.sleep(0.5)


def _wait_for(predicate, what: str, timeout: float = 120, every: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


RUN_EVENTS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection(afterCursor: null) {
  events { __typename ... on MessageEvent { message timestamp } ... on ErrorEvent { error { message } } } } } } }"""


def _story(c: Cluster, task_id: str) -> str:
    """What went on in a task's runs, for an assertion's message: each run's status and retry
    tags, and the failure events of the failed ones (the servers' logs are under the cluster's
    folder)."""
    lines = []
    for r in reversed(_runs(c, task_id)):
        tags = {k: v for k, v in r["tags"].items() if "retry" in k or k in ("dagster/partition", "dagster/parent_run_id")}
        lines.append(f"{r['runId'][:8]} {r['jobName']} {r['status']} {tags}")
        if r["status"] == "FAILURE":
            events = httpx.post(c.stack.graphql, json={"query": RUN_EVENTS, "variables": {"id": r["runId"]}},
                                timeout=30).json()["data"]["runOrError"]["eventConnection"]["events"]
            for e in events:
                if "Fail" in e["__typename"] or "Engine" in e["__typename"] or e.get("error"):
                    lines.append(f"    {e['__typename']}: {(e.get('message') or '')[:300]} {e.get('error') or ''}"[:600])
    return "\n".join(lines)


def _manifest(c: Cluster, task_id: str) -> dict:
    result = c.stack.client().get(f"{BASE}/tasks/{task_id}/result", headers=HEADERS).json()["result"]
    return httpx.get(result["s3_manifest_url"], timeout=30).json()


def _versions(manifest: dict) -> list[int]:
    return [s["version"] for s in manifest["scenes"]]


def test_four_scenes_rendered_by_both_workers_and_joined_from_s3(cluster):
    task_id = _generate(cluster, 4, "Explain the Pythagorean theorem")
    status = _wait_done(cluster, task_id)
    assert status["status"] == "completed", status

    runs = _settled_runs(cluster, task_id)
    scene_runs = [r for r in runs if r["jobName"] == "scene_job"]
    assert len(scene_runs) == 4 and all(r["status"] == "SUCCESS" for r in scene_runs), runs
    workers = {r["tags"]["videogen/worker"].split("@")[0] for r in scene_runs}
    assert workers == {"worker-1", "worker-2"}, workers
    assert {r["tags"]["dagster-celery/queue"] for r in scene_runs} == {"render"}
    assert {r["tags"]["dagster-celery/queue"] for r in runs if r["jobName"] == "plan_job"} == {"light"}

    manifest = _manifest(cluster, task_id)
    assert _versions(manifest) == [1, 1, 1, 1]
    by_scene = {s["scene_number"]: s.get("worker", "").split("@")[0] for s in manifest["scenes"]}
    by_run = {int(r["tags"]["dagster/partition"].rsplit("/", 1)[1]): r["tags"]["videogen/worker"].split("@")[0]
              for r in scene_runs}
    assert by_scene == by_run, (by_scene, by_run)

    # Nothing on the head's disk; each worker's scratch holds only the scenes it rendered (and the
    # downloads of the join, on the worker that joined).
    head = cluster.var / "head"
    assert not (head / "objects").exists() and not (head / "metadata.sqlite").exists()
    for w in cluster.workers:
        assert not (w.folder / "var" / "objects").exists(), w.name
        assert not (w.folder / "var" / "metadata.sqlite").exists(), w.name

    # Removing the video works on PostgreSQL too (Dagster partitions, records, S3 objects).
    session = manifest["session_id"]
    video_url = cluster.stack.client().get(f"{BASE}/tasks/{task_id}/result", headers=HEADERS).json()[
        "result"]["s3_combined_video_url"]
    assert httpx.get(video_url, timeout=30).status_code == 200
    r = cluster.stack.client().delete(f"/api/v1/videos/team/{session}", headers=HEADERS,
                                      params={"delete_objects": "true"})
    assert r.status_code == 200, r.text
    assert httpx.get(video_url, timeout=30).status_code == 404
    assert cluster.stack.client().get(f"/api/v1/videos/team/{session}", headers=HEADERS).status_code == 404


def test_worker_killed_mid_render_is_rendered_again_on_the_other(cluster):
    task_id = _generate(cluster, 3, "Explain the law of cosines", seconds=8)
    victim = cluster.workers[0]

    def started_on_victim():
        return [r for r in _runs(cluster, task_id) if r["jobName"] == "scene_job" and r["status"] == "STARTED"
                and r["tags"].get("videogen/worker", "").startswith(f"{victim.name}@")]

    killed = _wait_for(started_on_victim, "a scene run started on worker-1", timeout=180)[0]
    time.sleep(1.5)  # into the render
    victim.kill()
    try:
        status = _wait_done(cluster, task_id, timeout=400)
        assert status["status"] == "completed", status
        runs = _settled_runs(cluster, task_id)
        lost = next(r for r in runs if r["runId"] == killed["runId"])
        assert lost["status"] == "FAILURE" and lost["tags"].get("dagster/will_retry") == "true", lost
        retried = [r for r in runs if r["tags"].get("dagster/parent_run_id") == killed["runId"]]
        assert len(retried) == 1 and retried[0]["status"] == "SUCCESS", retried
        assert retried[0]["tags"]["videogen/worker"].startswith("worker-2@")
        # One version per scene: none lost, none made twice.
        assert _versions(_manifest(cluster, task_id)) == [1, 1, 1]
    finally:
        victim.start()
        cluster.wait_workers()


def test_postgres_and_redis_restarted_mid_chain(cluster):
    task_id = _generate(cluster, 4, "Explain the area of a circle")

    def scenes_running():
        return sum(r["status"] == "STARTED" for r in _runs(cluster, task_id) if r["jobName"] == "scene_job")

    _wait_for(scenes_running, "scene runs started", timeout=180)
    cluster.services.pg("restart")
    # Four render slots, two workers: two scene runs wait in Redis while two render.
    _wait_for(lambda: cluster.services.redis_queue_length("render") > 0 or None,
              "scene runs waiting in Redis", timeout=60, every=0.1)
    cluster.services.redis("restart")
    status = _wait_done(cluster, task_id, timeout=400)
    assert status["status"] == "completed", (status, _story(cluster, task_id))
    manifest = _manifest(cluster, task_id)
    assert _versions(manifest) == [1, 1, 1, 1], json.dumps(manifest["scenes"])[:500]

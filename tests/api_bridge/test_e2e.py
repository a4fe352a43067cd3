"""The bridge over HTTP against a real Dagster webserver and daemon (temporary instance)."""

import os
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.api_bridge.conftest import BASE
from tests.api_bridge.conftest import token as _token
from tests.conftest import ffprobe

pytestmark = pytest.mark.slow


def _poll(client, task_id, headers, until=("completed", "failed", "cancelled"), timeout=240):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"{BASE}/tasks/{task_id}/status", headers=headers).json()
        seen.append((s["status"], s["progress"], s["message"]))
        if s["status"] in until:
            return s, seen
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} stuck: {seen[-5:]}")


def test_generate_over_http_to_a_playable_video(stack):
    client, var, _ = stack
    a = _token(["proj_a"])
    health = client.get(f"{BASE}/health")
    assert health.status_code == 200, health.text
    r = client.post(f"{BASE}/generate", headers=a, json={
        "project_id": "proj_a", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 2,
        "render_config": {"quality": "preview", "max_scene_duration": 4},
    })
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    # Project B cannot see project A's task.
    assert client.get(f"{BASE}/tasks/{task_id}/status", headers=_token(["proj_b"])).status_code == 404

    status, seen = _poll(client, task_id, a)
    assert status["status"] == "completed", status
    statuses = [s for s, _, _ in seen]
    assert "progress" in statuses or "queued" in statuses
    assert any("Rendering scene" in m for _, _, m in seen) or len(seen) < 4
    progress = [p for _, p, _ in seen]
    assert progress == sorted(progress) and progress[-1] == 100

    result = client.get(f"{BASE}/tasks/{task_id}/result", headers=a).json()
    assert result["status"] == "completed" and result["result"]["scene_count"] == 2
    video = Path(urlparse(result["result"]["s3_combined_video_url"]).path)
    info = ffprobe(video)
    scenes = [float(ffprobe(Path(urlparse(s["s3_video_url"]).path))["format"]["duration"]) for s in result["result"]["scenes"]]
    assert abs(float(info["format"]["duration"]) - sum(scenes)) <= 0.1


def test_cancel_while_rendering(stack):
    client, var, ctl = stack
    a = _token(["proj_a"])
    r = client.post(f"{BASE}/generate", headers=a, json={
        "project_id": "proj_a", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 4,
        "render_config": {"quality": "preview", "max_scene_duration": 20},
    })
    task_id = r.json()["task_id"]
    video = f"proj_a.{r.json()['session_id']}"
    deadline = time.monotonic() + 120
    while _renders(var, video) == [] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _renders(var, video), "no scene started rendering"
    c = client.delete(f"{BASE}/tasks/{task_id}", headers=a)
    assert c.status_code == 200 and c.json()["status"] == "cancelled"
    time.sleep(8)
    s = client.get(f"{BASE}/tasks/{task_id}/status", headers=a).json()
    assert s["status"] == "cancelled"
    # The runs were terminated through their workers, and no render outlives its run.
    statuses = {r["status"] for r in _runs(ctl["graphql"], task_id)}
    assert statuses <= {"SUCCESS", "CANCELED"} and "CANCELED" in statuses, statuses
    assert _renders(var, video) == []
    result = client.get(f"{BASE}/tasks/{task_id}/result", headers=a).json()
    assert result["result"] is None and result["status"] == "cancelled"


def _runs(graphql: str, task_id: str) -> list[dict]:
    q = """query($v: String!) { runsOrError(filter: {tags: [{key: "videogen/task_id", value: $v}]}) {
             ... on Runs { results { runId jobName status tags { key value } } } } }"""
    return httpx.post(graphql, json={"query": q, "variables": {"v": task_id}}).json()["data"]["runsOrError"]["results"]


def _processes() -> dict[int, tuple[int, str]]:
    out = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                out[int(proc.name)] = (ppid, (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except (OSError, ValueError, IndexError):
                continue
    return out


def _renders(var: Path, video_key: str) -> list[str]:
    """The confined renders of this video's scenes running now."""
    return [cmd for _, cmd in _processes().values() if cmd.split(" ", 1)[0].endswith("bwrap") and f"{var}/work/{video_key}-scene" in cmd]


def _rendering_run_worker(graphql: str, task_id: str, var: Path, video_key: str) -> int | None:
    """The run worker of a scene of this video rendering now: the ancestor of its confined render
    that the warm run launcher recorded on a run of the task (`videogen/worker_pid`)."""
    workers = {
        int(t["value"]) for r in _runs(graphql, task_id) if r["status"] == "STARTED"
        for t in r["tags"] if t["key"] == "videogen/worker_pid"
    }
    procs = _processes()
    for pid, (_, cmd) in procs.items():
        if cmd.split(" ", 1)[0].endswith("bwrap") and f"{var}/work/{video_key}-scene" in cmd:
            cur = pid
            while cur in procs:
                if cur in workers:
                    return cur
                cur = procs[cur][0]
    return None


def _generate(client, headers, scenes, duration, with_video=False):
    r = client.post(f"{BASE}/generate", headers=headers, json={
        "project_id": "proj_a", "content_prompt": "Explain the Pythagorean theorem", "scene_count": scenes,
        "render_config": {"quality": "preview", "max_scene_duration": duration},
    })
    assert r.status_code == 202, r.text
    body = r.json()
    return (body["task_id"], f"{body['project_id']}.{body['session_id']}") if with_video else body["task_id"]


def test_killed_worker_fails_the_task_and_retry_finishes(stack):
    client, var, ctl = stack
    a = _token(["proj_a"])
    task_id, video = _generate(client, a, 2, 20, with_video=True)
    deadline = time.monotonic() + 120
    victim = None
    while victim is None and time.monotonic() < deadline:
        victim = _rendering_run_worker(ctl["graphql"], task_id, var, video)
        time.sleep(0.1)
    assert victim, "no scene started rendering"
    os.kill(victim, 9)  # mid-render
    status, _ = _poll(client, task_id, a, until=("failed", "completed"), timeout=180)
    assert status["status"] == "failed", status
    assert "scene_job" in status["error"] and "failed" in status["error"]

    r = client.post(f"{BASE}/tasks/{task_id}/retry", headers=a)
    assert r.status_code == 202, r.text
    assert r.json()["scenes"]  # only the unfinished scene(s)
    status, _ = _poll(client, task_id, a, timeout=240)
    assert status["status"] == "completed", status


def test_daemon_restart_mid_chain_loses_and_duplicates_nothing(stack):
    client, _, ctl = stack
    a = _token(["proj_a"])
    task_id = _generate(client, a, 3, 6)
    _poll(client, task_id, a, until=("progress",), timeout=120)
    daemon = ctl["procs"][0]
    daemon.terminate()
    daemon.wait(timeout=60)
    time.sleep(3)
    ctl["procs"][0] = ctl["start_daemon"]()
    status, _ = _poll(client, task_id, a, timeout=300)
    assert status["status"] == "completed", status
    jobs = sorted(r["jobName"] for r in _runs(ctl["graphql"], task_id))
    # The last scene run joins the video itself: no combine run, and exactly one join.
    assert jobs == ["plan_job", "scene_job", "scene_job", "scene_job"]
    result = client.get(f"{BASE}/tasks/{task_id}/result", headers=a).json()["result"]
    assert "/video/v1/" in result["s3_combined_video_url"]


def test_edit_scene_over_http(stack):
    client, _, _ = stack
    a = _token(["proj_a"])
    task_id = _generate(client, a, 3, 4)
    status, _ = _poll(client, task_id, a)
    assert status["status"] == "completed", status
    before = client.get(f"{BASE}/tasks/{task_id}/result", headers=a).json()["result"]
    s2 = before["scenes"][1]

    edit = {"scene_id": s2["scene_id"], "project_id": "proj_a", "edit_prompt": "make it blue and slower"}
    r = client.post(f"{BASE}/edit-scene", headers=a, json=edit)
    assert r.status_code == 202, r.text
    edit_task = r.json()["task_id"]
    # A second edit of the same scene while the first runs is refused, naming the version.
    clash = client.post(f"{BASE}/edit-scene", headers=a, json={**edit, "edit_prompt": "make it red"})
    assert clash.status_code == 409 and "version 1" in clash.json()["detail"] and edit_task in clash.json()["detail"]
    status, _ = _poll(client, edit_task, a)
    assert status["status"] == "completed", status
    after = client.get(f"{BASE}/tasks/{edit_task}/result", headers=a).json()["result"]

    # Only scene 2 was re-rendered; the video was re-joined with the same duration.
    assert [s["version"] for s in after["scenes"]] == [1, 2, 1]
    for i in (0, 2):
        assert after["scenes"][i]["s3_video_url"] == before["scenes"][i]["s3_video_url"]
    assert "/v2/" in after["scenes"][1]["s3_video_url"]
    assert abs(after["total_duration"] - before["total_duration"]) <= 0.1
    assert after["combined_version"] == before["combined_version"] + 1
    history = after["scenes"][1]["edit_history"]
    assert [(h["from_version"], h["to_version"], h["edit_prompt"]) for h in history] == [(1, 2, "make it blue and slower")]
    # Version 1 is still there.
    assert Path(urlparse(s2["s3_video_url"]).path).is_file()

    # An edit that cannot be applied is refused at submission (no LLM here: issue 16) and leaves
    # everything as it was.
    bad = client.post(f"{BASE}/edit-scene", headers=a, json={**edit, "edit_prompt": "add a dancing cat"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    assert "offline editor cannot apply" in bad.json()["detail"]
    same = client.get(f"{BASE}/tasks/{edit_task}/result", headers=a).json()["result"]
    assert [s["version"] for s in same["scenes"]] == [1, 2, 1]
    assert same["combined_version"] == after["combined_version"]
    # Unknown scene, or another project's: 404.
    assert client.post(f"{BASE}/edit-scene", headers=a, json={**edit, "scene_id": "nope_scene_1"}).status_code == 404
    other = client.post(f"{BASE}/edit-scene", headers=_token(["proj_b"]), json={**edit, "project_id": "proj_b"})
    assert other.status_code == 404


def _asset_partitions(graphql: str, asset: str, keys: list[str]) -> tuple[list[str], list[str]]:
    """(the asset's partition keys among `keys`, the partitions of its materialisations of `keys`)."""
    q = """query($path: [String!]!, $keys: [String!]) { assetNodeOrError(assetKey: {path: $path}) {
             ... on AssetNode { partitionKeys assetMaterializations(partitions: $keys) { partition } } } }"""
    node = httpx.post(graphql, json={"query": q, "variables": {"path": [asset], "keys": keys}}).json()["data"]
    node = node["assetNodeOrError"]
    return ([k for k in node["partitionKeys"] if k in keys], [m["partition"] for m in node["assetMaterializations"]])


def test_delete_a_video_over_http(stack):
    """DELETE /api/v1/videos/...: refused while it runs; then its partitions, their
    materialisations (wiped by remove_video_job, launched over GraphQL), its records and objects."""
    client, var, ctl = stack
    a = _token(["proj_a"])
    task_id, video = _generate(client, a, 2, 3, with_video=True)
    project, session = video.split(".")
    url = f"/api/v1/videos/{project}/{session}"
    busy = client.delete(url, headers=a)
    assert busy.status_code == 409 and busy.json()["error_code"] == "CONFLICT", busy.text
    status, _ = _poll(client, task_id, a)
    assert status["status"] == "completed", status
    scenes, everything = [f"{video}/01", f"{video}/02"], [video, f"{video}/01", f"{video}/02"]
    assert _asset_partitions(ctl["graphql"], "scene_video", everything)[1]
    assert client.delete(url, headers=_token(["proj_b"])).status_code == 404
    deadline = time.monotonic() + 30
    while (r := client.delete(url, headers=a, params={"delete_objects": "true"})).status_code == 409:
        assert time.monotonic() < deadline, r.text  # the last scene run is still logging its events
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partitions"] == {"videos": [video], "scenes": scenes}
    assert body["records"]["videos"] == 1 and body["records"]["tasks"] == 1 and body["objects"] > 5
    for asset in ("scene_plan", "scene_video", "combined_video", "video_manifest"):
        assert _asset_partitions(ctl["graphql"], asset, everything) == ([], []), asset
    assert client.get(f"{BASE}/tasks/{task_id}/status", headers=a).status_code == 404
    assert not (var / "objects" / "projects" / project / session).exists()
    assert client.delete(url, headers=a).status_code == 404

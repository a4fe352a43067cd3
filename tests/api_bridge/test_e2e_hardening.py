"""The service under real use, on a real stack (webserver + daemon + bridge): requests at the
same moment, a reused session, posted code rendered under the cap, dead daemon and webserver."""

import hashlib
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.api_bridge.conftest import BASE, start_stack, token
from tests.conftest import wait_http

pytestmark = pytest.mark.slow
A = token(["proj_a"])
FINISHED = ("completed", "failed", "cancelled")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Launches retry a dead webserver for 10 s (30 s by default) before the task fails.
    s = start_stack(tmp_path_factory.mktemp("var"), {"DAGSTER_LAUNCH_RETRY_SECONDS": "10"})
    try:
        yield s
    finally:
        s.stop()


def _poll(client, task_id, until=FINISHED, timeout=300):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        s = client.get(f"{BASE}/tasks/{task_id}/status", headers=A).json()
        seen.append(s)
        if s["status"] in until:
            return s, seen
        time.sleep(0.5)
    raise AssertionError(f"task {task_id} stuck: {seen[-1]}")


def _generate(client, session, prompt="Explain the Pythagorean theorem", scenes=1, duration=3):
    return client.post(f"{BASE}/generate", headers=A, json={
        "project_id": "proj_a", "session_id": session, "content_prompt": prompt, "scene_count": scenes,
        "render_config": {"quality": "preview", "max_scene_duration": duration},
    })


def _at_once(n, call):
    """`call(i)` from n threads released together; the answers in order of i."""
    barrier, out = threading.Barrier(n), [None] * n

    def go(i):
        barrier.wait()
        out[i] = call(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _files(result: dict) -> dict[str, str]:
    """sha256 of every file a result names (local object store: file:// URLs)."""
    urls = [result["s3_combined_video_url"], result["s3_manifest_url"], result["s3_subtitles_url"]]
    for s in result["scenes"]:
        urls += [s["s3_video_url"], s["s3_source_url"], s["s3_thumbnail_url"], s["s3_subtitles_url"]]
    return {u: hashlib.sha256(Path(unquote(urlparse(u).path)).read_bytes()).hexdigest() for u in urls}


def test_posted_code_renders_in_a_dagster_run(stack):
    client = stack.client()
    code = "from manim import *\n\n\nclass Dot1(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n"
    r = client.post("/api/v1/video/agents/render", headers=A, json={"code": code})
    assert r.status_code == 200, r.text
    assert r.json()["class_name"] == "Dot1" and r.json()["width"] == 854
    assert Path(unquote(urlparse(r.json()["video_url"]).path)).is_file()


def test_a_reused_session_leaves_the_finished_video_as_it_was(stack):
    client = stack.client()
    first = _generate(client, "reuse")
    assert first.status_code == 202, first.text
    done, _ = _poll(client, first.json()["task_id"])
    assert done["status"] == "completed", done
    before = client.get(f"{BASE}/tasks/{first.json()['task_id']}/result", headers=A).json()
    files = _files(before["result"])

    second = _generate(client, "reuse", prompt="Explain Euler's formula", scenes=2)
    assert second.status_code == 202, second.text
    # While it runs: another generate of the video, or an edit of it, is refused.
    again = _generate(client, "reuse", prompt="Explain entropy")
    assert again.status_code == 409 and second.json()["task_id"] in again.json()["detail"]
    edit = client.post(f"{BASE}/edit-scene", headers=A, json={
        "scene_id": "reuse_scene_1", "project_id": "proj_a", "edit_prompt": "make it blue"})
    assert edit.status_code == 409 and second.json()["task_id"] in edit.json()["detail"], edit.text
    redone, _ = _poll(client, second.json()["task_id"])
    assert redone["status"] == "completed", redone

    # The first task's result is a fixed record: same versions, same URLs, same bytes.
    after = client.get(f"{BASE}/tasks/{first.json()['task_id']}/result", headers=A).json()
    assert after == before
    assert _files(after["result"]) == files
    new = client.get(f"{BASE}/tasks/{second.json()['task_id']}/result", headers=A).json()["result"]
    assert new["scene_count"] == 2 and new["combined_version"] == before["result"]["combined_version"] + 1
    assert new["scenes"][0]["version"] == 2 and "/v2/" in new["scenes"][0]["s3_video_url"]
    assert new["s3_manifest_url"] != before["result"]["s3_manifest_url"]


def test_twenty_generates_and_ten_edits_at_the_same_moment(stack):
    client = stack.client(timeout=120)
    started = time.monotonic()
    answers = _at_once(20, lambda i: _generate(client, f"crowd{i}", scenes=1, duration=2))
    accepted_in = time.monotonic() - started
    refused = [a.text for a in answers if a.status_code != 202]
    assert refused == [], refused
    tasks = [a.json()["task_id"] for a in answers]
    ends = [_poll(client, t, timeout=600)[0] for t in tasks]
    assert [e["status"] for e in ends] == ["completed"] * 20, [e for e in ends if e["status"] != "completed"]
    generated = time.monotonic() - started
    # Progress and messages only moved forward.
    for t in tasks[:3]:
        _, seen = _poll(client, t)
        assert [s["progress"] for s in seen] == sorted(s["progress"] for s in seen)

    started = time.monotonic()
    edits = _at_once(10, lambda i: client.post(f"{BASE}/edit-scene", headers=A, json={
        "scene_id": f"crowd{i}_scene_1", "project_id": "proj_a", "edit_prompt": "make it blue"}))
    refused = [e.text for e in edits if e.status_code != 202]
    assert refused == [], refused
    ends = [_poll(client, e.json()["task_id"], timeout=600)[0] for e in edits]
    assert [e["status"] for e in ends] == ["completed"] * 10, [e for e in ends if e["status"] != "completed"]
    assert all(e["message"].startswith("Edit completed: scene 1 is at version 2") for e in ends), ends
    assert all(e["total_steps"] == 4 for e in ends)
    print(f"\n20 generates at once: 0 refused, all accepted in {accepted_in:.1f} s, completed in {generated:.1f} s; "
          f"10 edits at once: 0 refused, all completed in {time.monotonic() - started:.1f} s")


def _health_until(client, status_code, timeout):
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        r = client.get(f"{BASE}/health")
        if r.status_code == status_code:
            return r, time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"health did not answer {status_code} within {timeout} s: {r.status_code} {r.text}")


def test_health_names_a_dead_daemon_or_webserver_within_30_s(stack):
    client = stack.client()
    assert client.get(f"{BASE}/health").status_code == 200
    stack.kill("daemon")
    try:
        task = _generate(client, "nodaemon").json()["task_id"]
        r, waited = _health_until(client, 503, 35)
        assert "dagster_daemon" in r.json()["message"] and waited <= 30, (waited, r.text)
        s = client.get(f"{BASE}/tasks/{task}/status", headers=A).json()
        assert s["status"] == "queued" and "daemon is not running" in s["message"], s
        print(f"\ndaemon killed: /health answered 503 after {waited:.1f} s: {r.json()['message']}")
    finally:
        stack.start_daemon()
    _poll(client, task)  # the queued task goes on once the daemon is back
    _health_until(client, 200, 60)

    stack.kill("webserver")
    try:
        r, waited = _health_until(client, 503, 30)
        assert "dagster_webserver" in r.json()["message"], r.text
        print(f"webserver killed: /health answered 503 after {waited:.1f} s")
        busy = _generate(client, "noweb")
        # Launches are retried for a while, then the task fails with one sentence.
        assert busy.status_code == 503, busy.text
        assert "\n" not in busy.json()["detail"] and "mutation" not in busy.json()["detail"]
    finally:
        # Back up: it answers HTTP before it has loaded the code location (as after `make up`);
        # a generate sent right then is retried until the location is loaded, not refused.
        stack.start_webserver(wait=False)
        wait_http(f"http://127.0.0.1:{stack.web}/server_info")
    early = _generate(client, "early")
    assert early.status_code == 202, early.text
    assert _poll(client, early.json()["task_id"])[0]["status"] == "completed"
    _health_until(client, 200, 60)

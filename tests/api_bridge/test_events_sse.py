"""Live progress over Server-Sent Events against a real stack (webserver, daemon, bridge): a client
sees every step of a real generation in order, and resumes after a dropped connection with
Last-Event-ID without losing or repeating an event."""

from __future__ import annotations

import json
import time
from datetime import datetime

import httpx
import pytest

from tests.api_bridge.conftest import BASE, start_stack, token

pytestmark = pytest.mark.slow

AUTH = token(["sse"])


def read_events(response: httpx.Response, until=None, seen: dict | None = None):
    """Parse a text/event-stream: yields (id, type, payload, received at); counts comment pings
    in `seen`. Stops after `until(type)` is true, or when the server ends the stream."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            if seen is not None:
                seen["pings"] = seen.get("pings", 0) + 1
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
            continue
        if "data" in fields:
            event = (int(fields["id"]), fields["event"], json.loads(fields["data"]), time.time())
            yield event
            if until and until(event[1]):
                return
        fields = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("var"), public_url=True,
                    extra_env={"VIDEOGEN_SSE_HEARTBEAT_SECONDS": "1"})
    try:
        yield s
    finally:
        s.stop()


def test_a_client_sees_every_step_in_order_and_resumes_without_loss(stack):
    client = stack.client()
    r = client.post(f"{BASE}/generate", headers=AUTH, json={
        "project_id": "sse", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 2,
        "render_config": {"quality": "preview", "max_scene_duration": 4}})
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    url = f"{BASE}/tasks/{task_id}/events"
    got, seen = [], {}
    stream = httpx.Client(base_url=client.base_url, timeout=httpx.Timeout(30, read=60))
    # First connection: dropped by the client after the first rendered scene.
    opened = time.time()
    with stream.stream("GET", url, headers=AUTH) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        got += list(read_events(resp, until=lambda t: t == "scene.rendered", seen=seen))
    dropped = time.time()
    time.sleep(1)  # events happen meanwhile
    # Reconnect as an EventSource does: Last-Event-ID is the last id received.
    reopened = time.time()
    with stream.stream("GET", url, headers={**AUTH, "Last-Event-ID": str(got[-1][0])}) as resp:
        assert resp.status_code == 200
        got += list(read_events(resp, seen=seen))  # the server ends it after the terminal event
    ids = [e[0] for e in got]
    types = [e[1] for e in got]
    # Nothing lost, nothing repeated: the same as a full replay, in order.
    with stream.stream("GET", url, headers=AUTH, params={"after": 0}) as resp:
        replay = list(read_events(resp))
    assert ids == [e[0] for e in replay] and ids == sorted(set(ids))
    assert types[0] == "task.queued" and types[-1] == "task.completed"
    steps = [e[2]["data"]["current_step"] for e in got if e[1] == "task.progress"]
    for step in ("planning", "planned", "render_scene_1", "render_scene_2", "combine"):
        assert step in steps, steps
    assert steps.index("planning") < steps.index("planned") < steps.index("combine")
    for n in (1, 2):
        mine = [e[1] for e in got if e[1].startswith("scene.") and e[2]["data"]["scene_number"] == n]
        assert mine == ["scene.queued", "scene.rendering", "scene.rendered"], mine
    rendered = next(e[2]["data"] for e in got if e[1] == "scene.rendered")
    assert rendered["version"] >= 1 and rendered["s3_video_url"].startswith("http://127.0.0.1:")
    assert client.get(rendered["s3_thumbnail_url"]).status_code == 200  # a preview a browser opens
    progress = [e[2]["data"]["progress"] for e in got if e[1] == "task.progress"]
    assert progress == sorted(progress)  # only forward
    done = got[-1][2]
    assert done["task_id"] == task_id and done["project_id"] == "sse"
    assert done["data"]["result"]["s3_combined_video_url"].startswith("http://")
    assert seen["pings"] >= 1  # heartbeats while the chain waited (VIDEOGEN_SSE_HEARTBEAT_SECONDS=1)
    # How late each event reached the client (its time is when the pipeline wrote it).
    written = [(datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")).timestamp(), at) for _, _, p, at in got]
    # Live events: written while a connection was open (not replayed when it opened).
    delays = sorted(at - w for w, at in written if opened + 0.2 < w < dropped or w > reopened + 0.2)
    print(f"SSE delay over {len(delays)} live events: median {delays[len(delays) // 2]:.3f} s, max {delays[-1]:.3f} s")
    assert len(delays) >= 5 and delays[len(delays) // 2] < 0.5 and delays[-1] < 2.0
    # Finished and nothing after the last event: 204, so an EventSource stops reconnecting.
    assert stream.get(url, headers={**AUTH, "Last-Event-ID": str(ids[-1])}).status_code == 204


def test_permissions_and_bad_ids(stack):
    client = stack.client()
    r = client.post(f"{BASE}/generate", headers=AUTH, json={
        "project_id": "sse", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 1,
        "render_config": {"quality": "preview", "max_scene_duration": 3}})
    task_id = r.json()["task_id"]
    other = client.get(f"{BASE}/tasks/{task_id}/events", headers=token(["elsewhere"]))
    assert other.status_code == 404 and other.json()["error_code"] == "NOT_FOUND"
    assert client.get(f"{BASE}/tasks/{task_id}/events").status_code == 401
    bad = client.get(f"{BASE}/tasks/{task_id}/events", headers={**AUTH, "Last-Event-ID": "abc"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "VALIDATION_ERROR"
    assert client.get(f"{BASE}/tasks/nope/events", headers=AUTH).status_code == 404

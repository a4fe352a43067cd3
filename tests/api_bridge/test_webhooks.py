"""Signed webhooks against a real stack and a real HTTP receiver: a receiver that answers 500 for
a while, or is down, still gets every event once verified, in order per task; every delivery is
recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.api_bridge.conftest import BASE, start_stack, token
from tests.conftest import free_port

pytestmark = pytest.mark.slow

SECRET = "whsec-test-0123456789abcdef0123456789abcdef"
AUTH = token(["hooks", "hookdefault"])
WEBHOOK_TYPES = {"scene.rendered", "scene.reused", "scene.failed", "task.completed", "task.failed", "task.cancelled"}


def verified(headers, body: bytes, secret: str = SECRET, tolerance: float = 300) -> bool:
    """What a receiver does (README: Webhooks)."""
    parts = dict(p.split("=", 1) for p in headers["Videogen-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) <= tolerance


class Receiver:
    """A threaded http.server that answers 500 to its first `fail_first` POSTs, then 200."""

    def __init__(self, port: int, fail_first: int = 0):
        self.port, self.fail_first = port, fail_first
        self.calls: list[tuple[int, dict, bytes, float]] = []  # (answered, headers, body, time)
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    status = 500 if len(receiver.calls) < receiver.fail_first else 200
                    receiver.calls.append((status, dict(self.headers), body, time.time()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.handler = Handler

    def start(self) -> Receiver:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> list[dict]:
        """The events answered 200, as parsed payloads, in arrival order."""
        with self.lock:
            return [json.loads(b) for status, _, b, _ in self.calls if status == 200]


DOWN_PORT = free_port()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("var"), public_url=True, extra_env={
        "VIDEOGEN_WEBHOOK_SECRET": SECRET, "VIDEOGEN_WEBHOOK_MAX_BACKOFF_SECONDS": "0.5",
        "VIDEOGEN_WEBHOOKS": json.dumps({"hookdefault": f"http://127.0.0.1:{DOWN_PORT}/hook"})})
    try:
        yield s
    finally:
        s.stop()


def _wait(predicate, timeout: float = 180, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def _expected(client, task_id: str) -> list[int]:
    """The task's webhook events, from its full event stream."""
    ids = []
    with client.stream("GET", f"{BASE}/tasks/{task_id}/events", headers=AUTH) as resp:
        for line in resp.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("id:"):
                event_id = int(line.split(":", 1)[1])
            elif line == "" and "kind" in locals() and kind in WEBHOOK_TYPES:
                ids.append(event_id)
                kind = ""
    return ids


def test_a_failing_receiver_gets_every_event_once_verified_in_order(stack):
    receiver = Receiver(free_port(), fail_first=4).start()
    client = stack.client()
    try:
        r = client.post(f"{BASE}/generate", headers=AUTH, json={
            "project_id": "hooks", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 2,
            "render_config": {"quality": "preview", "max_scene_duration": 4}, "webhook_url": receiver.url})
        assert r.status_code == 202, r.text
        task_id = r.json()["task_id"]
        _wait(lambda: any(p["type"] == "task.completed" for p in receiver.delivered()), what="task.completed")
        expected = _expected(client, task_id)
        with receiver.lock:
            calls = list(receiver.calls)
        assert all(verified(headers, body) for _, headers, body, _ in calls)
        assert [int(h["Videogen-Event-Id"]) for _, h, _, _ in calls[:5]] == [expected[0]] * 5  # 4 x 500, then 200
        posted = [int(h["Videogen-Event-Id"]) for _, h, _, _ in calls]
        assert posted == sorted(posted)  # a later event never went before an earlier one
        delivered = receiver.delivered()
        assert [p["id"] for p in delivered] == expected  # each once, in order
        assert [p["type"] for p in delivered] == ["scene.rendered", "scene.rendered", "task.completed"]
        assert all(h["Videogen-Event-Type"] == json.loads(b)["type"] for _, h, b, _ in calls)
        assert delivered[0]["data"]["s3_video_url"].startswith("http://")
        records = client.get(f"{BASE}/tasks/{task_id}/webhooks", headers=AUTH).json()
        assert records["webhook_url"] == receiver.url
        assert [(d["status"], d["attempts"], d["last_status"]) for d in records["deliveries"]] == [
            ("delivered", 5, 200), ("delivered", 1, 200), ("delivered", 1, 200)]
        assert records["deliveries"][0]["event_type"] == "scene.rendered"
        # An edit's webhook: its scene and its completion.
        before = len(receiver.delivered())
        scene_id = delivered[0]["data"]["scene_id"]
        r = client.post(f"{BASE}/edit-scene", headers=AUTH, json={
            "scene_id": scene_id, "project_id": "hooks", "edit_prompt": "make it blue", "webhook_url": receiver.url})
        assert r.status_code == 202, r.text
        _wait(lambda: len(receiver.delivered()) >= before + 2, what="the edit's events")
        edit = receiver.delivered()[before:]
        assert [p["type"] for p in edit] == ["scene.rendered", "task.completed"]
        assert edit[0]["task_id"] == r.json()["task_id"] and edit[0]["data"]["version"] == 2
        assert client.get(f"{BASE}/tasks/{task_id}/webhooks", headers=token(["other"])).status_code == 404
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_gets_everything_afterwards_in_order(stack):
    """The project's default webhook (VIDEOGEN_WEBHOOKS) is down while a batch of two videos is
    made; once it is up, every event of both tasks arrives, each task's in order."""
    client = stack.client()
    r = client.post(f"{BASE}/batch", headers=AUTH, json=[
        {"project_id": "hookdefault", "content_prompt": prompt, "scene_count": 1,
         "render_config": {"quality": "preview", "max_scene_duration": 3}}
        for prompt in ("Explain the Pythagorean theorem", "Explain the ideal gas law")])
    assert r.status_code == 202, r.text
    tasks = [t["task_id"] for t in r.json()["tasks"]]

    def finished():
        return all(client.get(f"{BASE}/tasks/{t}/status", headers=AUTH).json()["status"] == "completed" for t in tasks)

    _wait(finished, what="both tasks completed")

    def attempted():
        # A task can complete before the outbox's next look has tried its first event.
        pending = [client.get(f"{BASE}/tasks/{t}/webhooks", headers=AUTH).json()["deliveries"] for t in tasks]
        return pending if all(d and d[0]["attempts"] >= 1 for d in pending) else None

    pending = _wait(attempted, timeout=60, what="a first delivery attempt of each task's events")
    assert all(d[0]["status"] == "pending" and "Connect" in d[0]["last_error"] for d in pending), pending
    receiver = Receiver(DOWN_PORT).start()
    up = time.time()
    try:
        expected = {t: _expected(client, t) for t in tasks}
        total = sum(len(v) for v in expected.values())
        _wait(lambda: len(receiver.delivered()) >= total, timeout=60, what="the queued events")
        drained = receiver.calls[-1][3] - up
        print(f"webhooks: {total} queued events of 2 tasks delivered {drained:.2f} s after the receiver came up")
        delivered = receiver.delivered()
        with receiver.lock:
            assert all(verified(h, b) for _, h, b, _ in receiver.calls)
        for t in tasks:
            assert [p["id"] for p in delivered if p["task_id"] == t] == expected[t]
        assert len(delivered) == total  # once each
        records = [client.get(f"{BASE}/tasks/{t}/webhooks", headers=AUTH).json() for t in tasks]
        assert all(d["status"] == "delivered" for rec in records for d in rec["deliveries"])
        assert records[0]["webhook_url"] == receiver.url
    finally:
        receiver.stop()

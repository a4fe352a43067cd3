"""The bridge over HTTP against a real Dagster webserver and daemon (temporary instance)."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import jwt
import pytest

from tests.conftest import REPO, ffprobe

pytestmark = pytest.mark.slow
BASE = "/api/v1/video-generation"
SECRET = "e2e-secret-key-with-enough-length-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(url)


def _token(projects: list[str]) -> dict:
    tok = jwt.encode({"sub": "e2e", "projects": projects, "exp": time.time() + 3600}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {tok}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    home = var / "dagster"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    web, api = _port(), _port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "VIDEOGEN_VAR_DIR": str(var),
           "DAGSTER_PORT": str(web), "JWT_SECRET": SECRET}
    bin_dir = Path(sys.executable).parent
    logs = open(var / "servers.log", "w")  # noqa: SIM115
    procs = [
        subprocess.Popen([bin_dir / "dagster-daemon", "run", "-w", "workspace.yaml"], cwd=REPO, env=env, stdout=logs, stderr=logs),
        subprocess.Popen([bin_dir / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(web)],
                         cwd=REPO, env=env, stdout=logs, stderr=logs),
        subprocess.Popen([sys.executable, "-m", "uvicorn", "api_bridge.main:app", "--host", "127.0.0.1", "--port", str(api)],
                         cwd=REPO, env=env, stdout=logs, stderr=logs),
    ]
    try:
        _wait(f"http://127.0.0.1:{web}/server_info")
        _wait(f"http://127.0.0.1:{api}/docs")
        yield httpx.Client(base_url=f"http://127.0.0.1:{api}", timeout=30), var
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        logs.close()


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
    client, var = stack
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
    client, _ = stack
    a = _token(["proj_a"])
    r = client.post(f"{BASE}/generate", headers=a, json={
        "project_id": "proj_a", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 4,
        "render_config": {"quality": "preview", "max_scene_duration": 20},
    })
    task_id = r.json()["task_id"]
    _poll(client, task_id, a, until=("progress",), timeout=120)
    c = client.delete(f"{BASE}/tasks/{task_id}", headers=a)
    assert c.status_code == 200 and c.json()["status"] == "cancelled"
    time.sleep(8)
    s = client.get(f"{BASE}/tasks/{task_id}/status", headers=a).json()
    assert s["status"] == "cancelled"
    result = client.get(f"{BASE}/tasks/{task_id}/result", headers=a).json()
    assert result["result"] is None and result["status"] == "cancelled"

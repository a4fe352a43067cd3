"""The Convex mirror against a local stand-in of Convex's HTTP function API that runs this
project's real TypeScript functions (convex/local_server.ts on convex-test's backend)."""

import json
import os
import shutil
import signal
import subprocess
import time

import httpx
import pytest

from videogen_dagster.convex import (
    ConvexClient,
    ConvexFunctionError,
    ConvexOutbox,
    ConvexRequestError,
    ConvexUnavailable,
    MirroredMetadataStore,
)

from .conftest import REPO, free_port, run_cli, wait_http

KEY = "test-deploy-key"
pytestmark = pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js (make deps installs it)")


@pytest.fixture(scope="module")
def convex_url():
    port = free_port()
    proc = subprocess.Popen(
        ["npx", "tsx", "convex/local_server.ts"], cwd=REPO,
        env={**os.environ, "PORT": str(port), "CONVEX_DEPLOY_KEY": KEY},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # npx -> tsx -> node: stop the whole group afterwards
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/_test/dump", timeout=60)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=10)


@pytest.fixture
def convex(convex_url):
    httpx.post(convex_url + "/_test/reset")
    httpx.post(convex_url + "/_test/outage", json={"on": False})
    return convex_url


def _dump(url: str) -> dict:
    return httpx.get(url + "/_test/dump").json()


TASK = {"taskId": "t1", "kind": "generate", "projectId": "p", "sessionId": "s", "videoKey": "p.s",
        "status": "queued", "progress": 0, "message": "m", "totalSteps": 5,
        "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"}


def test_client_success_and_in_band_errors(convex):
    client = ConvexClient(convex, KEY)
    client.mutation("tasks:upsert", TASK)
    assert client.query("tasks:status", {"taskId": "t1"})["status"] == "queued"
    with pytest.raises(ConvexFunctionError) as exc:
        client.mutation("tasks:upsert", {**TASK, "status": "done"})
    assert exc.value.function == "tasks:upsert" and "Validator" in str(exc.value)


def test_bad_key_fails_at_once(convex):
    client = ConvexClient(convex, "wrong", max_attempts=3)
    t = time.monotonic()
    with pytest.raises(ConvexRequestError, match="HTTP 401 BadDeployKey.*CONVEX_DEPLOY_KEY"):
        client.query("tasks:status", {"taskId": "t1"})
    assert time.monotonic() - t < 1.0  # not retried


def test_outage_is_retried_then_reported(convex):
    httpx.post(convex + "/_test/outage", json={"on": True})
    client = ConvexClient(convex, KEY, max_attempts=3, backoff=0.01)
    with pytest.raises(ConvexUnavailable, match="after 3 attempts: HTTP 503"):
        client.query("tasks:status", {"taskId": "t1"})


def test_wire_contract_of_the_stand_in(convex):
    """The stand-in answers like a deployment: /api/run, bad JSON, unknown route."""
    h = {"Authorization": f"Convex {KEY}"}
    r = httpx.post(convex + "/api/run/tasks/status", headers=h, json={"args": {"taskId": "x"}, "format": "json"})
    assert r.json() == {"status": "success", "value": None, "logLines": []}
    r = httpx.post(convex + "/api/query", headers=h, content=b"{not json")
    assert r.status_code == 400 and r.json()["code"] == "BadJsonBody"


def test_outbox_keeps_order_through_an_outage_and_marks_rejections_dead(convex, tmp_path):
    client = ConvexClient(convex, KEY, max_attempts=1)
    outbox = ConvexOutbox(tmp_path / "outbox.sqlite")
    httpx.post(convex + "/_test/outage", json={"on": True})
    for progress in (10, 50, 90):
        outbox.enqueue("tasks:upsert", {**TASK, "status": "progress", "progress": progress,
                                        "updatedAt": f"2026-01-01T00:00:{progress:02d}Z"})
        assert outbox.flush(client) == 0
    assert len(outbox.pending()) == 3
    httpx.post(convex + "/_test/outage", json={"on": False})
    assert outbox.flush(client) == 3 and outbox.pending() == []
    assert client.query("tasks:status", {"taskId": "t1"})["progress"] == 90
    outbox.enqueue("tasks:upsert", {"taskId": "t1"})
    with pytest.raises(ConvexFunctionError, match="tasks:upsert"):
        outbox.flush(client)
    assert outbox.pending() == [] and outbox.dead()[0]["path"] == "tasks:upsert"


def _normalise(dump: dict, project: str) -> dict:
    """Records without ids, times, checksums and per-render numbers, for comparing two runs."""
    volatile = {"_id", "_creationTime", "createdAt", "updatedAt", "completedAt", "sha256", "bytes",
                "versionId", "duration", "totalDuration", "taskId", "message"}

    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in sorted(x.items()) if k not in volatile}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x.replace(project, "P") if isinstance(x, str) else x

    return {t: sorted(json.dumps(clean(r), sort_keys=True) for r in rows) for t, rows in dump.items()}


@pytest.mark.slow
def test_outage_mid_generation_loses_nothing(convex, var_dir, tmp_path):
    env = {"CONVEX_DEPLOYMENT_URL": convex, "CONVEX_DEPLOY_KEY": KEY}
    args = ["generate", "Explain the Pythagorean theorem", "--scenes", "2", "--max-scene-duration", "3",
            "--session", "s1", "--json"]
    os.environ.update(env)
    try:
        calm = run_cli([*args, "--project", "calm"], var_dir)
        assert calm.returncode == 0, calm.stderr[-2000:]
        reference = _dump(convex)
        httpx.post(convex + "/_test/reset")
        # Convex goes down once the plan is mirrored, and comes back after the video is done.
        stormy_dir = tmp_path / "stormy"
        stormy_dir.mkdir()
        proc = subprocess.Popen(
            [os.sys.executable, "-m", "videogen_dagster.cli", *args, "--project", "stormy"], cwd=REPO,
            env={**os.environ, "VIDEOGEN_VAR_DIR": str(stormy_dir), "DAGSTER_HOME": str(stormy_dir / "dagster")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _dump(convex)["videos"]:
            time.sleep(0.05)
        httpx.post(convex + "/_test/outage", json={"on": True})
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        missing = ConvexOutbox(stormy_dir / "convex_outbox.sqlite").pending()
        assert missing, "the outage should have left updates waiting"
        httpx.post(convex + "/_test/outage", json={"on": False})
        store = MirroredMetadataStore(stormy_dir / "metadata.sqlite", ConvexClient(convex, KEY),
                                      ConvexOutbox(stormy_dir / "convex_outbox.sqlite"))
        assert store.flush() == len(missing)
    finally:
        for k in env:
            os.environ.pop(k, None)
    after = _dump(convex)
    assert _normalise(after, "stormy") == _normalise(reference, "calm")
    assert [t["status"] for t in after["tasks"]] == ["completed"]
    assert len(after["sceneVersions"]) == 2

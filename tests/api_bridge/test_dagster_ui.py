"""The Dagster UI as a way to work, checked in a real browser (Debian's headless Chromium) and over
the webserver's GraphQL: after a 3-scene generation the scene asset has exactly three partitions
for the video, named readably; the materialisation shows a thumbnail the browser can open; a
refused edit leaves the scene materialised; the same request again makes nothing."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.api_bridge.conftest import BASE, start_stack, token

pytestmark = pytest.mark.slow

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--virtual-time-budget=25000", "--window-size=1500,1000"]

PARTITIONS = """query($key: [String!]!) { assetNodeOrError(assetKey: {path: $key}) { ... on AssetNode {
  partitionKeysByDimension { name partitionKeys }
  assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } } }"""
LATEST = """query($key: [String!]!, $p: String!) { assetOrError(assetKey: {path: $key}) { ... on Asset {
  assetMaterializations(partitions: [$p], limit: 1) { runId tags { key value }
    metadataEntries { label ... on MarkdownMetadataEntry { mdStr } ... on UrlMetadataEntry { url }
                      ... on BoolMetadataEntry { boolValue } ... on IntMetadataEntry { intValue }
                      ... on TextMetadataEntry { text } } } } } }"""
STALE = """query($key: [String!]!, $p: String!) { assetNodeOrError(assetKey: {path: $key}) { ... on AssetNode {
  staleStatus(partition: $p) } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("var"), public_url=True)
    try:
        yield stack
    finally:
        stack.stop()


def _gql(stack, query: str, **variables) -> dict:
    r = httpx.post(stack.graphql, json={"query": query, "variables": variables}, timeout=60)
    r.raise_for_status()
    body = r.json()
    assert "errors" not in body, body
    return body["data"]


def _wait(client: httpx.Client, task_id: str, headers: dict, timeout: float = 420) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = client.get(f"{BASE}/tasks/{task_id}/status", headers=headers).json()
        if s["status"] in ("completed", "failed", "cancelled"):
            return s
        time.sleep(0.5)
    raise TimeoutError(task_id)


def _entries(stack, asset: str, partition: str) -> tuple[dict, dict]:
    [mat] = _gql(stack, LATEST, key=[asset], p=partition)["assetOrError"]["assetMaterializations"]
    values = {}
    for e in mat["metadataEntries"]:
        values[e["label"]] = next((e[k] for k in ("mdStr", "url", "boolValue", "intValue", "text") if k in e), None)
    return values, {t["key"]: t["value"] for t in mat["tags"]}


def _browser(url: str, out: Path, dump: bool) -> str:
    """The page's DOM after it settled (and a screenshot of it in `out`)."""
    profile = out.with_suffix(".profile")
    shot = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", f"--screenshot={out}", url],
                          capture_output=True, timeout=120)
    assert out.exists(), shot.stderr[-2000:]
    if not dump:
        return ""
    dom = subprocess.run([*CHROMIUM, f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    return dom.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (make deps installs it)")
def test_scene_partitions_previews_checks_and_reuse_in_the_ui(ui):
    headers = token(["ui"])
    client = ui.client(60)
    r = client.post(f"{BASE}/generate", headers=headers, json={
        "project_id": "ui", "content_prompt": "Explain the Pythagorean theorem", "scene_count": 3,
        "render_config": {"quality": "preview", "max_scene_duration": 4}})
    assert r.status_code == 202, r.text
    first = _wait(client, r.json()["task_id"], headers)
    assert first["status"] == "completed", first
    result = client.get(f"{BASE}/tasks/{first['task_id']}/result", headers=headers).json()["result"]
    video = f"ui.{result['session_id']}"
    assert result["session_id"].startswith("pythagorean-theorem-")  # readable, from the prompt
    scenes = [f"{video}/0{n}" for n in (1, 2, 3)]

    # GraphQL: exactly the video's three scenes, all materialised, none failed; briefs too.
    for asset in ("scene_video", "scene_brief"):
        node = _gql(ui, PARTITIONS, key=[asset])["assetNodeOrError"]
        keys = [k for d in node["partitionKeysByDimension"] for k in d["partitionKeys"]]
        assert [k for k in keys if k.startswith(video)] == scenes
        assert keys == scenes  # no phantom scene slot of any video
    statuses = _gql(ui, PARTITIONS, key=["scene_video"])["assetNodeOrError"]["assetPartitionStatuses"]
    assert sorted(statuses["materializedPartitions"]) == scenes and statuses["failedPartitions"] == []

    # The materialisation names the video and the scene, and shows a thumbnail over HTTP.
    meta, tags = _entries(ui, "scene_video", scenes[0])
    assert meta["video"] == video and meta["scene_title"] and meta["reused"] is False
    assert tags.get("dagster/data_version") and tags.get("dagster/code_version", "").startswith("manim-")
    preview = meta["preview"]
    thumb = preview.split("](", 2)[1].split(")", 1)[0]
    assert thumb.startswith(f"http://127.0.0.1:{ui.api}/api/v1/objects/"), preview
    got = httpx.get(thumb, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert _gql(ui, STALE, key=["scene_video"], p=scenes[0])["assetNodeOrError"]["staleStatus"] == "FRESH"

    # A real browser: the partitions page lists the three scenes, the materialisation shows the image.
    out = ui.var / "screens"
    out.mkdir(exist_ok=True)
    web = f"http://127.0.0.1:{ui.web}"
    dom = _browser(f"{web}/assets/scene_video?view=partitions", out / "partitions.png", dump=True)
    assert all(k in dom for k in scenes), dom[-3000:]
    assert f"{video}/04" not in dom
    assert "Join the Dagster community" not in dom  # dagster.yaml turns the dialog off
    dom = _browser(f"{web}/assets/scene_video?view=partitions&partition={quote(scenes[0], safe='')}",
                   out / "materialization.png", dump=True)
    assert "/api/v1/objects/" in dom and "thumbnail.jpg" in dom, dom[-3000:]

    # A refused edit launched as a UI user would: the run fails, the partition stays materialised.
    runs_before = _gql(ui, PARTITIONS, key=["scene_video"])["assetNodeOrError"]["assetPartitionStatuses"]
    params = {"selector": {"repositoryLocationName": "videogen_dagster", "repositoryName": "__repository__",
                           "jobName": "scene_job"},
              "executionMetadata": {"tags": [{"key": "dagster/partition", "value": scenes[1]}]},
              "runConfigData": {"ops": {"scene_assets": {"config": {"edit_prompt": "add a dancing cat"}}}}}
    launched = _gql(ui, LAUNCH, p=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + 180
    while _gql(ui, RUN, id=run_id)["runOrError"]["status"] not in ("FAILURE", "SUCCESS", "CANCELED"):
        assert time.monotonic() < deadline
        time.sleep(1)
    assert _gql(ui, RUN, id=run_id)["runOrError"]["status"] == "FAILURE"
    after = _gql(ui, PARTITIONS, key=["scene_video"])["assetNodeOrError"]["assetPartitionStatuses"]
    assert after["failedPartitions"] == [] and sorted(after["materializedPartitions"]) == sorted(
        runs_before["materializedPartitions"])
    meta, _ = _entries(ui, "scene_video", scenes[1])
    assert meta["version"] == 1 and "Not applied" in meta["edit_refused"]
    scene2 = client.get(f"{BASE}/tasks/{first['task_id']}/result", headers=headers).json()["result"]["scenes"][1]
    assert scene2["status"] == "completed" and scene2["version"] == 1

    # The same request again: nothing rendered, one plan run, the same versions.
    again = client.post(f"{BASE}/generate", headers=headers, json={
        "project_id": "ui", "session_id": result["session_id"], "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 3, "render_config": {"quality": "preview", "max_scene_duration": 4}})
    second = _wait(client, again.json()["task_id"], headers)
    assert second["status"] == "completed" and "nothing changed" in second["message"], second
    res2 = client.get(f"{BASE}/tasks/{second['task_id']}/result", headers=headers).json()["result"]
    assert [s["version"] for s in res2["scenes"]] == [1, 1, 1]
    assert res2["combined_version"] == result["combined_version"]
    # The task completes inside the plan step, a moment before its materialisation is logged.
    deadline = time.monotonic() + 60
    while not (meta := _entries(ui, "scene_plan", video)[0])["reused"]:
        assert time.monotonic() < deadline, meta
        time.sleep(0.5)
    assert meta["unchanged"] is True

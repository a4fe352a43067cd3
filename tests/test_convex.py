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

from videogen_dagster.stores.convex import (
    LOCAL_ONLY,
    MIRRORS,
    ConvexClient,
    ConvexFunctionError,
    ConvexOutbox,
    ConvexRequestError,
    ConvexStale,
    ConvexUnavailable,
    MirroredMetadataStore,
)
from videogen_dagster.stores.metastore import WRITERS, BatchEntry, Conflict, SqliteMetadataStore

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


class RecordingClient(ConvexClient):
    """The real client, noting which mutations it sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def mutation(self, path, args):
        self.sent.append(path)
        return super().mutation(path, args)


def _assets(tag: str) -> dict:
    return {
        kind: {"bucket": "b", "key": f"p/s/scene_1/{tag}/{kind}", "version_id": "v1", "sha256": "ab" * 32,
               "bytes": 10, "content_type": ctype}
        for kind, ctype in (("video", "video/mp4"), ("source", "text/x-python"))
    }


PLAN = {"scene_count": 1, "scenes": [{"scene_number": 1, "title": "Intro"}]}
COMBINED = {"video": _assets("all")["video"], "subtitles_srt": _assets("srt")["source"],
            "subtitles_vtt": _assets("vtt")["source"]}
USAGE = {"calls": 2, "prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120, "cost_usd": 0.01}

# Every writer of the MetadataWriter protocol, called through the mirrored store in the order a
# generation, then an edit (new version, then in place), then the other endpoints call them,
# with the Convex mutations each must send (none: LOCAL_ONLY).
WRITES: list[tuple[str, tuple, dict, tuple[str, ...]]] = [
    ("register_video", ("p.s", "p", "s", {"content_prompt": "x", "scene_count": 1}), {}, ("videos:upsert",)),
    ("register_video", ("p.t", "p", "t", {"content_prompt": "y", "scene_count": 1}), {}, ("videos:upsert",)),
    ("create_task", ("t1", "generate", "p", "s", "p.s", 6, "preview"),
     {"exclusive": True, "request": {"content_prompt": "x", "scene_count": 1}}, ("videos:upsert", "tasks:upsert")),
    ("start_task", ("t1",), {}, ("tasks:upsert",)),
    ("save_plan", ("p.s", PLAN, 1, {"plan": True}), {}, ("videos:upsert",)),
    ("add_llm_usage", ("p.s", USAGE), {}, ("videos:upsert",)),
    ("set_scene_status", ("p.s", 1, "s_scene_1", "Intro", "rendering"), {}, ("scenes:setStatus",)),
    ("record_scene_preview", ("p.s", 1, {"version": 1, "key": "p/s/scene_1/v1/preview.mp4", "duration": 4.0,
                                         "width": 854, "height": 480, "fps": 15.0}), {}, ()),
    ("record_scene_version", ("p.s", 1, "s_scene_1", "Intro", 1, _assets("v1"), 4.0, 2.5, "preview", "t1", "r"),
     {}, ("scenes:recordVersion",)),
    ("claim_join", ("p.s", "1:1"), {}, ()),
    ("release_join", ("p.s", "1:1"), {}, ()),
    ("set_join_token", ("p.s", "1:1"), {}, ()),
    ("save_combined", ("p.s", 1, COMBINED, 4.0), {}, ("videos:upsert",)),
    ("update_task", ("t1",), {"status": "completed", "progress": 100, "message": "done"}, ("tasks:upsert",)),
    ("create_task", ("e1", "edit", "p", "s", "p.s", 4, "preview"), {"scene_id": "s_scene_1", "exclusive": True},
     ("tasks:upsert",)),
    ("record_scene_version", ("p.s", 1, "s_scene_1", "Intro", 2, _assets("v2"), 4.1, 2.0, "preview", "e1", "r"),
     {"edit_prompt": "make it blue"}, ("scenes:recordVersion",)),
    ("record_edit", ("p.s", 1, 1, 2, "make it blue", "offline-editor", ["colour"], "e1"), {}, ("scenes:recordEdit",)),
    ("set_scene_status", ("p.s", 1, "s_scene_1", "Intro", "rendering"), {}, ("scenes:setStatus",)),
    ("replace_scene_version", ("p.s", 1, 2, _assets("v2/r2"), 4.2, {"attempts": []}), {}, ("scenes:replaceVersion",)),
    ("save_scene_plan", ("p.s", 1, {"scene_number": 1, "title": "Intro (blue)"}), {}, ("videos:upsert",)),
    ("update_task", ("e1",), {"status": "failed", "error": "boom"}, ("tasks:upsert",)),
    ("reopen_task", ("e1", "Retrying"), {}, ("tasks:upsert",)),
    ("create_agent_render", ("a1", None), {}, ()),
    ("finish_agent_render", ("a1", "completed"), {"result": {"video": "k"}}, ()),
    ("create_batch", ("b1", "topics", "api", [BatchEntry(1, "t1")]), {}, ()),
    ("finish_batch", ("b1", {"completed": 1}), {}, ()),
    ("claim_delivery", (1, 0.0, 10.0), {}, ()),
    ("record_delivery", (1, True, 200, None, None), {}, ()),
    ("delete_video", ("p.t",), {}, ("videos:remove",)),  # p.s is what the test then compares
]


def test_the_write_table_calls_every_writer_of_the_protocol():
    assert {name for name, *_ in WRITES} == set(WRITERS)
    for name, _, _, functions in WRITES:
        assert bool(functions) == (name in MIRRORS) != (name in LOCAL_ONLY), name
        assert set(functions) <= set(MIRRORS[name].functions if functions else ()), name


def test_every_write_reaches_convex_or_is_declared_local_only(convex, tmp_path):
    inner = SqliteMetadataStore(tmp_path / "m.sqlite")
    client = RecordingClient(convex, KEY)
    store = MirroredMetadataStore(inner, client, ConvexOutbox(tmp_path / "outbox.sqlite"))
    for name, args, kwargs, functions in WRITES:
        client.sent.clear()
        getattr(store, name)(*args, **kwargs)
        assert tuple(client.sent) == functions, f"{name} sent {client.sent}, not {functions}"
    assert store.outbox.pending() == [] and store.outbox.dead() == []
    # The local writes happened (reads go to the wrapped store) ...
    assert store.get_task("e1") == inner.get_task("e1") and inner.get_task("e1").status == "progress"
    assert inner.get_batch("b1").status == "done" and inner.get_agent_render("a1")["status"] == "completed"
    # ... and Convex holds what the local store holds.
    dump = _dump(convex)
    assert {t["taskId"]: t["status"] for t in dump["tasks"]} == {"t1": "completed", "e1": "progress"}
    (video,) = dump["videos"]
    assert (video["planVersion"], video["combinedVersion"], video["llmUsage"]) == (
        1, 1, {"calls": 2, "promptTokens": 100, "completionTokens": 20, "totalTokens": 120, "costUsd": 0.01})
    (scene,) = dump["scenes"]
    assert (scene["version"], scene["status"], scene["duration"]) == (2, "completed", 4.2)
    v1, v2 = sorted(dump["sceneVersions"], key=lambda v: v["version"])
    assert v2["editPrompt"] == "make it blue" and v2["fromVersion"] == 1 and "replacedAt" not in v1
    assert {a["key"] for a in v2["assets"]} == {a["key"] for a in _assets("v2/r2").values()} and v2["replacedAt"]
    (edit,) = dump["sceneEdits"]
    assert (edit["fromVersion"], edit["toVersion"], edit["applied"], edit["taskId"]) == (1, 2, ["colour"], "e1")


def test_an_edit_starts_only_from_a_scene_convex_agrees_on(convex, tmp_path):
    inner = SqliteMetadataStore(tmp_path / "m.sqlite")
    store = MirroredMetadataStore(inner, ConvexClient(convex, KEY, max_attempts=1), ConvexOutbox(tmp_path / "o.sqlite"))
    store.record_scene_version("p.s", 1, "s_scene_1", "Intro", 1, _assets("v1"), 4.0, 2.5, "preview", "t1", "r")
    assert store.current_scene("p.s", 1).version == 1
    # A version written past the mirror: the two disagree, and the edit must not start.
    inner.record_scene_version("p.s", 1, "s_scene_1", "Intro", 2, _assets("v2"), 4.0, 2.5, "preview", "t1", "r")
    with pytest.raises(ConvexStale, match="Convex has version 1, the pipeline 2") as exc:
        store.current_scene("p.s", 1)
    assert isinstance(exc.value, Conflict)
    httpx.post(convex + "/_test/outage", json={"on": True})
    store.set_scene_status("p.s", 1, "s_scene_1", "Intro", "rendering")  # waits in the outbox
    with pytest.raises(ConvexUnavailable, match="an edit needs the scene's current metadata"):
        store.current_scene("p.s", 1)


def test_removing_a_video_removes_it_from_convex_too_even_after_an_outage(convex, tmp_path):
    inner = SqliteMetadataStore(tmp_path / "m.sqlite")
    store = MirroredMetadataStore(inner, ConvexClient(convex, KEY, max_attempts=1), ConvexOutbox(tmp_path / "o.sqlite"))
    for key in ("p.s", "p.u"):
        store.create_task(f"t-{key}", "generate", "p", key[2:], key, 6, "preview",
                          request={"content_prompt": "x", "scene_count": 1})
        store.record_scene_version(key, 1, f"{key[2:]}_scene_1", "Intro", 1, _assets("v1"), 4.0, 2.5, "preview",
                                   f"t-{key}", "r")
        store.record_edit(key, 1, 1, 1, "make it blue", "offline-editor", ["colour"], f"t-{key}")
    with pytest.raises(Conflict, match="still being generated by task t-p.s"):
        store.delete_video("p.s")  # its task is queued: nothing removed, nothing sent
    assert len(_dump(convex)["videos"]) == 2
    store.update_task("t-p.s", status="completed", progress=100, message="done")
    httpx.post(convex + "/_test/outage", json={"on": True})
    removed = store.delete_video("p.s")
    assert removed.as_dict() == {"videos": 1, "tasks": 1, "scenes": 1, "scene_versions": 1, "scene_edits": 1}
    assert store.get_task("t-p.s") is None and inner.video_records("p.s").total == 0
    assert store.outbox.pending()[-1][1] == "videos:remove"
    httpx.post(convex + "/_test/outage", json={"on": False})
    store.flush()
    dump = _dump(convex)
    assert {v["videoKey"] for v in dump["videos"]} == {"p.u"}
    for table in ("tasks", "scenes", "sceneVersions", "sceneEdits"):
        assert {r["videoKey"] for r in dump[table]} == {"p.u"}, table


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
        store = MirroredMetadataStore(SqliteMetadataStore(stormy_dir / "metadata.sqlite"),
                                      ConvexClient(convex, KEY), ConvexOutbox(stormy_dir / "convex_outbox.sqlite"))
        assert store.flush() == len(missing)
    finally:
        for k in env:
            os.environ.pop(k, None)
    after = _dump(convex)
    assert _normalise(after, "stormy") == _normalise(reference, "calm")
    assert [t["status"] for t in after["tasks"]] == ["completed"]
    assert len(after["sceneVersions"]) == 2

"""Progressive rendering through the bridge: the request is accepted and stored, the status lists
each scene's preview (with a URL made when read) while the task runs, and the `scene.preview`
event carries the preview's URL (SSE and webhooks send EventPayloads)."""

from api_bridge.events import EventPayloads
from tests.api_bridge.test_routes import BASE, _generate, env  # noqa: F401 - the fixture
from videogen_dagster.stores.objectstore import StoreConfig

KEY = "projects/p1/s1/scenes/01/v1/preview.mp4"
PREVIEW = {"version": 1, "key": KEY, "duration": 4.0, "width": 854, "height": 480, "fps": 15.0,
           "render_seconds": 1.5, "seconds": 1.8, "created_at": "2026-01-01T00:00:01Z"}


def test_the_status_lists_the_previews_published_so_far(env, tmp_path):  # noqa: F811
    client, meta, dagster, _ = env
    r = _generate(client, session_id="s1", scene_count=2,
                  render_config={"quality": "high", "progressive": True})
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    assert meta.get_video("p1.s1").request["render_config"]["progressive"] is True
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert s["previews"] is None  # none yet

    # The scene run publishes scene 1's preview while its final render goes on.
    meta.start_task(task_id)
    meta.set_scene_status("p1.s1", 1, "s1_scene_1", "Intro", "rendering")
    meta.record_scene_preview("p1.s1", 1, PREVIEW)

    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    [p] = s["previews"]
    assert (p["scene_id"], p["scene_number"], p["version"], p["width"], p["height"]) == ("s1_scene_1", 1, 1, 854, 480)
    assert p["preview_url"].endswith(KEY) and s["status"] == "progress"

    # A second publication of the same scene (a retry) replaces the first; others are added.
    meta.set_scene_status("p1.s1", 2, "s1_scene_2", "Two", "rendering")
    meta.record_scene_preview("p1.s1", 2, {**PREVIEW, "key": KEY.replace("01", "02")})
    meta.record_scene_preview("p1.s1", 1, {**PREVIEW, "version": 2, "key": KEY.replace("v1", "v2")})
    s = client.get(f"{BASE}/tasks/{task_id}/status").json()
    assert [(p["scene_number"], p["version"]) for p in s["previews"]] == [(1, 2), (2, 1)]

    # The event, as SSE and webhooks send it: the preview's URL, no final-render fields.
    events = [e for e in meta.task_events(task_id) if e.type == "scene.preview"]
    assert len(events) == 3
    sent = EventPayloads(meta, StoreConfig(local_root=str(tmp_path / "objects"))).of(events[0])
    assert sent["type"] == "scene.preview" and sent["data"]["preview_url"].endswith(KEY)
    assert "s3_video_url" not in sent["data"] and sent["data"]["scene_number"] == 1


def test_a_task_of_another_video_gets_no_preview(env):  # noqa: F811
    client, meta, dagster, _ = env
    task_id = _generate(client, session_id="s2").json()["task_id"]
    meta.set_scene_status("p1.s1", 1, "s1_scene_1", "Intro", "rendering")
    meta.record_scene_preview("p1.s1", 1, PREVIEW)
    assert client.get(f"{BASE}/tasks/{task_id}/status").json()["previews"] is None
    assert not [e for e in meta.task_events(task_id) if e.type == "scene.preview"]


def test_the_request_model_and_the_openapi_document_offer_progressive(env):  # noqa: F811
    client, *_ = env
    doc = client.get("/openapi.json").json()["components"]["schemas"]
    assert doc["RenderConfig"]["properties"]["progressive"]["default"] is False
    assert "previews" in doc["TaskStatusPublic"]["properties"]
    assert "preview_url" in doc["SceneResultPublic"]["properties"]
    r = _generate(client, session_id="s3", render_config={"progressive": "yes please"})
    assert r.status_code == 400 and "render_config.progressive" in r.json()["detail"]

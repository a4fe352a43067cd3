"""A scene's preview (progressive rendering) in the metadata store, on both backends: the tasks
working on the scene list it (one per scene, the latest), a `scene.preview` event is appended and
a webhook delivery queued in the same transaction, and a task of another scene gets nothing."""

import pytest

from videogen_dagster.stores.metastore import SceneStatus

from .pg_server import BACKENDS, make_store

KEY = "demo.s1"
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(params=BACKENDS)
def meta(request, tmp_path):
    return make_store(request.param, request, tmp_path / "meta.sqlite")


def _preview(n: int, version: int = 1) -> dict:
    return {"version": version, "key": f"projects/demo/s1/scenes/{n:02d}/v{version}/preview.mp4",
            "duration": 3.0, "width": 854, "height": 480, "fps": 15.0}


def test_previews_are_listed_by_the_task_and_sent_as_events(meta):
    meta.create_task("t1", "generate", "demo", "s1", KEY, 5, "high", exclusive=True,
                     request={"content_prompt": "x"}, webhook_url=HOOK)
    meta.start_task("t1")
    for n in (2, 1):
        meta.set_scene_status(KEY, n, f"s1_scene_{n}", f"Scene {n}", SceneStatus.RENDERING)
        meta.record_scene_preview(KEY, n, _preview(n))
    meta.record_scene_preview(KEY, 2, _preview(2, version=2))  # a later one replaces it

    task = meta.get_task("t1")
    assert [(p["scene_number"], p["scene_id"], p["version"]) for p in task.previews] == [
        (1, "s1_scene_1", 1), (2, "s1_scene_2", 2)]
    events = [e for e in meta.task_events("t1") if e.type == "scene.preview"]
    assert [e.data["scene_number"] for e in events] == [2, 1, 2]
    assert events[0].data["objects"] == {"preview": _preview(2)["key"]}
    assert events[0].data["status"] == "rendering" and events[0].data["width"] == 854
    sent = {d.event_id for d in meta.task_deliveries("t1")}
    assert {e.id for e in events} <= sent
    # Other writes keep the list; a video's removal takes it with the task.
    meta.update_task("t1", progress=50, message="half")
    assert len(meta.get_task("t1").previews) == 2


def test_a_preview_with_no_scene_row_or_no_task_changes_nothing(meta):
    meta.record_scene_preview(KEY, 1, _preview(1))  # no scene row: nothing to say
    meta.set_scene_status(KEY, 1, "s1_scene_1", "Scene 1", SceneStatus.RENDERING)
    meta.create_task("e1", "edit", "demo", "s1", KEY, 4, "high", scene_id="s1_scene_2")
    meta.record_scene_preview(KEY, 1, _preview(1))  # an edit of another scene: not its preview
    assert meta.get_task("e1").previews == [] and meta.task_events("e1")[-1].type == "task.queued"

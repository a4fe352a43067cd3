"""The metadata store's task rules: progress only forward, one task at a time per video."""

import sqlite3
import threading

import pytest

from videogen_dagster.stores.metastore import (
    ACTIVE,
    FINISHED,
    Conflict,
    NotFound,
    SqliteMetadataStore,
    TaskStatus,
    VideoBusy,
)
from videogen_dagster.stores.metastore.schema import SCHEMA

from .pg_server import BACKENDS, make_store


@pytest.fixture(params=BACKENDS)
def meta(request, tmp_path):
    return make_store(request.param, request, tmp_path / "m.sqlite")


def test_progress_and_its_message_only_move_forward(meta):
    meta.create_task("t", "generate", "p", "s", "p.s", 6, "preview")
    meta.update_task("t", progress=50, message="Rendering scenes: 2 of 3 done", current_step="render_scene_3")
    meta.update_task("t", progress=33, message="Rendering scenes: 1 of 3 done", current_step="render_scene_1")
    task = meta.get_task("t")
    assert (task.progress, task.message, task.current_step) == (50, "Rendering scenes: 2 of 3 done", "render_scene_3")
    meta.update_task("t", progress=50, message="Rendering scenes: 2 of 3 done (scene 1 finished)")
    assert meta.get_task("t").message.endswith("(scene 1 finished)")
    meta.update_task("t", status="failed", error="boom", message="Scene 2 failed")
    assert meta.get_task("t").message == "Scene 2 failed"  # a status change always says why


def test_one_generation_per_video_even_when_requests_race(meta):
    outcomes = []

    def create(i):
        try:
            meta.create_task(f"t{i}", "generate", "p", "s", "p.s", 6, "preview", exclusive=True,
                             request={"content_prompt": f"prompt {i}"})
            outcomes.append(("ok", i))
        except VideoBusy as exc:
            outcomes.append(("busy", exc.task.task_id))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for kind, i in outcomes if kind == "ok"]
    assert len(winners) == 1 and len(outcomes) == 12
    # The stored request is the winner's: a refused request changed nothing.
    assert meta.get_video("p.s").request["content_prompt"] == f"prompt {winners[0]}"


def test_edits_of_different_scenes_may_run_together_but_not_of_the_same_scene(meta):
    meta.create_task("e1", "edit", "p", "s", "p.s", 4, "preview", scene_id="s_scene_1", exclusive=True)
    meta.create_task("e2", "edit", "p", "s", "p.s", 4, "preview", scene_id="s_scene_2", exclusive=True)
    with pytest.raises(VideoBusy, match="e1"):
        meta.create_task("e3", "edit", "p", "s", "p.s", 4, "preview", scene_id="s_scene_1", exclusive=True)
    with pytest.raises(Conflict):  # VideoBusy is the store's conflict error
        meta.create_task("g", "generate", "p", "s", "p.s", 6, "preview", exclusive=True, request={})
    meta.update_task("e1", status="completed")
    meta.update_task("e2", status="failed", error="x")
    meta.create_task("g", "generate", "p", "s", "p.s", 6, "preview", exclusive=True, request={})


def test_statuses_are_one_enum_and_a_finished_task_stays_finished(meta):
    assert set(FINISHED) | set(ACTIVE) == set(TaskStatus) and not set(FINISHED) & set(ACTIVE)
    meta.create_task("t", "generate", "p", "s", "p.s", 6, "preview")
    meta.start_task("t")
    assert meta.get_task("t").status == TaskStatus.PROGRESS
    meta.update_task("t", status=TaskStatus.CANCELLED, message="Cancelled")
    meta.update_task("t", status=TaskStatus.COMPLETED, progress=100)
    meta.update_task("t", status=TaskStatus.PROGRESS, progress=50)
    assert meta.get_task("t").status == "cancelled" and not meta.reopen_task("t", "retry")


def test_a_scene_plan_needs_the_videos_plan(meta):
    with pytest.raises(NotFound, match="video p.s has no plan"):
        meta.save_scene_plan("p.s", 1, {"scene_number": 1})
    meta.register_video("p.s", "p", "s", {})
    meta.save_plan("p.s", {"scenes": [{"scene_number": 1, "title": "A"}, {"scene_number": 2, "title": "B"}]}, 1, {})
    meta.save_scene_plan("p.s", 2, {"scene_number": 2, "title": "B, edited"})
    assert [s["title"] for s in meta.get_video("p.s").plan["scenes"]] == ["A", "B, edited"]


def test_a_store_made_before_the_later_columns_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace("    llm_usage TEXT,\n", "").replace("    extra TEXT,\n", ""))
        assert "llm_usage" not in {r[1] for r in db.execute("PRAGMA table_info(videos)")}
    meta = SqliteMetadataStore(path)
    meta.register_video("p.s", "p", "s", {})
    meta.add_llm_usage("p.s", {"calls": 1, "cost_usd": 0.5})
    assert meta.get_video("p.s").llm_usage["calls"] == 1
    assert meta.claim_join("p.s", "1:1") and not meta.claim_join("p.s", "1:1")

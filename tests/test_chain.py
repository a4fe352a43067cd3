"""The chain inside Dagster: plan -> scenes -> combine, and a re-materialised scene re-joins."""

import json

import dagster as dg
import pytest

from videogen_dagster import pipeline
from videogen_dagster.assets.common import services
from videogen_dagster.tags import TASK_TAG

from .dagster_fixtures import tick as _tick
from .dagster_fixtures import video_instance

pytestmark = pytest.mark.slow

VIDEO = "chain.s1"


def pipeline_services(resources):
    return services(resources["storage"], resources["metadata"], resources["llm"], resources["renderer"])


def _execute(defs, instance, request: dg.RunRequest, rejoin: bool = True):
    job = defs.resolve_job_def(request.job_name)
    key = request.partition_key
    run_config = None
    if "/" in key:
        run_config = {"ops": {"scene_assets": {"config": {"rejoin": rejoin}}}}
    return job.execute_in_process(instance=instance, partition_key=key, tags=request.tags, run_config=run_config)


def _joins(instance, video=VIDEO):
    """The combined_video materialisations of the video, oldest first, with their run's job."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("combined_video"), asset_partitions=[video]), limit=20
    ).records
    return [(instance.get_run_by_id(r.run_id).job_name, r.storage_id) for r in reversed(records)]


def test_chain_advances_and_rejoins(var_dir):
    with video_instance(var_dir, VIDEO, {
        "project_id": "chain", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 2, "render_config": {"quality": "preview", "max_scene_duration": 4},
    }) as (instance, defs, meta, resources):
        meta.create_task("t1", "generate", "chain", "s1", VIDEO, 5, "preview")
        defs.resolve_job_def("plan_job").execute_in_process(
            instance=instance, partition_key=VIDEO, tags={TASK_TAG: "t1"}
        )
        requests, cursor = _tick(instance, defs, None)
        assert sorted(r.partition_key for r in requests) == ["chain.s1/01", "chain.s1/02"]
        # The video's scene partitions are exactly its planned scenes.
        assert instance.get_dynamic_partitions("scenes") == ["chain.s1/01", "chain.s1/02"]
        assert all(r.job_name == "scene_job" and r.tags[TASK_TAG] == "t1" for r in requests)
        assert len({r.run_key for r in requests}) == 2

        # One scene done: not yet time to join.
        _execute(defs, instance, requests[0])
        again, cursor = _tick(instance, defs, cursor)
        assert again == [] and _joins(instance) == []
        # The last scene run finds every scene rendered and joins the video itself.
        _execute(defs, instance, requests[1])
        task = meta.get_task("t1")
        assert task.status == "completed" and task.progress == 100
        assert meta.get_video(VIDEO).combined_version == 1
        assert [job for job, _ in _joins(instance)] == ["scene_job"]
        assert _tick(instance, defs, cursor)[0] == []
        # The same scenes are never joined twice: the claim is taken.
        assert pipeline.join_when_complete(pipeline_services(resources), VIDEO, None) is None

        # Re-materialise scene 2 (forced: its inputs are unchanged) with the join left to the
        # sensor (`rejoin: false`).
        scene_job = defs.resolve_job_def("scene_job")
        scene_job.execute_in_process(instance=instance, partition_key=f"{VIDEO}/02",
                                     run_config={"ops": {"scene_assets": {"config": {"rejoin": False, "force": True}}}})
        # A tick that lands while a scene run of the video is still finishing decides nothing,
        # and keeps the video for the next tick (it used to forget it: the join never came).
        finishing = dg.DagsterRun(
            job_name="scene_job", run_id="finishing", status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": f"{VIDEO}/02", "videogen/kind": "scene"},
        )
        instance.add_run(finishing)
        again, cursor = _tick(instance, defs, cursor)
        assert again == [] and json.loads(cursor)["waiting"] == [VIDEO]
        instance.delete_run("finishing")
        requests, cursor = _tick(instance, defs, cursor)
        assert [(r.job_name, r.partition_key) for r in requests] == [("combine_job", VIDEO)]
        assert json.loads(cursor)["waiting"] == []
        _execute(defs, instance, requests[0])
        assert meta.get_video(VIDEO).combined_version == 2
        assert _tick(instance, defs, cursor)[0] == []

        # Re-materialise scene 1 as the UI would (no task tag) but forced: re-joined in the run.
        scene_job.execute_in_process(
            instance=instance, partition_key=f"{VIDEO}/01",
            run_config={"ops": {"scene_assets": {"config": {"force": True}}}},
        )
        assert meta.get_video(VIDEO).combined_version == 3
        assert [job for job, _ in _joins(instance)] == ["scene_job", "combine_job", "scene_job"]
        assert _tick(instance, defs, cursor)[0] == []
        assert meta.get_scene(VIDEO, 1).version == 2
        assert meta.get_scene(VIDEO, 2).version == 2
        # Old versions stay in storage.
        v1 = meta.scene_history(VIDEO, 2)[0].assets["video"]["key"]
        assert resources["storage"].store_config().store_for(None).exists(v1)

        # A scene the plan does not have is no partition at all.
        with pytest.raises(dg.DagsterUnknownPartitionError, match=r"chain.s1/05"):
            scene_job.execute_in_process(instance=instance, partition_key=f"{VIDEO}/05")
        # Without force, an unchanged scene is reused: no new version, no new join.
        scene_job.execute_in_process(instance=instance, partition_key=f"{VIDEO}/01")
        assert meta.get_scene(VIDEO, 1).version == 2 and meta.get_video(VIDEO).combined_version == 3


def test_cli_driven_runs_are_left_to_the_cli(var_dir):
    """A plan run tagged driver=cli does not make the sensor launch scenes a second time."""
    request = {"project_id": "chain", "session_id": "s1", "content_prompt": "Explain gravity", "scene_count": 1}
    with video_instance(var_dir, VIDEO, request) as (instance, defs, _, _):
        defs.resolve_job_def("plan_job").execute_in_process(
            instance=instance, partition_key=VIDEO, tags={"videogen/driver": "cli"}
        )
        assert _tick(instance, defs, None)[0] == []


def test_edit_config_and_cancelled_task_stop_the_chain(var_dir):
    with video_instance(var_dir, VIDEO, {
        "project_id": "chain", "session_id": "s1", "content_prompt": "Explain the Pythagorean theorem",
        "scene_count": 1, "render_config": {"quality": "preview", "max_scene_duration": 3},
    }) as (instance, defs, meta, resources):
        meta.create_task("t2", "generate", "chain", "s1", VIDEO, 4, "preview")
        defs.resolve_job_def("plan_job").execute_in_process(
            instance=instance, partition_key=VIDEO, tags={TASK_TAG: "t2"}
        )
        meta.update_task("t2", status="cancelled", message="Task cancelled by user")
        assert _tick(instance, defs, None)[0] == []

        key = f"{VIDEO}/01"
        scene_job = defs.resolve_job_def("scene_job")
        scene_job.execute_in_process(instance=instance, partition_key=key)
        before = meta.get_scene(VIDEO, 1)
        edit = {"ops": {"scene_assets": {"config": {"edit_prompt": "make the triangle blue and slower"}}}}
        scene_job.execute_in_process(instance=instance, partition_key=key, run_config=edit)
        after = meta.get_scene(VIDEO, 1)
        # The edit re-joined its video in the same run: the join is logged after the scene, so
        # the chain sensor has nothing left to do.
        assert meta.get_video(VIDEO).combined_version == 2  # 1: the first render joined it
        joined = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("combined_video"), asset_partitions=[VIDEO]), limit=5
        ).records
        edited = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("scene_video"), asset_partitions=[f"{VIDEO}/01"]), limit=1
        ).records[0]
        assert len(joined) == 2 and joined[0].run_id == edited.run_id and joined[0].storage_id > edited.storage_id
        assert joined[0].asset_materialization.metadata["version"].value == 2
        assert after.version == before.version + 1
        assert abs(after.duration - before.duration) <= 0.1  # speed edits keep the timing
        history = meta.scene_history(VIDEO, 1)
        assert history[-1].edit_prompt == "make the triangle blue and slower"
        source = resources["storage"].store_config().store_for(None).get_bytes(after.assets["source"]["key"]).decode()
        assert "ACCENT = '#3b82f6'" in source

        with pytest.raises(dg.Failure, match="offline editor cannot apply"):
            scene_job.execute_in_process(
                instance=instance, partition_key=key,
                run_config={"ops": {"scene_assets": {"config": {"edit_prompt": "add a dancing cat"}}}},
            )
        assert meta.get_scene(VIDEO, 1).version == after.version


def test_join_claims_are_taken_once_per_set_of_scenes(tmp_path):
    """Two scene runs that finish together: exactly one joins; a changed scene may join again."""
    from videogen_dagster.stores.metastore import Scene, SceneStatus, SqliteMetadataStore

    a, b = SqliteMetadataStore(tmp_path / "m.db"), SqliteMetadataStore(tmp_path / "m.db")
    a.register_video(VIDEO, "chain", "s1", {"project_id": "chain"})
    assert a.claim_join(VIDEO, "1:1:aa,2:1:bb") is True
    assert b.claim_join(VIDEO, "1:1:aa,2:1:bb") is False
    assert b.claim_join(VIDEO, "1:1:aa,2:2:cc") is True
    b.release_join(VIDEO, "1:1:aa,2:2:cc")  # that join failed: the same scenes may be joined later
    assert a.claim_join(VIDEO, "1:1:aa,2:2:cc") is True
    scenes = {1: Scene(VIDEO, 1, "s1_scene_1", "T", SceneStatus.COMPLETED, 1, 4.0, {"video": {"sha256": "aa"}})}
    assert pipeline.scenes_token(scenes, 1) == "1:1:aa"
    assert pipeline.scenes_token(scenes, 2) is None  # scene 2 not rendered yet

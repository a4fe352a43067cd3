"""The code location loads, and its shape changes only on purpose."""

from videogen_dagster.definitions import defs


def test_asset_keys_snapshot():
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == [
        "combined_video",
        "scene_plan",
        "scene_source",
        "scene_subtitles",
        "scene_thumbnail",
        "scene_video",
        "video_manifest",
    ]


def test_jobs_sensors_schedules_snapshot():
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert jobs == ["agent_render_job", "batch_from_topics_job", "combine_job", "plan_job", "scene_job"]
    assert sorted(s.name for s in defs.sensors or []) == ["batch_sensor", "convex_outbox_sensor", "video_chain_sensor"]
    assert sorted(s.name for s in defs.schedules or []) == ["nightly_batch_schedule"]


def test_every_asset_has_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key} has no description"


def test_scene_assets_map_to_their_video():
    graph = defs.resolve_asset_graph()
    scene = graph.get(__import__("dagster").AssetKey("scene_video"))
    assert scene.partitions_def.partition_dimension_names == ["scene", "video"]

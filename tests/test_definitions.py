"""The code location loads, and its shape changes only on purpose."""

from videogen_dagster.definitions import defs


def test_asset_keys_snapshot():
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == [
        "combined_video",
        "scene_brief",
        "scene_plan",
        "scene_source",
        "scene_subtitles",
        "scene_thumbnail",
        "scene_video",
        "video_manifest",
    ]


def test_jobs_sensors_schedules_snapshot():
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    assert jobs == ["agent_render_job", "batch_from_topics_job", "combine_job", "plan_job", "remove_video_job",
                    "scene_job"]
    assert sorted(s.name for s in defs.sensors or []) == ["batch_sensor", "convex_outbox_sensor", "video_chain_sensor"]
    assert sorted(s.name for s in defs.schedules or []) == ["nightly_batch_schedule"]


def test_every_asset_has_a_description():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key} has no description"


def test_scene_partitions_are_one_dynamic_key_per_scene_with_built_in_mappings():
    """Scenes are their own dynamic partitions (no cross product of slots and videos); every
    partition mapping is a built-in one, so the UI and the daemon see the same lineage."""
    import dagster as dg
    from dagster._core.definitions.partitions.utils import get_builtin_partition_mapping_types

    graph = defs.resolve_asset_graph()
    for key in ("scene_brief", "scene_source", "scene_video", "scene_thumbnail", "scene_subtitles"):
        node = graph.get(dg.AssetKey(key))
        assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
        assert node.partitions_def.name == "scenes"
    for key in graph.get_all_asset_keys():
        for parent in graph.get(key).parent_keys:
            mapping = graph.get_partition_mapping(key, parent)
            assert isinstance(mapping, get_builtin_partition_mapping_types()), (key, parent, mapping)
    # The scene assets depend on their own brief, partition by partition.
    video = graph.get(dg.AssetKey("scene_video"))
    assert dg.AssetKey("scene_brief") in video.parent_keys
    assert isinstance(graph.get_partition_mapping(dg.AssetKey("scene_video"), dg.AssetKey("scene_brief")), dg.IdentityPartitionMapping)
    assert video.code_version and video.code_version.startswith("manim-")


def test_scene_partition_keys_round_trip():
    from videogen_dagster.partitions import scene_partition_key, split_scene_partition_key, video_of

    assert scene_partition_key("demo.pythagorean-theorem-3f9a2b", 2) == "demo.pythagorean-theorem-3f9a2b/02"
    assert split_scene_partition_key("demo.s1/12") == ("demo.s1", 12)
    for bad in ("demo.s1", "demo.s1/1", "demo.s1/13", "/01", "demo.s1/ab"):
        assert video_of(bad) is None

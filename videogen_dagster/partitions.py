"""Partitions: one dynamic `videos` key per video, one dynamic `scenes` key per planned scene.

A video's scene partitions are exactly its scenes: the plan step adds `<video>/01` ... `<video>/NN`
for the scenes it planned (and removes those of an earlier, longer plan), so the UI shows no
phantom scene and "materialize missing" launches nothing that does not exist.

Dagster has no built-in partition mapping between two dynamic definitions (dagster-io/dagster
#13139), and a custom mapping is invisible to the UI, the daemon and backfills (only built-in
mappings are serialised into the code location's snapshot). So the video -> scene edges carry an
empty mapping (`SpecificPartitionsPartitionMapping([])`): the asset graph shows the lineage
plan -> brief -> scene -> joined video, but no scene partition waits on, or is marked stale by,
another video's plan. Per-scene staleness comes from `scene_brief`, which the plan step
materialises for each scene partition with a data version of exactly what that scene is made
from; the scene assets depend on it partition by partition (the same definition: identity).
The link from a scene to its video is its key (`<video>/<NN>`) and its metadata.
"""

import dagster as dg

from videogen_dagster.models import MAX_SCENES, slot_key

VIDEOS = "videos"
SCENES = "scenes"
SCENE_KEY_SEPARATOR = "/"

# One key per video: "<project_id>.<session_id>" (see models.video_key).
videos_partitions = dg.DynamicPartitionsDefinition(name=VIDEOS)

# One key per planned scene: "<project_id>.<session_id>/<NN>".
scenes_partitions = dg.DynamicPartitionsDefinition(name=SCENES)

# See the module's docstring: lineage at the asset level, no partition-level dependency.
no_partition_dependency = dg.SpecificPartitionsPartitionMapping([])


def scene_partition_key(video_key: str, scene_number: int) -> str:
    """The scene partition of scene `scene_number` of a video: ("demo.s1", 2) -> "demo.s1/02"."""
    return f"{video_key}{SCENE_KEY_SEPARATOR}{slot_key(scene_number)}"


def split_scene_partition_key(key: str) -> tuple[str, int]:
    """(video key, scene number) of a scene partition key; ValueError for anything else."""
    video, sep, slot = key.rpartition(SCENE_KEY_SEPARATOR)
    if not sep or not video or not slot.isdigit() or len(slot) != 2:
        raise ValueError(f"not a scene partition key: {key!r} (expected '<project>.<session>/NN')")
    number = int(slot)
    slot_key(number)
    return video, number


def scene_partition_keys(video_key: str, scene_count: int) -> list[str]:
    return [scene_partition_key(video_key, n) for n in range(1, scene_count + 1)]


def video_of(key: str) -> str | None:
    """The video of a scene partition key (None when the key is not one)."""
    try:
        return split_scene_partition_key(key)[0]
    except ValueError:
        return None


def sync_scene_partitions(instance: dg.DagsterInstance, video_key: str, scene_count: int) -> list[str]:
    """Makes the video's scene partitions exactly its `scene_count` scenes: adds the missing ones,
    deletes those left from an earlier plan with more scenes. Returns the video's scene keys."""
    wanted = scene_partition_keys(video_key, scene_count)
    missing = [k for k in wanted if not instance.has_dynamic_partition(SCENES, k)]
    if missing:
        instance.add_dynamic_partitions(SCENES, missing)
    for n in range(scene_count + 1, MAX_SCENES + 1):
        key = scene_partition_key(video_key, n)
        if instance.has_dynamic_partition(SCENES, key):
            instance.delete_dynamic_partition(SCENES, key)
    return wanted

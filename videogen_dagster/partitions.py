"""Partitions: one dynamic `videos` key per video, crossed with static scene slots."""

import warnings

import dagster as dg

from videogen_dagster.models import SCENE_SLOTS

# One key per video: "<project_id>.<session_id>" (see models.video_key).
videos_partitions = dg.DynamicPartitionsDefinition(name="videos")

# A video uses the first `scene_count` slots; the plan says how many.
scene_slot_partitions = dg.StaticPartitionsDefinition(SCENE_SLOTS)

# Dimensions sort by name, so keys print as "<scene>|<video>", e.g. "01|demo.session_1".
scene_partitions = dg.MultiPartitionsDefinition(
    {"scene": scene_slot_partitions, "video": videos_partitions}
)

# Maps one video to all its scene slots (and a scene back to its video). Built in, so the UI and
# the daemon understand it; a custom PartitionMapping would be invisible to them.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    video_to_scenes = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="video")

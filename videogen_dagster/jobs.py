"""One job per step of the chain; each selects assets of a single partitions definition."""

import dagster as dg

from videogen_dagster.partitions import scene_partitions, videos_partitions
from videogen_dagster.tags import COMBINE_JOB, KIND_TAG, PLAN_JOB, SCENE_JOB

plan_job = dg.define_asset_job(
    PLAN_JOB,
    selection=dg.AssetSelection.assets("scene_plan"),
    partitions_def=videos_partitions,
    tags={KIND_TAG: "plan"},
    description="Plan one video (its scenes are then rendered by the chain sensor).",
)

scene_job = dg.define_asset_job(
    SCENE_JOB,
    selection=dg.AssetSelection.assets("scene_source", "scene_video", "scene_thumbnail", "scene_subtitles"),
    partitions_def=scene_partitions,
    # dagster.yaml limits concurrent runs with this tag (default 3).
    tags={KIND_TAG: "scene"},
    description="Write, render and store one scene of one video.",
)

combine_job = dg.define_asset_job(
    COMBINE_JOB,
    selection=dg.AssetSelection.assets("combined_video", "video_manifest"),
    partitions_def=videos_partitions,
    tags={KIND_TAG: "combine"},
    description="Join a video's scenes and write its manifest.",
)

"""Removing a video from the Dagster instance: its `videos` partition, its `scenes` partitions and
the event history of both on every asset partitioned by them, refused while a run of the video is
queued or running.

`videogen delete` calls `remove_video_partitions` in process; the REST bridge, which talks to
Dagster only over GraphQL, launches `remove_video_job`, whose one op does the same in a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from videogen_dagster.dagster_wipe import wipe_partitions
from videogen_dagster.models import MAX_SCENES
from videogen_dagster.partitions import SCENES, VIDEOS, scene_partition_keys, video_of
from videogen_dagster.removal import REMOVE_VIDEO_JOB, REMOVE_VIDEO_OP
from videogen_dagster.tags import MAX_RUNTIME_TAG, PRIORITY_TAG

PARTITION_TAG = "dagster/partition"
# Queued, starting, running or still stopping: a run that may yet write events of its partition.
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING,
]


class VideoRunning(RuntimeError):
    """A run of the video is queued or running: nothing was removed."""

    def __init__(self, video_key: str, runs: list[dg.DagsterRun]):
        self.video_key, self.runs = video_key, runs
        run = runs[0]
        super().__init__(
            f"video {video_key} has {len(runs)} run(s) queued or running in Dagster (run {run.run_id}, "
            f"{run.job_name}, {run.tags.get(PARTITION_TAG)}, {run.status.value}); wait for them to end or cancel them"
        )


@dataclass
class VideoPartitions:
    """A video's dynamic partitions, and (once removed) how many events were wiped."""

    videos: list[str]
    scenes: list[str]
    events_wiped: int = 0
    assets: list[str] = field(default_factory=list)  # the assets whose history was wiped

    @property
    def keys(self) -> list[str]:
        return self.videos + self.scenes

    def as_dict(self) -> dict:
        return {VIDEOS: self.videos, SCENES: self.scenes}


def video_partitions(instance: dg.DagsterInstance, video_key: str) -> VideoPartitions:
    """The video's partition in `videos` and its scene partitions in `scenes` (those that exist)."""
    videos = [video_key] if instance.has_dynamic_partition(VIDEOS, video_key) else []
    scenes = sorted(k for k in instance.get_dynamic_partitions(SCENES) if video_of(k) == video_key)
    return VideoPartitions(videos, scenes)


def active_runs(instance: dg.DagsterInstance, video_key: str, exclude: str | None = None) -> list[dg.DagsterRun]:
    """Queued or running runs of the video or of any of its possible scenes (newest first)."""
    keys = [video_key, *scene_partition_keys(video_key, MAX_SCENES)]
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES, tags={PARTITION_TAG: keys}))
    return [r for r in runs if r.run_id != exclude]


def assets_partitioned_by(asset_graph, name: str) -> list[dg.AssetKey]:
    """The assets of the code location whose partitions are the dynamic definition `name`."""
    found = []
    for key in asset_graph.get_all_asset_keys():
        partitions_def = asset_graph.get(key).partitions_def
        if isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name == name:
            found.append(key)
    return sorted(found, key=lambda k: k.to_user_string())


def remove_video_partitions(
    instance: dg.DagsterInstance, asset_graph, video_key: str, exclude_run: str | None = None
) -> VideoPartitions:
    """Wipe the video's event history on every asset partitioned by `scenes` or `videos` (every
    possible scene key, so scenes an earlier, longer plan had are wiped too), then delete its
    partitions. Raises VideoRunning, removing nothing, while a run of the video is active."""
    running = active_runs(instance, video_key, exclude=exclude_run)
    if running:
        raise VideoRunning(video_key, running)
    found = video_partitions(instance, video_key)
    wipe = {SCENES: scene_partition_keys(video_key, MAX_SCENES), VIDEOS: [video_key]}
    for name, keys in wipe.items():
        for asset_key in assets_partitioned_by(asset_graph, name):
            n = wipe_partitions(instance, asset_key, keys)
            if n:
                found.events_wiped += max(n, 0)
                found.assets.append(asset_key.to_user_string())
    for name, keys in ((SCENES, found.scenes), (VIDEOS, found.videos)):
        for key in keys:
            instance.delete_dynamic_partition(name, key)
    return found


@dg.op(
    name=REMOVE_VIDEO_OP,
    config_schema={"video_key": dg.Field(str, description="the video to remove: <project_id>.<session_id>")},
    description="Wipe a video's event history on its assets and delete its videos and scenes partitions.",
)
def remove_video_partitions_op(context) -> None:  # (annotations are strings here: Dagster cannot check them)
    video_key = context.op_config["video_key"]
    asset_graph = context.repository_def.asset_graph
    try:
        removed = remove_video_partitions(context.instance, asset_graph, video_key, exclude_run=context.run_id)
    except VideoRunning as exc:
        raise dg.Failure(str(exc)) from exc
    context.log.info(
        f"removed video {video_key}: partitions {removed.keys or 'none'}; {removed.events_wiped} event(s) "
        f"wiped on {', '.join(removed.assets) or 'no asset'}"
    )


@dg.job(
    name=REMOVE_VIDEO_JOB,
    # Ahead of queued pipeline runs: a removal is short and its caller waits for it.
    tags={PRIORITY_TAG: "10", MAX_RUNTIME_TAG: "300"},
    description="Remove a video's partitions and their event history (the REST bridge's DELETE /api/v1/videos).",
)
def remove_video_job():
    remove_video_partitions_op()

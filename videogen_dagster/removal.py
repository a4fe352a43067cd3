"""Removing a video: what it has (records, Dagster partitions, stored objects) and its objects.

Plain Python (no Dagster import): `videogen delete` (cli_delete.py) and the REST bridge's
`DELETE /api/v1/videos/{project_id}/{session_id}` both describe and remove a video with it; each
removes the Dagster side its own way (in process: dagster_removal.py; over GraphQL: the bridge
launches `remove_video_job`).

The order is the same for both: refuse while the video runs; remove its records (one store
transaction, which refuses again if a task of it started meanwhile); its partitions and their
event history; then, when asked, its objects. A removal stopped half-way (Dagster or the object
store unreachable) is finished by running it again: a video counts as known while any of the
three is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from videogen_dagster.models import split_video_key
from videogen_dagster.stores.metastore import Video, VideoRecords
from videogen_dagster.stores.objectstore import ObjectStore, StoreConfig, video_prefix

# The job the bridge launches to remove a video's partitions (dagster_removal.py defines it).
REMOVE_VIDEO_JOB = "remove_video_job"
REMOVE_VIDEO_OP = "remove_video_partitions_op"
# partitions.SCENE_KEY_SEPARATOR, for the bridge, which does not load Dagster (partitions.py does);
# tests/test_removal.py checks that the two agree.
SCENE_KEY_SEPARATOR = "/"


def of_video(partition_key: str, video_key: str) -> bool:
    """Whether a `videos` or `scenes` partition key is the video's own or one of its scenes'."""
    return partition_key == video_key or partition_key.startswith(video_key + SCENE_KEY_SEPARATOR)


def remove_run_config(video_key: str) -> dict:
    return {"ops": {REMOVE_VIDEO_OP: {"config": {"video_key": video_key}}}}


@dataclass(frozen=True)
class VideoObjects:
    """Where a video's objects are: one store and one key prefix (keys.py's layout)."""

    store: ObjectStore
    prefix: str

    def count(self) -> int:
        return len(self.store.list_keys(self.prefix))

    def where(self) -> str:
        """The prefix as a URL-like location for people: file:///.../projects/p/s/ or s3://bucket/projects/p/s/."""
        bucket = getattr(getattr(self.store, "s", None), "bucket", None)
        if bucket:
            return f"s3://{bucket}/{self.prefix}"
        root = getattr(self.store, "root", None)
        return (root / self.prefix).as_uri() + "/" if root is not None else self.prefix

    def delete(self) -> int:
        return self.store.delete_prefix(self.prefix)


def video_objects(stores: StoreConfig, video_key: str, video: Video | None) -> VideoObjects:
    """The store and prefix of a video's objects: its request's s3_config (bucket, base prefix)
    when the video is known, else the defaults (a video whose records are already gone)."""
    project_id, session_id = split_video_key(video_key)
    s3_config = (video.request or {}).get("s3_config") if video else None
    return VideoObjects(stores.store_for(s3_config), video_prefix(stores.prefix_for(s3_config), project_id, session_id))


@dataclass
class Removal:
    """What a video has (before) or what was removed (after): its records per table, its Dagster
    partitions, and its objects (None: not counted, or kept)."""

    video_key: str
    records: VideoRecords
    partitions: dict[str, list[str]]
    objects: int | None = None
    objects_at: str | None = None

    @property
    def project_id(self) -> str:
        return split_video_key(self.video_key)[0]

    @property
    def session_id(self) -> str:
        return split_video_key(self.video_key)[1]

    @property
    def partition_count(self) -> int:
        return sum(len(keys) for keys in self.partitions.values())

    @property
    def known(self) -> bool:
        return bool(self.records.total or self.partition_count or self.objects)

    def as_dict(self) -> dict:
        return {
            "video_key": self.video_key, "project_id": self.project_id, "session_id": self.session_id,
            "partitions": self.partitions, "records": self.records.as_dict(), "objects": self.objects,
        }

    def describe(self, delete_objects: bool) -> list[str]:
        """Lines for people: the partitions, the records and the objects (and whether they go)."""
        scenes = self.partitions.get("scenes", [])
        parts = ", ".join(self.partitions.get("videos", []) + scenes) or "none"
        r = self.records
        records = (f"{r.videos} video, {r.tasks} task(s), {r.scenes} scene(s), {r.scene_versions} scene "
                   f"version(s), {r.scene_edits} edit(s)")
        lines = [f"  Dagster partitions: {parts} (with their materialisations)", f"  records: {records}"]
        if self.objects is not None:
            what = "deleted with the video" if delete_objects else "kept; --objects deletes them"
            lines.append(f"  objects: {self.objects} under {self.objects_at} ({what})")
        return lines


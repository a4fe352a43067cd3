"""The bridge's questions and commands about one video's Dagster partitions, over GraphQL: which
partitions it has, which of its runs are active, and removing them (with their event history).

Removing runs `remove_video_job` and waits for it: open-source Dagster's storages cannot wipe
the events of single partitions through GraphQL (`wipeAssets` with partition ranges and
`deleteDynamicPartitions(wipeMaterializations: true)` answer UnsupportedOperationError), so a run
on the code location does it with the instance (videogen_dagster/dagster_removal.py), as
`videogen delete` does in process. `VideoQueries` is a part of `DagsterClient`; GraphQL answers
are Dagster's wire documents and are read as such."""

from __future__ import annotations

import re
import time

from api_bridge.dagster_errors import REPOSITORY, DagsterRejected, DagsterUnavailable
from videogen_dagster.removal import REMOVE_VIDEO_JOB, of_video, remove_run_config

VIDEOS, SCENES = "videos", "scenes"  # videogen_dagster/partitions.py's dynamic definitions
ACTIVE = "QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING"
RUNNING_MARK = "queued or running in Dagster"  # dagster_removal.VideoRunning's message

_ASSETS = """{ assetNodes { assetKey { path } partitionDefinition { name }
                 repository { name location { name } } } }"""
_KEYS = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
             __typename ... on AssetNode { partitionKeys } } }"""
_RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status
            eventConnection { events { __typename
              ... on ExecutionStepFailureEvent { error { message } }
              ... on RunFailureEvent { message } } } } } }"""


class VideoRemovalFailed(Exception):
    """The removal run failed; `running` when it refused because a run of the video is active."""

    def __init__(self, message: str, running: bool):
        super().__init__(message)
        self.running = running


class VideoQueries:
    """Video partition queries for a client with `query` and `launch` (DagsterClient)."""

    location: str

    def query(self, query: str, variables: dict | None = None, timeout: float | None = None) -> dict:
        raise NotImplementedError

    def launch(self, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
        raise NotImplementedError

    def run_status(self, run_id: str) -> str | None:
        raise NotImplementedError

    def video_partitions(self, video_key: str) -> dict[str, list[str]]:
        """The video's key in `videos` and its scene keys in `scenes` (those that exist), read
        from one asset of this code location partitioned by each definition."""
        found: dict[str, list[str]] = {VIDEOS: [], SCENES: []}
        asked: set[str] = set()
        for node in self.query(_ASSETS).get("assetNodes", []):
            name = (node.get("partitionDefinition") or {}).get("name")
            repo = node.get("repository") or {}
            if name not in found or name in asked or repo.get("name") != REPOSITORY \
                    or (repo.get("location") or {}).get("name") != self.location:
                continue
            asked.add(name)
            answer = self.query(_KEYS, {"path": node["assetKey"]["path"]})["assetNodeOrError"]
            found[name] = sorted(k for k in answer.get("partitionKeys") or [] if of_video(k, video_key))
        return found

    def active_video_runs(self, video_key: str) -> list[tuple[str, str, str]]:
        """(run id, job, partition) of the queued or running runs of the video or its scenes."""
        data = self.query(
            f"""{{ runsOrError(filter: {{statuses: [{ACTIVE}]}}) {{ __typename
                 ... on Runs {{ results {{ runId jobName tags {{ key value }} }} }} }} }}"""
        )
        out = []
        for run in (data.get("runsOrError") or {}).get("results", []):
            partition = next((t["value"] for t in run["tags"] if t["key"] == "dagster/partition"), None)
            if partition and of_video(partition, video_key):
                out.append((run["runId"], run["jobName"], partition))
        return out

    def remove_video(self, video_key: str, timeout: float = 120.0) -> str:
        """Run `remove_video_job` for the video and wait for it; its run id. Raises
        VideoRemovalFailed when the run fails, DagsterUnavailable when it has not ended in time
        (it stays queued and finishes by itself)."""
        run_id = self.launch(REMOVE_VIDEO_JOB, {"videogen/removes": video_key}, remove_run_config(video_key))
        deadline = time.monotonic() + timeout
        delay = 0.1
        while time.monotonic() < deadline:
            status = self.run_status(run_id)
            if status == "SUCCESS":
                return run_id
            if status in ("FAILURE", "CANCELED"):
                reason = self._failure(run_id) or f"run {run_id} {status.lower()}"
                raise VideoRemovalFailed(reason, RUNNING_MARK in reason)
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        raise DagsterUnavailable(
            f"Dagster's run {run_id} removing video {video_key} has not ended after {timeout:.0f} s "
            "(the run queue is full; it will finish by itself)"
        )

    def _failure(self, run_id: str) -> str | None:
        """Why the run failed: its failed step's error (a dg.Failure's description), else the
        run's own failure message."""
        try:
            run = self.query(_RUN, {"id": run_id}).get("runOrError") or {}
        except (DagsterUnavailable, DagsterRejected):
            return None
        events = (run.get("eventConnection") or {}).get("events", [])
        step = [(e.get("error") or {}).get("message") for e in events if e["__typename"] == "ExecutionStepFailureEvent"]
        whole = [e.get("message") for e in events if e["__typename"] == "RunFailureEvent"]
        message = next((m for m in step + whole if m), None)
        if not message:
            return None
        # "dagster._core.definitions.events.Failure: video ... " -> "video ..."
        return re.sub(r"^[\w.]+(?:Error|Failure|Exception): ", "", message.strip().splitlines()[0])[:500]

"""The bridge's questions about Dagster runs, over the webserver's GraphQL API: a task's runs
(cached for pollers), a partition's active runs, one run's status, and terminating runs.

`RunQueries` is a part of `DagsterClient` (dagster_client.py), which supplies `query` and the
cache's state; it is kept apart so that launching and asking about runs each read at once.
GraphQL answers are Dagster's wire documents and are read as such."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from videogen_dagster.tags import TASK_TAG

ACTIVE_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")

TERMINATE_MUTATION = """mutation($ids: [String!]!, $policy: TerminateRunPolicy) {
    terminateRuns(runIds: $ids, terminatePolicy: $policy) { __typename
      ... on TerminateRunsResult { terminateRunResults { __typename
        ... on TerminateRunSuccess { run { runId } }
        ... on TerminateRunFailure { run { runId } message } } } } }"""


@dataclass
class RunInfo:
    run_id: str
    job_name: str
    status: str
    partition: str | None
    # A failed run Dagster will run again (run retries: cluster mode, a worker that died).
    will_retry: bool = False


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


class RunQueries:
    """Run queries for a client with a `query(graphql, variables)` method (DagsterClient)."""

    _cache: dict[str, tuple[float, list[RunInfo]]]
    _refreshing: set[str]
    _lock: threading.Lock

    def query(
        self, query: str, variables: dict | None = None, timeout: float | None = None
    ) -> dict:
        raise NotImplementedError

    def _runs_tagged(
        self, key: str, value: str, active: bool = False, job: bool = False
    ) -> list[dict]:
        """Runs carrying the tag (only queued or running ones with `active`): id, tags (and, with
        `job`, job name and status)."""
        statuses = f", statuses: [{', '.join(ACTIVE_STATUSES)}]" if active else ""
        fields = "runId jobName status tags { key value }" if job else "runId tags { key value }"
        data = self.query(
            f"""query($key: String!, $value: String!) {{
                 runsOrError(filter: {{tags: [{{key: $key, value: $value}}]{statuses}}}) {{
                   __typename ... on Runs {{ results {{ {fields} }} }} }} }}""",
            {"key": key, "value": value},
        )
        return (data.get("runsOrError") or {}).get("results", [])

    def forget(self, task_id: str) -> None:
        """Drop the cached runs of a task (after launching or terminating some of them)."""
        self._cache.pop(task_id, None)

    def cached_task_runs(self, task_id: str, max_age: float) -> list[RunInfo] | None:
        """The cached answer when fresh enough (or being refreshed by another caller), else None."""
        hit = self._cache.get(task_id)
        if hit and (time.monotonic() - hit[0] <= max_age or task_id in self._refreshing):
            return hit[1]
        return None

    def task_runs(self, task_id: str, max_age: float = 0.0) -> list[RunInfo]:
        """Every run tagged with the task id (cached for `max_age` seconds).

        Under concurrent polling only one thread refreshes a task's runs; the others are
        answered from the previous (at most a few seconds old) answer meanwhile."""
        hit = self._cache.get(task_id)
        if hit and time.monotonic() - hit[0] <= max_age:
            return hit[1]
        with self._lock:
            if hit and task_id in self._refreshing:
                return hit[1]
            self._refreshing.add(task_id)
        try:
            runs = [
                RunInfo(r["runId"], r["jobName"], r["status"], _tag(r, "dagster/partition"),
                        _tag(r, "dagster/will_retry") == "true")
                for r in self._runs_tagged(TASK_TAG, task_id, job=True)
            ]
            self._cache[task_id] = (time.monotonic(), runs)
            return runs
        finally:
            with self._lock:
                self._refreshing.discard(task_id)

    def active_runs_for_partition(self, partition: str) -> list[tuple[str, str | None]]:
        """(run id, task id) of the partition's queued or running runs."""
        return [
            (r["runId"], _tag(r, TASK_TAG))
            for r in self._runs_tagged("dagster/partition", partition, active=True)
        ]

    def count_active_runs(self, tag: str, value: str) -> int:
        """Queued or running runs carrying the tag (e.g. every render: videogen/kind=scene)."""
        return len(self._runs_tagged(tag, value, active=True))

    def run_status(self, run_id: str) -> str | None:
        data = self.query(
            """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }""",
            {"id": run_id},
        )
        return (data.get("runOrError") or {}).get("status")

    def terminate(self, run_ids: list[str]) -> list[str]:
        """Terminate runs; ones that cannot be terminated safely (still starting) are marked cancelled."""
        if not run_ids:
            return []
        data = self.query(TERMINATE_MUTATION, {"ids": run_ids, "policy": "SAFE_TERMINATE"})
        results = data["terminateRuns"].get("terminateRunResults", [])
        failed = [
            r["run"]["runId"]
            for r in results
            if r["__typename"] != "TerminateRunSuccess" and r.get("run")
        ]
        if failed:
            self.query(
                TERMINATE_MUTATION, {"ids": failed, "policy": "MARK_AS_CANCELED_IMMEDIATELY"}
            )
        return run_ids

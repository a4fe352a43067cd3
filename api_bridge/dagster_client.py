"""The bridge's only way to Dagster: the webserver's GraphQL API (never asset code)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from videogen_dagster.tags import TASK_TAG

REPOSITORY = "__repository__"
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "MANAGED", "CANCELING"}


class DagsterUnavailable(RuntimeError):
    pass


@dataclass
class RunInfo:
    run_id: str
    job_name: str
    status: str
    partition: str | None


class DagsterClient:
    def __init__(self, host: str, port: int, location: str, timeout: float = 10.0):
        self.url = f"http://{host}:{port}"
        self.location = location
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._gql = DagsterGraphQLClient(host, port_number=port, timeout=int(timeout))
        self._cache: dict[str, tuple[float, list[RunInfo]]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def query(self, query: str, variables: dict | None = None) -> dict:
        try:
            resp = self._http.post("/graphql", json={"query": query, "variables": variables or {}})
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            raise DagsterUnavailable(f"Dagster webserver at {self.url} is unreachable: {exc}") from exc
        body = resp.json()
        if body.get("errors"):
            raise DagsterUnavailable(f"Dagster GraphQL error: {body['errors'][0].get('message')}")
        return body["data"]

    def location_loaded(self) -> bool:
        """Whether the webserver has loaded this code location (it loads it after it starts
        answering, so a launch right after start-up can find no repository)."""
        data = self.query(
            """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
                 locationOrLoadError { __typename } } } } }"""
        )
        for entry in (data.get("workspaceOrError") or {}).get("locationEntries", []):
            if entry["name"] == self.location:
                return entry["loadStatus"] == "LOADED" and (
                    (entry.get("locationOrLoadError") or {}).get("__typename") == "RepositoryLocation"
                )
        return False

    def wait_until_loaded(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.location_loaded():
                    return
            except DagsterUnavailable:
                pass
            if time.monotonic() > deadline:
                raise DagsterUnavailable(f"code location {self.location!r} not loaded at {self.url} after {timeout:.0f}s")
            time.sleep(0.2)

    def add_video_partition(self, key: str) -> None:
        data = self.query(
            """mutation($loc: String!, $repo: String!, $key: String!) {
                 addDynamicPartition(repositorySelector: {repositoryName: $repo, repositoryLocationName: $loc},
                                     partitionsDefName: "videos", partitionKey: $key) { __typename
                   ... on PythonError { message } ... on UnauthorizedError { message } }
               }""",
            {"loc": self.location, "repo": REPOSITORY, "key": key},
        )
        kind = data["addDynamicPartition"]["__typename"]
        if kind not in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
            raise DagsterUnavailable(f"could not register video {key}: {data['addDynamicPartition']}")

    def launch(self, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
        try:
            return self._gql.submit_job_execution(
                job, repository_location_name=self.location, repository_name=REPOSITORY,
                run_config=run_config or {}, tags=tags,
            )
        except DagsterGraphQLClientError as exc:
            raise DagsterUnavailable(f"could not launch {job}: {exc}") from exc
        except Exception as exc:  # connection errors surface from the underlying transport
            raise DagsterUnavailable(f"Dagster webserver at {self.url} is unreachable: {exc}") from exc

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
            return self._fetch_task_runs(task_id)
        finally:
            with self._lock:
                self._refreshing.discard(task_id)

    def _fetch_task_runs(self, task_id: str) -> list[RunInfo]:
        data = self.query(
            """query($tag: String!, $value: String!) {
                 runsOrError(filter: {tags: [{key: $tag, value: $value}]}) {
                   __typename ... on Runs { results { runId jobName status tags { key value } } }
                 }
               }""",
            {"tag": TASK_TAG, "value": task_id},
        )
        runs = [
            RunInfo(
                r["runId"], r["jobName"], r["status"],
                next((t["value"] for t in r["tags"] if t["key"] == "dagster/partition"), None),
            )
            for r in data["runsOrError"].get("results", [])
        ]
        self._cache[task_id] = (time.monotonic(), runs)
        return runs

    def active_runs_for_partition(self, partition: str) -> list[tuple[str, str | None]]:
        """(run id, task id) of the partition's queued or running runs."""
        data = self.query(
            """query($value: String!) {
                 runsOrError(filter: {tags: [{key: "dagster/partition", value: $value}],
                                      statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) {
                   ... on Runs { results { runId tags { key value } } }
                 }
               }""",
            {"value": partition},
        )
        return [
            (r["runId"], next((t["value"] for t in r.get("tags", []) if t["key"] == TASK_TAG), None))
            for r in data["runsOrError"].get("results", [])
        ]

    def terminate(self, run_ids: list[str]) -> list[str]:
        """Terminate runs; ones that cannot be terminated safely (still starting) are marked cancelled."""
        if not run_ids:
            return []
        mutation = """mutation($ids: [String!]!, $policy: TerminateRunPolicy) {
            terminateRuns(runIds: $ids, terminatePolicy: $policy) { __typename
              ... on TerminateRunsResult { terminateRunResults { __typename
                ... on TerminateRunSuccess { run { runId } }
                ... on TerminateRunFailure { run { runId } message } } } } }"""
        data = self.query(mutation, {"ids": run_ids, "policy": "SAFE_TERMINATE"})
        results = data["terminateRuns"].get("terminateRunResults", [])
        failed = [r["run"]["runId"] for r in results if r["__typename"] != "TerminateRunSuccess" and r.get("run")]
        if failed:
            self.query(mutation, {"ids": failed, "policy": "MARK_AS_CANCELED_IMMEDIATELY"})
        return run_ids

    def health(self) -> dict[str, str | None]:
        """None per healthy part, else what is wrong: webserver and daemons."""
        try:
            data = self.query(
                "{ instance { daemonHealth { allDaemonStatuses { daemonType healthy required } } } }"
            )
        except DagsterUnavailable as exc:
            return {"dagster_webserver": str(exc), "dagster_daemon": "unknown (webserver down)"}
        bad = [
            d["daemonType"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]
            if d["required"] and not d["healthy"]
        ]
        return {
            "dagster_webserver": None,
            "dagster_daemon": f"unhealthy daemons: {', '.join(bad)}" if bad else None,
        }

"""The bridge's only way to Dagster: the webserver's GraphQL API (never asset code)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import httpx

from api_bridge.dagster_errors import (
    LAUNCH_ID_TAG,
    LAUNCH_MUTATION,
    REPOSITORY,
    TRANSIENT_LAUNCH_ERRORS,
    DagsterRejected,
    DagsterUnavailable,
    reason,
)
from api_bridge.dagster_health import dagster_health
from videogen_dagster.tags import TASK_TAG

log = logging.getLogger("api_bridge")


@dataclass
class RunInfo:
    run_id: str
    job_name: str
    status: str
    partition: str | None


class DagsterClient:
    """Thread-safe: one pooled httpx client serves every request thread (the dagster-graphql
    client's transport is not: concurrent launches failed with "already connected")."""

    def __init__(
        self,
        host: str,
        port: int,
        location: str,
        timeout: float = 10.0,
        launch_retry_seconds: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_concurrent_launches: int = 4,
    ):
        self.url = f"http://{host}:{port}"
        self.location = location
        self.launch_retry_seconds = launch_retry_seconds
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            transport=transport,
        )
        self._cache: dict[str, tuple[float, list[RunInfo]]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()
        self._health: tuple[float, dict[str, str | None]] | None = None
        self._health_refreshing = False
        # The webserver builds each run's execution plan through the code server: 20 launches at
        # once took over 10 s each and timed out. Launches wait their turn here instead (their
        # wait counts against no timeout), a few at a time.
        self._launching = threading.BoundedSemaphore(max(1, max_concurrent_launches))
        self._launch_timeout = max(timeout, 30.0)

    def query(
        self, query: str, variables: dict | None = None, timeout: float | None = None
    ) -> dict:
        try:
            resp = self._http.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                **({"timeout": timeout} if timeout else {}),
            )
            resp.raise_for_status()
            body = resp.json()
        except httpx.HTTPError as exc:
            raise DagsterUnavailable(
                f"the Dagster webserver at {self.url} is unreachable ({reason(exc)})"
            ) from exc
        except ValueError as exc:
            raise DagsterUnavailable(
                f"the Dagster webserver at {self.url} answered something other than JSON"
            ) from exc
        if body.get("errors"):
            message = str(body["errors"][0].get("message", "")).splitlines()[0][:200]
            raise DagsterUnavailable(
                f"the Dagster webserver at {self.url} refused a query: {message}"
            )
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
                    (entry.get("locationOrLoadError") or {}).get("__typename")
                    == "RepositoryLocation"
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
                raise DagsterUnavailable(
                    f"code location {self.location!r} not loaded at {self.url} after {timeout:.0f}s"
                )
            time.sleep(0.2)

    def _retrying(self, attempt, what: str):
        """Call `attempt()` until it succeeds, is rejected, or `launch_retry_seconds` pass;
        transient failures (DagsterUnavailable) back off from 0.2 s to 2 s."""
        deadline = time.monotonic() + self.launch_retry_seconds
        delay = 0.2
        while True:
            try:
                return attempt()
            except DagsterUnavailable as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    waited = (
                        f" (retried for {self.launch_retry_seconds:.0f} s)"
                        if self.launch_retry_seconds
                        else ""
                    )
                    raise DagsterUnavailable(f"{exc}{waited}") from exc
                log.info("%s: %s; retrying in %.1f s", what, exc, min(delay, left))
                time.sleep(min(delay, left))
                delay = min(2.0, delay * 2)

    def add_video_partition(self, key: str) -> None:
        def attempt() -> None:
            with self._launching:
                data = self._add_partition(key)
            answer = data["addDynamicPartition"]
            kind = answer["__typename"]
            if kind in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"):
                return
            if kind == "UnauthorizedError":
                raise DagsterRejected(
                    f"Dagster refused to register video {key}: {answer.get('message')}"
                )
            raise DagsterUnavailable(
                f"code location {self.location!r} on the Dagster webserver could not register video {key} ({kind})"
            )

        self._retrying(attempt, f"register {key}")

    def _add_partition(self, key: str) -> dict:
        return self.query(
            """mutation($loc: String!, $repo: String!, $key: String!) {
                     addDynamicPartition(repositorySelector: {repositoryName: $repo, repositoryLocationName: $loc},
                                         partitionsDefName: "videos", partitionKey: $key) { __typename
                       ... on PythonError { message } ... on UnauthorizedError { message } }
                   }""",
            {"loc": self.location, "repo": REPOSITORY, "key": key},
            timeout=self._launch_timeout,
        )

    def launch(self, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
        """Launch `job`; transient failures are retried for `launch_retry_seconds`. A retry after
        an ambiguous failure (the request may have reached the webserver) first looks for the
        run by a launch id tag, so a launch never makes two runs."""
        launch_id = uuid.uuid4().hex
        tags = {**tags, LAUNCH_ID_TAG: launch_id}
        params = {
            "selector": {
                "repositoryLocationName": self.location,
                "repositoryName": REPOSITORY,
                "pipelineName": job,
            },
            "runConfigData": run_config or {},
            "mode": "default",
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]},
        }
        sent = False

        def attempt() -> str:
            nonlocal sent
            if sent:
                existing = self._runs_tagged(LAUNCH_ID_TAG, launch_id)
                if existing:
                    return existing[0]["runId"]
            sent = True
            with self._launching:
                data = self.query(LAUNCH_MUTATION, {"params": params}, timeout=self._launch_timeout)
            answer = data["launchPipelineExecution"]
            kind = answer["__typename"]
            if kind in ("LaunchRunSuccess", "LaunchPipelineRunSuccess"):
                return answer["run"]["runId"]
            if kind in TRANSIENT_LAUNCH_ERRORS:
                # The location is not loaded (yet) or is reloading: nothing was launched.
                sent = False
                raise DagsterUnavailable(
                    f"code location {self.location!r} is not loaded on the Dagster webserver at {self.url} ({kind})"
                )
            detail = (
                answer.get("message")
                or "; ".join(e["message"] for e in answer.get("errors", []))
                or kind
            )
            raise DagsterRejected(
                f"Dagster refused to launch {job}: {str(detail).splitlines()[0][:300]}"
            )

        return self._retrying(attempt, f"launch {job}")

    def _runs_tagged(self, key: str, value: str, active: bool = False) -> list[dict]:
        """Runs carrying the tag (only queued or running ones with `active`): id and tags."""
        statuses = ", statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]" if active else ""
        data = self.query(
            f"""query($key: String!, $value: String!) {{
                 runsOrError(filter: {{tags: [{{key: $key, value: $value}}]{statuses}}}) {{
                   ... on Runs {{ results {{ runId tags {{ key value }} }} }} }} }}""",
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
                r["runId"],
                r["jobName"],
                r["status"],
                next((t["value"] for t in r["tags"] if t["key"] == "dagster/partition"), None),
            )
            for r in data["runsOrError"].get("results", [])
        ]
        self._cache[task_id] = (time.monotonic(), runs)
        return runs

    def active_runs_for_partition(self, partition: str) -> list[tuple[str, str | None]]:
        """(run id, task id) of the partition's queued or running runs."""
        return [
            (r["runId"], next((t["value"] for t in r["tags"] if t["key"] == TASK_TAG), None))
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
        mutation = """mutation($ids: [String!]!, $policy: TerminateRunPolicy) {
            terminateRuns(runIds: $ids, terminatePolicy: $policy) { __typename
              ... on TerminateRunsResult { terminateRunResults { __typename
                ... on TerminateRunSuccess { run { runId } }
                ... on TerminateRunFailure { run { runId } message } } } } }"""
        data = self.query(mutation, {"ids": run_ids, "policy": "SAFE_TERMINATE"})
        results = data["terminateRuns"].get("terminateRunResults", [])
        failed = [
            r["run"]["runId"]
            for r in results
            if r["__typename"] != "TerminateRunSuccess" and r.get("run")
        ]
        if failed:
            self.query(mutation, {"ids": failed, "policy": "MARK_AS_CANCELED_IMMEDIATELY"})
        return run_ids

    def cached_health(self, max_age: float) -> dict[str, str | None] | None:
        """The last health answer when at most `max_age` s old, or while another caller is
        refreshing it; else None (no call made)."""
        hit = self._health
        if hit and (time.monotonic() - hit[0] <= max_age or self._health_refreshing):
            return hit[1]
        return None

    def health(self, max_age: float = 5.0) -> dict[str, str | None]:
        """`dagster_health`, cached for `max_age` seconds."""
        hit = self._health
        if hit and time.monotonic() - hit[0] <= max_age:
            return hit[1]
        self._health_refreshing = True
        try:
            answer = dagster_health(self)
        finally:
            self._health_refreshing = False
        self._health = (time.monotonic(), answer)
        return answer

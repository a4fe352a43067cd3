"""The bridge's only way to Dagster: the webserver's GraphQL API (never asset code).

This module launches runs and registers partitions (retried by one RetryPolicy); the questions
about runs are in dagster_runs.py, a video's partitions and their removal in dagster_videos.py,
the health judgement in dagster_health.py, the errors and the launch mutation in
dagster_errors.py. GraphQL answers are Dagster's wire documents."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

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
from api_bridge.dagster_runs import RunInfo, RunQueries
from api_bridge.dagster_videos import VideoQueries
from videogen_dagster.retry import RetryPolicy

__all__ = ["LAUNCH_ID_TAG", "DagsterClient", "DagsterRejected", "DagsterUnavailable", "RunInfo"]

log = logging.getLogger("api_bridge")
T = TypeVar("T")


def launch_retry(seconds: float) -> RetryPolicy:
    """How launches and partition registrations are retried: while Dagster is unavailable (the
    webserver is down or still loading the code location), for `seconds` (0: no retry), waiting
    0.2 s doubling to 2 s between tries. A refused launch is never retried."""
    return RetryPolicy(
        deadline_seconds=seconds,
        initial_backoff=0.2,
        max_backoff=2.0,
        transient=(DagsterUnavailable,),
    )


class DagsterClient(RunQueries, VideoQueries):
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
        self.launch_retry = launch_retry(launch_retry_seconds)
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
        """Block until the webserver has loaded the code location (start-up of a stack)."""

        def loaded() -> None:
            if not self.location_loaded():
                raise DagsterUnavailable(f"code location {self.location!r} is not loaded yet")

        try:
            RetryPolicy(
                deadline_seconds=timeout,
                initial_backoff=0.2,
                max_backoff=0.2,
                transient=(DagsterUnavailable,),
            ).call(loaded)
        except DagsterUnavailable:
            raise DagsterUnavailable(
                f"code location {self.location!r} not loaded at {self.url} after {timeout:.0f}s"
            ) from None

    def _retrying(self, attempt: Callable[[], T], what: str) -> T:
        """`attempt()` under the launch retry policy; the last failure says how long it tried."""
        try:
            return self.launch_retry.call(attempt, what, logger=log)
        except DagsterUnavailable as exc:
            waited = (
                f" (retried for {self.launch_retry_seconds:.0f} s)"
                if self.launch_retry_seconds
                else ""
            )
            raise DagsterUnavailable(f"{exc}{waited}") from exc

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

"""The bridge's questions about Dagster runs, over the webserver's GraphQL API: a task's runs
(for pollers, from a view refreshed in the background: run_watch.py), a partition's active runs,
one run's status, and terminating runs.

`RunQueries` is a part of `DagsterClient` (dagster_client.py), which supplies `query` and the
cache's state; it is kept apart so that launching and asking about runs each read at once.
GraphQL answers are Dagster's wire documents and are read as such."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from api_bridge.run_watch import Flight, RunWatch
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
    # A failed run Dagster will run again (run retries: cluster mode, a worker that died); None
    # while Dagster has not said (no `dagster/will_retry` tag yet: see `RunQueries._judge`).
    will_retry: bool | None = None
    # A failed run whose every step succeeded: what it was launched for is done (the run failed
    # after its step, e.g. its worker lost PostgreSQL or was stopped before RUN_SUCCESS).
    work_done: bool = False


def _tag(run: dict, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


RUN_FIELDS = "runId jobName status tags { key value }"
STEP_STATS_QUERY = """query($id: ID!) { runOrError(runId: $id) { __typename
    ... on Run { stepStats { stepKey status } } } }"""
DAEMONS_QUERY = "{ instance { daemonHealth { allDaemonStatuses { daemonType required } } } }"
# Dagster's daemon that retries failed runs; required exactly when run retries are enabled.
RETRY_DAEMON = "EVENT_LOG_CONSUMER"
RETRIES_MAX_AGE = 60.0  # how long the instance's "retries runs" answer is kept


def run_infos(results: list[dict]) -> list[RunInfo]:
    infos = []
    for r in results:
        tag = _tag(r, "dagster/will_retry")
        infos.append(RunInfo(r["runId"], r["jobName"], r["status"], _tag(r, "dagster/partition"),
                             None if tag is None else tag == "true"))
    return infos


class RunQueries:
    """Run queries for a client with a `query(graphql, variables)` method (DagsterClient)."""

    _cache: dict[str, tuple[float, list[RunInfo]]]
    _lock: threading.Lock

    def query(
        self, query: str, variables: dict | None = None, timeout: float | None = None
    ) -> dict:
        raise NotImplementedError

    def health(self, max_age: float = 5.0) -> dict[str, str | None]:
        raise NotImplementedError

    def _judge(self, infos: list[RunInfo]) -> list[RunInfo]:
        """Settle what each failed run means for its task, asking Dagster only about failed runs
        (rare; each answer is kept, a finished run does not change):
        - Dagster marks a run failed, then tags whether it will retry it, in a second write; with
          run retries enabled, a failed run without the tag yet is one it is deciding about (in
          cluster mode the gap is long when PostgreSQL restarts between the two writes, and the
          retry daemon tags it later), so it counts as retrying until Dagster says otherwise;
        - a failed run whose steps all succeeded did its work (`RunInfo.work_done`): Dagster does
          not retry it ("no steps needed to be retried"), and its task goes on without it."""
        for r in infos:
            if r.status != "FAILURE" or r.will_retry:
                continue
            if r.will_retry is None and self.retries_runs():
                r.will_retry = True
            else:
                r.work_done = self.steps_all_succeeded(r.run_id)
        return infos

    def retries_runs(self) -> bool:
        """Whether the instance retries failed runs (`run_retries` in dagster.yaml: cluster mode)."""
        hit = self.__dict__.get("_retries")
        if hit and time.monotonic() - hit[0] <= RETRIES_MAX_AGE:
            return hit[1]
        statuses = self.query(DAEMONS_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
        answer = any(d["daemonType"] == RETRY_DAEMON and d["required"] for d in statuses)
        self.__dict__["_retries"] = (time.monotonic(), answer)
        return answer

    def steps_all_succeeded(self, run_id: str) -> bool:
        """Whether the finished run's every step succeeded (and it had one)."""
        known = self.__dict__.setdefault("_steps_ok", {})
        if run_id not in known:
            run = self.query(STEP_STATS_QUERY, {"id": run_id}).get("runOrError") or {}
            steps = run.get("stepStats") or []
            if len(known) > 1000:
                known.clear()
            known[run_id] = bool(steps) and all(s["status"] == "SUCCESS" for s in steps)
        return known[run_id]

    def _runs_tagged(
        self, key: str, value: str, active: bool = False, job: bool = False
    ) -> list[dict]:
        """Runs carrying the tag (only queued or running ones with `active`): id, tags (and, with
        `job`, job name and status)."""
        statuses = f", statuses: [{', '.join(ACTIVE_STATUSES)}]" if active else ""
        fields = RUN_FIELDS if job else "runId tags { key value }"
        data = self.query(
            f"""query($key: String!, $value: String!) {{
                 runsOrError(filter: {{tags: [{{key: $key, value: $value}}]{statuses}}}) {{
                   __typename ... on Runs {{ results {{ {fields} }} }} }} }}""",
            {"key": key, "value": value},
        )
        return (data.get("runsOrError") or {}).get("results", [])

    @property
    def run_watch(self) -> RunWatch:
        """The background view of polled tasks' runs (run_watch.py), made on first use."""
        watch = self.__dict__.get("_run_watch")
        if watch is None:
            with self._lock:
                watch = self.__dict__.setdefault("_run_watch", RunWatch(self))
        return watch

    def watch(self, task_id: str) -> list[RunInfo] | None:
        """For pollers, without asking Dagster: the task's runs as the background refresh last
        saw them (at most about a second old), or None when the task was not being watched
        (its first poll: ask `task_runs`, which the refresh then keeps fresh)."""
        watched = self.run_watch.poll(task_id)
        hit = self._cache.get(task_id)
        return hit[1] if watched and hit else None

    def runs_of_tasks(self, task_ids: list[str]) -> dict[str, list[RunInfo]]:
        """Every run of each task, newest first, in one GraphQL request (a field per task); a
        task whose field failed is left out."""
        if not task_ids:
            return {}
        params = ", ".join(f"$v{i}: String!" for i in range(len(task_ids)))
        fields = " ".join(
            f"t{i}: runsOrError(filter: {{tags: [{{key: $key, value: $v{i}}}]}}) {{"
            f" __typename ... on Runs {{ results {{ {RUN_FIELDS} }} }} }}"
            for i in range(len(task_ids))
        )
        data = self.query(
            f"query($key: String!, {params}) {{ {fields} }}",
            {"key": TASK_TAG, **{f"v{i}": t for i, t in enumerate(task_ids)}},
        )
        return {
            task_id: self._judge(run_infos(answer["results"]))
            for i, task_id in enumerate(task_ids)
            if (answer := data.get(f"t{i}") or {}).get("__typename") == "Runs"
        }

    def forget(self, task_id: str) -> None:
        """Drop what is known of a task's runs (after launching or terminating some of them)."""
        self.run_watch.forget(task_id)

    def task_runs(self, task_id: str, max_age: float = 0.0) -> list[RunInfo]:
        """Every run tagged with the task id (cached for `max_age` seconds).

        One caller at a time asks Dagster about a task: the others are answered from the
        previous answer meanwhile, or, when there is none, wait for this one."""
        hit = self._cache.get(task_id)
        if hit and time.monotonic() - hit[0] <= max_age:
            return hit[1]
        watch = self.run_watch
        with watch.lock:
            flight = watch.flights.get(task_id)
            asking = flight is None
            if asking:
                flight = watch.flights[task_id] = Flight(watch.epochs.get(task_id, 0))
        assert flight is not None
        if not asking:
            return hit[1] if hit else flight.wait()
        try:
            flight.runs = self._judge(run_infos(self._runs_tagged(TASK_TAG, task_id, job=True)))
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with watch.lock:
                del watch.flights[task_id]
            flight.done.set()
        watch.store(task_id, flight.runs, flight.epoch)
        return flight.runs

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

"""Which failed runs end a task, as the bridge reads them from Dagster's GraphQL answers.

Seen in cluster mode (PostgreSQL restarted mid-chain): Dagster marks a run failed and tags
`dagster/will_retry` in a second write, and a run whose step had succeeded can fail afterwards
(its worker lost PostgreSQL or was stopped) with nothing left to retry. Neither ends the task."""

import json

import httpx

from api_bridge.dagster_client import DagsterClient
from api_bridge.tasks import _ending_runs


class Dagster:
    """A webserver's GraphQL answers: the task's runs, a run's step stats, the daemons."""

    def __init__(self, retries: bool):
        self.retries = retries
        self.runs: list[dict] = []
        self.steps: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def run(self, run_id: str, status: str, will_retry: str | None = None, job: str = "scene_job") -> None:
        tags = [{"key": "videogen/task_id", "value": "t1"}, {"key": "dagster/partition", "value": "v.s/01"}]
        if will_retry is not None:
            tags.append({"key": "dagster/will_retry", "value": will_retry})
        self.runs.insert(0, {"runId": run_id, "jobName": job, "status": status, "tags": tags})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        query = body["query"]
        if "allDaemonStatuses" in query:
            self.asked.append("daemons")
            statuses = [{"daemonType": "SENSOR", "required": True},
                        {"daemonType": "EVENT_LOG_CONSUMER", "required": self.retries}]
            return httpx.Response(200, json={"data": {"instance": {"daemonHealth": {"allDaemonStatuses": statuses}}}})
        if "stepStats" in query:
            run_id = body["variables"]["id"]
            self.asked.append(f"steps {run_id}")
            stats = [{"stepKey": "scene_assets", "status": s} for s in self.steps.get(run_id, [])]
            return httpx.Response(200, json={"data": {"runOrError": {"__typename": "Run", "stepStats": stats}}})
        if "runsOrError" in query:
            return httpx.Response(200, json={"data": {"runsOrError": {"__typename": "Runs", "results": self.runs}}})
        raise AssertionError(query)


def _client(dagster: Dagster) -> DagsterClient:
    return DagsterClient("127.0.0.1", 1, "videogen_dagster", timeout=1, launch_retry_seconds=0,
                         transport=httpx.MockTransport(dagster))


def _ending(client: DagsterClient) -> list[str]:
    failed, _ = _ending_runs(client.task_runs("t1"))
    return [r.run_id for r in failed]


def test_with_run_retries_a_failed_run_is_not_the_end_until_dagster_says_it_will_not_retry():
    dagster = Dagster(retries=True)
    dagster.run("r1", "FAILURE")  # failed; the will_retry tag not written yet
    dagster.steps["r1"] = ["FAILURE"]
    client = _client(dagster)
    assert _ending(client) == []
    dagster.runs[0]["tags"].append({"key": "dagster/will_retry", "value": "false"})  # retries spent
    assert _ending(client) == ["r1"]
    assert dagster.asked == ["daemons", "steps r1"]  # the daemons' answer is kept


def test_a_retried_run_is_superseded_by_its_retry():
    dagster = Dagster(retries=True)
    dagster.run("r1", "FAILURE", will_retry="true")
    assert _ending(_client(dagster)) == []
    dagster.run("r2", "FAILURE", will_retry="false")
    dagster.steps["r2"] = ["FAILURE"]
    assert _ending(_client(dagster)) == ["r2"]


def test_without_run_retries_a_failed_run_ends_the_task_at_once():
    dagster = Dagster(retries=False)
    dagster.run("r1", "FAILURE")
    dagster.steps["r1"] = ["FAILURE"]
    assert _ending(_client(dagster)) == ["r1"]


def test_a_run_that_failed_after_its_steps_succeeded_does_not_end_the_task():
    for retries in (True, False):
        dagster = Dagster(retries=retries)
        # Dagster's retry daemon: "No steps needed to be retried in the failed run", will_retry=false.
        dagster.run("r1", "FAILURE", will_retry="false")
        dagster.steps["r1"] = ["SUCCESS"]
        client = _client(dagster)
        assert _ending(client) == []
        assert _ending(client) == []
        assert dagster.asked.count("steps r1") == 1  # a finished run's steps are asked once


def test_a_run_that_failed_before_any_step_ran_ends_the_task():
    dagster = Dagster(retries=False)
    dagster.run("r1", "FAILURE")
    dagster.steps["r1"] = []
    assert _ending(_client(dagster)) == ["r1"]


def test_runs_that_did_not_fail_ask_nothing_more():
    dagster = Dagster(retries=True)
    dagster.run("r1", "SUCCESS")
    dagster.run("r2", "STARTED")
    assert _ending(_client(dagster)) == []
    assert dagster.asked == []

"""DagsterClient against scripted GraphQL answers: launch retries, no duplicate runs, health."""

import json
import threading
import time

import httpx
import pytest

from api_bridge.dagster_client import (
    LAUNCH_ID_TAG,
    DagsterClient,
    DagsterRejected,
    DagsterUnavailable,
)


class Script:
    """A GraphQL endpoint whose answers the test scripts, one handler per operation."""

    def __init__(self):
        self.launches: list[dict] = []
        self.runs: list[dict] = []  # runs the "webserver" holds, with their tags
        self.fail_next: list[Exception | dict] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        query = body["query"]
        with self.lock:
            fault = self.fail_next.pop(0) if self.fail_next and "launchPipelineExecution" in query else None
        if isinstance(fault, Exception):
            raise fault
        if isinstance(fault, dict):
            return httpx.Response(200, json={"data": {"launchPipelineExecution": fault}})
        if "launchPipelineExecution" in query:
            params = body["variables"]["params"]
            with self.lock:
                run_id = f"run{len(self.runs) + 1}"
                self.runs.append({"runId": run_id, "tags": params["executionMetadata"]["tags"]})
                self.launches.append(params)
            return httpx.Response(200, json={"data": {"launchPipelineExecution": {
                "__typename": "LaunchRunSuccess", "run": {"runId": run_id}}}})
        if "runsOrError" in query:
            v = body["variables"]
            found = [r for r in self.runs if {"key": v["key"], "value": v["value"]} in r["tags"]]
            return httpx.Response(200, json={"data": {"runsOrError": {"results": found}}})
        raise AssertionError(query)


def _client(script, retry=5.0):
    return DagsterClient("127.0.0.1", 1, "videogen_dagster", timeout=1, launch_retry_seconds=retry,
                         transport=httpx.MockTransport(script))


def test_transient_failures_are_retried_until_the_launch_succeeds():
    script = Script()
    script.fail_next = [httpx.ConnectError("refused"), {"__typename": "PipelineNotFoundError", "message": "loading"}]
    run_id = _client(script).launch("plan_job", {"videogen/task_id": "t1"})
    assert run_id == "run1" and len(script.launches) == 1


def test_a_retry_after_an_ambiguous_failure_finds_the_run_instead_of_launching_twice():
    script = Script()

    def sent_then_dropped(request):  # the webserver launched the run, then the answer was lost
        response = script(request)
        if "launchPipelineExecution" in json.loads(request.content)["query"]:
            transport.handler = script
            raise httpx.ReadTimeout("lost")
        return response

    transport = httpx.MockTransport(sent_then_dropped)
    client = DagsterClient("127.0.0.1", 1, "videogen_dagster", timeout=1, launch_retry_seconds=5, transport=transport)
    assert client.launch("scene_job", {"videogen/task_id": "t1"}) == "run1"
    assert len(script.runs) == 1
    assert any(t["key"] == LAUNCH_ID_TAG for t in script.runs[0]["tags"])


def test_a_refused_launch_is_not_retried_and_says_why_in_one_line():
    script = Script()
    script.fail_next = [{"__typename": "RunConfigValidationInvalid", "errors": [{"message": "bad config\nmore"}]}]
    with pytest.raises(DagsterRejected, match="bad config$"):
        _client(script).launch("plan_job", {})
    assert script.launches == []


def test_an_unreachable_webserver_gives_up_after_the_retry_window_with_one_sentence():
    client = DagsterClient("127.0.0.1", 9, "videogen_dagster", timeout=0.5, launch_retry_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(DagsterUnavailable) as err:
        client.launch("plan_job", {})
    assert 0.8 < time.monotonic() - started < 5
    message = str(err.value)
    assert "\n" not in message and "mutation" not in message and "unreachable" in message, message


def test_many_threads_launch_through_one_client():
    script = Script()
    client = _client(script)
    errors, ids = [], []

    def go(i):
        try:
            ids.append(client.launch("plan_job", {"videogen/task_id": f"t{i}"}))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 32

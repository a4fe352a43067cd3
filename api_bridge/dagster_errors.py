"""What can go wrong when the bridge talks to Dagster, and how a launch tells one case from another."""

import httpx

REPOSITORY = "__repository__"


class DagsterUnavailable(RuntimeError):
    """Dagster cannot take the request now (webserver down, code location loading, timeout).
    The message is one sentence naming what is unavailable."""


class DagsterRejected(RuntimeError):
    """Dagster answered, and refused the launch (bad config, unknown job): not worth a retry."""


LAUNCH_MUTATION = """mutation($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) { __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PipelineNotFoundError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
    ... on RunConflict { message }
    ... on ConflictingExecutionParamsError { message }
    ... on PresetNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}"""
# Answers that mean "not now" rather than "never": the location is still loading or reloading.
TRANSIENT_LAUNCH_ERRORS = {"PipelineNotFoundError", "RepositoryLocationNotFound", "PythonError"}
LAUNCH_ID_TAG = "videogen/launch_id"


def reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"answered HTTP {exc.response.status_code}"
    return type(exc).__name__

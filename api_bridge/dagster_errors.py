"""What can go wrong when the bridge talks to Dagster."""

REPOSITORY = "__repository__"


class DagsterUnavailable(RuntimeError):
    """Dagster cannot take the request now (webserver down, code location loading, timeout).
    The message is one sentence naming what is unavailable."""


class DagsterRejected(RuntimeError):
    """Dagster answered, and refused the launch (bad config, unknown job): not worth a retry."""

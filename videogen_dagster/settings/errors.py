"""Invalid settings, reported by variable: `VIDEOGEN_BATCH_SIZE: must be an integer (got 'five')`."""

from __future__ import annotations

from collections.abc import Container
from typing import Any, NamedTuple


class Problem(NamedTuple):
    """One invalid setting: the variable, what is wrong, and the value found."""

    variable: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        # As the variable held it: a string (typed values from code are shown the same way).
        got = f" (got {str(self.value)!r})" if self.value is not None else ""
        return f"{self.variable}: {self.message}{got}"


class SettingsError(RuntimeError):
    """Invalid configuration; the message names each variable (`S3_MAX_ATTEMPTS: ...`)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


_MESSAGES = {
    "int_parsing": "must be an integer", "int_type": "must be an integer",
    "int_from_float": "must be an integer", "float_parsing": "must be a number",
    "float_type": "must be a number", "bool_parsing": "must be true or false (1/0, yes/no)",
    "extra_forbidden": "is not a known setting",
}


# Variables whose value may hold a secret: a problem with one names the variable, not the value.
SECRET_VARIABLES = frozenset({
    "VIDEOGEN_DATABASE_URL", "VIDEOGEN_CELERY_BROKER_URL", "VIDEOGEN_CELERY_BACKEND_URL",
    "AWS_SECRET_ACCESS_KEY", "JWT_SECRET", "CONVEX_DEPLOY_KEY", "OPENAI_API_KEY", "VIDEOGEN_URL_SIGNING_KEY",
})


def problem_of(err: Any, variables: Container[str], models_file_variable: str) -> Problem:
    """One of pydantic's errors (located by alias, i.e. by variable) as a `Problem`."""
    loc = [str(p) for p in err["loc"]]
    if loc[:2] == ["llm", "models"]:
        variable, rest = models_file_variable, ".".join(loc[2:])
    else:
        named = [p for p in loc if p in variables]
        variable, rest = (named[-1], "") if named else (".".join(loc), "")
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind in _MESSAGES:
        message = _MESSAGES[kind]
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "greater than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        limit = next(iter(ctx.values()))
        message = f"must be {words} {limit:g}" if isinstance(limit, int | float) else f"must be {words} {limit}"
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected')}"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
    if rest:
        message = f"{rest}: {message}"
    value = err.get("input")
    if variable in SECRET_VARIABLES:
        value = None  # a URL with a password, a key: never echoed back
    return Problem(variable, message, value if isinstance(value, str | int | float) else None)

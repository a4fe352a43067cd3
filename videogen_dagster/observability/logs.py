"""Structured logs, configured in this one place: one JSON object a line (or, for development,
aligned human-readable lines), carrying the ids of the work they are about.

`configure_logging` sets up structlog over the standard library's logging, so the project's
`logging.getLogger("videogen.…")` / `("api_bridge")` calls and structlog's loggers come out the
same way. The bridge configures the root logger at start-up (uvicorn's loggers included); a run
worker configures the `videogen` loggers only when its first step starts (`step_context`), so
Dagster's own run logs stay as they are. Ids bound with `bind_ids` / `step_context` (task_id,
run_id, video_key, scene, step) are added to every line of the same context, the standard
library's lines included.

Settings (LogSettings): LOG_FORMAT json|console, LOG_LEVEL, DEBUG=true (DEBUG level and the
console format unless those two say otherwise).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from videogen_dagster.observability.error_types import classify_error
from videogen_dagster.settings import Settings, get_settings

ID_KEYS = ("task_id", "run_id", "video_key", "scene", "step")
PIPELINE_LOGGER = "videogen.pipeline"
# uvicorn's own loggers: sent through the root logger's handler instead of theirs. The access
# log says less than the bridge's `request` lines (route template, ids, seconds): kept at WARNING.
UVICORN = {"uvicorn": None, "uvicorn.error": None, "uvicorn.access": logging.WARNING}

_MARK = "_videogen_handler"
_configured: dict[str, Any] = {}  # loggers configured, and the process that did it


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (Dagster's compute-log capture
    and pytest replace it while a step or a test runs)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


FIRST_KEYS = ("timestamp", "level", "logger", "event", *ID_KEYS)
DROPPED_KEYS = ("color_message",)  # uvicorn's copy of its message with terminal colours
# Libraries that log every HTTP call at INFO (the bridge's GraphQL queries): shown at DEBUG only.
CHATTY = ("httpx", "httpcore")


def _ordered(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Timestamp, level, logger, event and the ids first (a JSON line reads left to right)."""
    for key in DROPPED_KEYS:
        event.pop(key, None)
    first = {k: event.pop(k) for k in FIRST_KEYS if k in event}
    return {**first, **event}


def _shared() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(
    settings: Settings | None = None, loggers: tuple[str, ...] = ("",), stream: TextIO | None = None
) -> None:
    """Send `loggers` (the root logger by default) through one handler that writes structured
    lines to `stream` (default: stderr) at the settings' level. Idempotent: a second call
    replaces the handler it added before."""
    log_settings = (settings or get_settings()).log
    level = logging.getLevelName(log_settings.effective_level)
    as_json = log_settings.effective_format == "json"
    structlog.configure(
        processors=[
            *_shared(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    renderer: Any = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=bool(stream is None and sys.stderr.isatty()))
    )
    json_only: list[Any] = [structlog.processors.format_exc_info, _ordered] if as_json else []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *json_only, renderer],
    )
    for name in list(_configured.get("loggers", ())):
        _remove_handler(logging.getLogger(name))
    for name in loggers:
        logger = logging.getLogger(name)
        _remove_handler(logger)
        handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
        setattr(handler, _MARK, True)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
        logger.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == logging.DEBUG else logging.WARNING)
    _configured.update(loggers=tuple(loggers), pid=os.getpid(), level=level, json=as_json)


def _remove_handler(logger: logging.Logger) -> None:
    for h in list(logger.handlers):
        if getattr(h, _MARK, False):
            logger.removeHandler(h)


def configure_bridge_logging(settings: Settings | None = None, stream: TextIO | None = None) -> None:
    """The bridge's logs: the root logger, with uvicorn's loggers sent through it."""
    configure_logging(settings, ("",), stream)
    for name, level in UVICORN.items():
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.disabled = False  # a dictConfig elsewhere in the process may have disabled it
        logger.setLevel(level if level is not None else logging.NOTSET)


def ensure_worker_logging(settings: Settings | None = None) -> None:
    """A run worker's logs (the `videogen` loggers), configured once per process: a worker forked
    from a warm parent configures its own."""
    if _configured.get("pid") != os.getpid():
        configure_logging(settings, ("videogen",))


def get_logger(name: str = PIPELINE_LOGGER) -> Any:
    """A structlog logger over the standard library's `name`. Where this process has not
    configured logging (the CLI, a library user), its lines are plain logging records (message
    and extra fields) that go wherever that process's logging sends them: nowhere below WARNING
    by default, never to stdout (structlog's own default)."""
    if _configured.get("pid") == os.getpid():
        return structlog.stdlib.get_logger(name)
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.render_to_log_kwargs],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


def bind_ids(**ids: Any) -> None:
    """Add ids to every later line of this context (None values are left out)."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def unbind_ids(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*(keys or ID_KEYS))


@contextmanager
def step_context(step: str, **ids: Any) -> Iterator[Any]:
    """A pipeline step: its ids bound for every line it logs, a `step started` line, and a
    `step finished` (or `step failed`, with the error's type) line with its seconds. Ids are
    bound and unbound without context tokens, so the step may be a generator that Dagster
    drives across contexts."""
    bind_ids(step=step, **ids)
    log = get_logger()
    started = time.monotonic()
    log.info("step started")
    try:
        yield log
    except Exception as exc:
        message = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
        log.error("step failed", seconds=round(time.monotonic() - started, 3),
                  error=message, error_type=classify_error(message))
        raise
    except BaseException:
        log.warning("step interrupted", seconds=round(time.monotonic() - started, 3))
        raise
    else:
        log.info("step finished", seconds=round(time.monotonic() - started, 3))
    finally:
        unbind_ids("step", *ids)

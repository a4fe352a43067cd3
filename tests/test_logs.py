"""Structured logs: JSON lines carrying the ids bound where a step starts, the level from
LOG_LEVEL, the DEBUG switch (DEBUG level, human-readable lines), LOG_FORMAT."""

import io
import json
import logging

import pytest
import structlog

from videogen_dagster.observability import logs
from videogen_dagster.settings import Settings, SettingsError


@pytest.fixture
def configure():
    """configure_logging into a buffer; the loggers it touched are put back afterwards."""
    touched = {}

    def run(env: dict, loggers=("videogen",)):
        for name in loggers:
            lg = logging.getLogger(name)
            touched.setdefault(name, (lg.level, list(lg.handlers)))
        out = io.StringIO()
        logs.configure_logging(Settings.from_env(env), loggers, stream=out)
        return out

    yield run
    for name, (level, handlers) in touched.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.setLevel(level)
    logs._configured.clear()
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def _lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_step_lines_are_json_with_the_ids_bound(configure):
    out = configure({})
    with logs.step_context("scene_assets", task_id="t1", run_id="r1", video_key="p.s", scene=2) as log:
        log.info("scene rendered", version=1, render_seconds=4.2)
        logging.getLogger("videogen.llm").info("stdlib line %s", "inside")  # a plain logging call
    logs.get_logger().info("after the step")
    started, rendered, stdlib, finished, after = _lines(out)
    ids = {"task_id": "t1", "run_id": "r1", "video_key": "p.s", "scene": 2, "step": "scene_assets"}
    for line in (started, rendered, stdlib, finished):
        assert {k: line.get(k) for k in ids} == ids, line
        assert line["timestamp"].endswith("Z")
    assert (started["event"], started["level"], started["logger"]) == ("step started", "info", "videogen.pipeline")
    assert (rendered["version"], rendered["render_seconds"]) == (1, 4.2)
    assert (stdlib["event"], stdlib["logger"]) == ("stdlib line inside", "videogen.llm")
    assert finished["event"] == "step finished" and finished["seconds"] >= 0
    assert not set(ids) & set(after)  # unbound when the step ends


def test_a_failed_step_says_why_and_the_error_type(configure):
    out = configure({})
    with pytest.raises(RuntimeError), logs.step_context("scene_assets", task_id="t2", video_key="p.s", scene=1):
        raise RuntimeError("render of Scene01 exceeded the 60s wall-clock limit\nlog tail")
    failed = _lines(out)[-1]
    assert failed["event"] == "step failed" and failed["level"] == "error"
    assert failed["error"] == "render of Scene01 exceeded the 60s wall-clock limit"
    assert failed["error_type"] == "timeout" and failed["task_id"] == "t2"


def test_level_from_log_level(configure):
    out = configure({"LOG_LEVEL": "warning"})
    log = logs.get_logger()
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    assert [(line["event"], line["level"]) for line in _lines(out)] == [("w", "warning"), ("e", "error")]


def test_default_is_json_at_info(configure):
    out = configure({})
    logs.get_logger().debug("hidden")
    logs.get_logger().info("shown")
    assert [line["event"] for line in _lines(out)] == ["shown"]


def test_debug_switch_gives_debug_level_and_readable_lines(configure):
    out = configure({"DEBUG": "true"})
    logs.bind_ids(task_id="t3")
    logs.get_logger().debug("looking closely", scene=3)
    text = out.getvalue()
    assert "looking closely" in text and "task_id=t3" in text and "scene=3" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_debug_with_explicit_format_and_level(configure):
    out = configure({"DEBUG": "true", "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})
    logs.get_logger().debug("hidden")
    logs.get_logger().info("shown")
    assert [line["event"] for line in _lines(out)] == ["shown"]


def test_bad_values_are_named():
    with pytest.raises(SettingsError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})
    with pytest.raises(SettingsError, match="LOG_LEVEL"):
        Settings.from_env({"LOG_LEVEL": "loud"})


def test_configuring_again_replaces_the_handler(configure):
    configure({})
    out = configure({})
    logs.get_logger().info("once")
    assert len(_lines(out)) == 1
    assert sum(getattr(h, logs._MARK, False) for h in logging.getLogger("videogen").handlers) == 1


def test_bridge_logging_sends_uvicorn_through_the_root_logger(configure):
    root, uvicorn = logging.getLogger(), logging.getLogger("uvicorn.error")
    saved = (uvicorn.handlers[:], uvicorn.propagate, logging.getLogger("uvicorn.access").level)
    configure({}, loggers=("",))  # records the root logger's state for the fixture to restore
    out = io.StringIO()
    try:
        logs.configure_bridge_logging(Settings.from_env({}), stream=out)
        uvicorn.info("Application startup complete.")
        logging.getLogger("api_bridge").warning("JWT not set")
        lines = _lines(out)
        assert [(line["logger"], line["event"]) for line in lines] == [
            ("uvicorn.error", "Application startup complete."), ("api_bridge", "JWT not set")]
    finally:
        uvicorn.handlers[:], uvicorn.propagate = saved[0], saved[1]
        logging.getLogger("uvicorn.access").setLevel(saved[2])
        logs._remove_handler(root)


def test_unconfigured_process_prints_nothing_to_stdout(capsys):
    """The CLI configures nothing: step lines stay logging records (its --json output is stdout)."""
    logs._configured.clear()
    structlog.reset_defaults()
    with logs.step_context("scene_assets", task_id="t4", scene=1) as log:
        log.info("scene rendered", version=1)
    assert capsys.readouterr().out == ""

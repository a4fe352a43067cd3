"""Bad input is refused before anything runs, naming the field and the allowed values."""

import re

import pytest
from pydantic import ValidationError

from videogen_dagster.models import (
    MAX_SCENES,
    GenerateRequest,
    RenderConfig,
    format_validation_error,
    parse_scene_id,
    scene_id,
    split_video_key,
    video_key,
)

from .conftest import run_cli


def _err(**overrides) -> str:
    raw = {"project_id": "p1", "content_prompt": "Explain gravity", **overrides}
    with pytest.raises(ValidationError) as exc:
        GenerateRequest.model_validate(raw)
    return format_validation_error(exc.value)


@pytest.mark.parametrize(
    "overrides, field, hint",
    [
        ({"scene_count": 0}, "scene_count", f"between 1 and {MAX_SCENES}"),
        ({"scene_count": MAX_SCENES + 1}, "scene_count", f"between 1 and {MAX_SCENES}"),
        ({"content_prompt": "   "}, "content_prompt", "must not be empty"),
        ({"content_prompt": "x" * 5000}, "content_prompt", "limit is 4000"),
        ({"project_id": "bad/id"}, "project_id", "letters, digits"),
        ({"session_id": "../etc"}, "session_id", "letters, digits"),
        ({"render_config": {"quality": "ultra"}}, "render_config.quality", "'preview'"),
        ({"render_config": {"resolution": "8k"}}, "render_config.resolution", "'720p'"),
        ({"render_config": {"fps": 10}}, "render_config.fps", "15"),
        ({"render_config": {"fps": 61}}, "render_config.fps", "60"),
    ],
)
def test_bad_requests_name_the_field(overrides, field, hint):
    msg = _err(**overrides)
    assert msg.startswith(field + ":"), msg
    assert hint in msg


def test_defaults_follow_the_spec():
    req = GenerateRequest.model_validate({"project_id": "p", "content_prompt": "Explain x"})
    assert req.scene_count == 3
    assert req.llm.planner_model == "gpt-4o-mini" and req.llm.temperature == 0.7
    assert req.render_config.quality == "medium" and req.render_config.max_retries == 3
    assert req.render_config.output_format() == (1920, 1080, 30)
    assert req.s3_config.base_prefix is None and req.s3_config.storage_class == "STANDARD"
    # The spec's field name is model_config; it round-trips under that name.
    assert "model_config" in req.to_stored()


def test_resolution_and_fps_override_the_quality():
    rc = RenderConfig(quality="preview", resolution="720p", fps=24)
    assert rc.output_format() == (1280, 720, 24)
    assert RenderConfig(quality="preview").output_format() == (854, 480, 15)


def test_control_characters_are_removed_from_prompts():
    req = GenerateRequest(project_id="p", content_prompt="Explain\x00 the\x1b theorem\n")
    assert req.content_prompt == "Explain the theorem"


def test_ids_round_trip():
    key = video_key("proj-1", "session_123")
    assert split_video_key(key) == ("proj-1", "session_123")
    assert scene_id("session_123", 1) == "session_123_scene_1"
    assert parse_scene_id("session_123_scene_1") == ("session_123", 1)
    with pytest.raises(ValueError):
        parse_scene_id("session_123_scene_99")


def test_cli_refuses_bad_input_before_running(var_dir):
    proc = run_cli(["generate", "Explain x", "--scenes", "0"], var_dir, timeout=60)
    assert proc.returncode == 2
    assert "scene_count: scene_count must be between 1 and 12" in proc.stderr
    proc = run_cli(["generate", "Explain x", "--quality", "ultra", "--fps", "5"], var_dir, timeout=60)
    assert proc.returncode == 2
    assert "render_config.quality" in proc.stderr and "render_config.fps" in proc.stderr
    # Nothing ran: no Dagster instance, no metadata.
    assert not (var_dir / "metadata.sqlite").exists()


def test_a_session_id_made_from_the_prompt_is_readable_valid_and_unique():
    from videogen_dagster.models import ID_PATTERN, new_session_id

    made = new_session_id("Explain the Pythagorean theorem")
    assert re.fullmatch(r"pythagorean-theorem-[0-9a-f]{6}", made)
    assert made != new_session_id("Explain the Pythagorean theorem")
    long = new_session_id("Explain " + "incompressible Navier-Stokes turbulence closure models " * 5)
    assert re.fullmatch(ID_PATTERN, long) and len(long) <= 32 + 7
    # Nothing usable (symbols, non-Latin script, only stop words): the plain form.
    for prompt in ("", "Explain the", "∑∫√", "解释勾股定理", None):
        assert re.fullmatch(r"session_[0-9a-f]{12}", new_session_id(prompt))

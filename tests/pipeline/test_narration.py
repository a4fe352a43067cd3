"""The scene step with a voice: an OpenAI-compatible speech endpoint (a local server speaking the
SDK's wire format, returning real audio), the track muxed onto the render, and a render too
short for its speech held on its last frame rather than cutting a line."""

from __future__ import annotations

import dataclasses

import pytest

from tests.fake_openai_speech import FakeOpenAISpeech
from videogen_dagster.media import narration_audio
from videogen_dagster.models import GenerateRequest
from videogen_dagster.pipeline import register_request, run_plan, run_scene, task_result
from videogen_dagster.pipeline.narration import Narrator
from videogen_dagster.settings import get_settings

from .conftest import PROJECT, SESSION, VIDEO


@pytest.fixture
def speech_server():
    server = FakeOpenAISpeech()
    yield server
    server.close()


def test_an_openai_voice_speaks_the_scene(svc, speech_server, monkeypatch):
    # The request is judged (and re-judged by the worker) against the deployment's settings: the
    # OpenAI voice needs a key.
    monkeypatch.setenv("OPENAI_API_KEY", speech_server.api_key)
    monkeypatch.setenv("OPENAI_TTS_BASE_URL", speech_server.url)
    monkeypatch.setenv("SPEECH_CACHE_DIR", str(svc.workdir.parent / "speech"))
    svc = dataclasses.replace(svc, narrator=Narrator.from_settings(get_settings()))
    request = GenerateRequest.model_validate({
        "project_id": PROJECT, "session_id": SESSION, "scene_count": 1,
        "content_prompt": "Explain the Pythagorean theorem",
        "render_config": {"quality": "preview", "max_scene_duration": 30},
        "narration_config": {"enabled": True, "engine": "openai", "voice": "nova", "speed": 1.25},
    })
    register_request(svc.meta, request, "t1")
    run_plan(svc, VIDEO, "t1")
    out = run_scene(svc, VIDEO, 1, "t1", None)

    lines = svc.meta.get_video(VIDEO).plan["scenes"][0]["narration"]
    assert [r["body"]["input"] for r in speech_server.requests] == lines
    assert {(r["body"]["voice"], r["body"]["speed"], r["body"]["model"]) for r in speech_server.requests} == {
        ("nova", 1.25, "gpt-4o-mini-tts")
    }
    spoken = out.narration
    assert spoken and (spoken["engine"], spoken["voice"], spoken["speed"]) == ("openai", "nova", 1.25)
    # The fake renderer's clip is shorter than the speech: held on its last frame, not cut.
    last = spoken["lines"][-1]
    assert out.info.duration >= last["start"] + last["duration"]
    video = svc.stores.store_for(None).download(out.objects["video"].key, svc.workdir / "v.mp4")
    assert narration_audio.audio_info(video).codec == "aac"
    public = task_result(svc.meta, svc.stores, svc.meta.get_task("t1"))
    assert public["scenes"][0]["narration"]["engine"] == "openai"

    # A render of the same lines asks the endpoint nothing.
    asked = len(speech_server.requests)
    run_scene(svc, VIDEO, 1, None, None)
    assert len(speech_server.requests) == asked


def test_a_silent_scene_still_has_an_audio_track(svc):
    request = GenerateRequest.model_validate({
        "project_id": PROJECT, "session_id": SESSION, "scene_count": 1,
        "content_prompt": "Explain the Pythagorean theorem",
        "render_config": {"quality": "preview", "max_scene_duration": 3},
        "narration_config": {"enabled": False},
    })
    register_request(svc.meta, request, "t1")
    run_plan(svc, VIDEO, "t1")
    out = run_scene(svc, VIDEO, 1, "t1", None)
    assert out.narration is None
    assert out.info.audio is not None and out.info.audio[0] == "aac"

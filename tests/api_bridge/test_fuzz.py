"""Fuzz the whole OpenAPI document with schemathesis against the real app (issue 13).

The app is api_bridge.main.create_app() on its real stores (SQLite metadata store and local
object store in a temporary VIDEOGEN_VAR_DIR), with the Dagster client pointed at a closed port:
every launch fails at once and answers the declared 503. The run is bounded and reproducible
(derandomized, fixed seed, a few examples per operation and generation mode) and asserts, for every
case: no server error (a 5xx other than the declared 503 of an unavailable Dagster or LLM), a
declared status code, a body that matches the declared schema and content type, and declared
headers.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api_bridge import deps
from api_bridge.main import create_app
from api_bridge.settings import get_settings
from tests.conftest import free_port

MAX_EXAMPLES = 12  # per operation and generation mode (positive, negative)
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
CLEARED = ("JWT_SECRET", "JWT_PUBLIC_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "VIDEOGEN_MODELS_FILE",
           "S3_BUCKET", "S3_ENDPOINT_URL", "CONVEX_DEPLOYMENT_URL", "CONVEX_DEPLOY_KEY", "MAX_BODY_BYTES")
TALLY: dict[str, dict[str, int]] = {}
# Made when the tests run (the schema is loaded at import, reading only the settings).
VAR = Path(tempfile.gettempdir()) / f"videogen-fuzz-{os.getpid()}-{uuid.uuid4().hex[:8]}"
ENV = {"VIDEOGEN_VAR_DIR": str(VAR), "DAGSTER_HOST": "127.0.0.1", "DAGSTER_PORT": str(free_port()),
       "DAGSTER_LAUNCH_RETRY_SECONDS": "0", "DAGSTER_TIMEOUT_SECONDS": "2"}


def _clear_caches() -> None:
    for cached in (get_settings, deps.get_meta, deps.get_store_config, deps.get_dagster):
        cached.cache_clear()


@contextmanager
def fuzz_env():
    """The app's environment (its settings and stores are read from it); restored afterwards."""
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k in CLEARED:
                mp.delenv(k, raising=False)
            for k, v in ENV.items():
                mp.setenv(k, v)
            _clear_caches()
            yield
    finally:
        _clear_caches()  # after the environment is restored


# Loaded at import, as schemathesis' parametrize needs (its fixture-based loader does not run on
# this pytest); the environment is set only while loading, and again while the tests run.
with fuzz_env():
    APP = create_app()
    schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=SchemathesisConfig.from_dict({
        "seed": 13,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "mode": "all", "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }))


@pytest.fixture(scope="module", autouse=True)
def _environment():
    VAR.mkdir(parents=True)
    try:
        with fuzz_env():
            yield
    finally:
        shutil.rmtree(VAR, ignore_errors=True)
    statuses: dict[str, int] = {}
    for per_status in TALLY.values():
        for code, n in per_status.items():
            statuses[code] = statuses.get(code, 0) + n
    print(f"\nschemathesis: {sum(statuses.values())} cases on {len(TALLY)} method/path pairs; "
          f"by status: {json.dumps(dict(sorted(statuses.items())))}")


@schema.parametrize()
@hypothesis.settings(deadline=None, derandomize=True, database=None, print_blob=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_openapi_document_holds(case):
    _check(case, case.call_and_validate(checks=CHECKS))


def _check(case, response) -> None:
    tally = TALLY.setdefault(f"{case.method} {case.path}", {})
    tally[str(response.status_code)] = tally.get(str(response.status_code), 0) + 1
    if response.status_code >= 500:
        # The only server-side answers allowed: the declared 503 of a dependency that is down.
        body = response.json()
        assert response.status_code == 503, (response.status_code, body)
        text = json.dumps(body)
        assert "Dagster" in text or "dagster" in text or "LLM" in text, body


# The request models check ids, prompts, scene counts and model names in validators the OpenAPI
# document does not show, so schema-driven "valid" bodies are nearly all refused with a 400. Here
# those fields are drawn valid (the rest from the schema) to reach the operations' other answers.
_ID = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
_PROMPT = st.text(min_size=1, max_size=400).filter(lambda t: t.strip() and "\x00" not in t)
_VALID = st.fixed_dictionaries({
    "project_id": st.sampled_from(["p1", "fz", "proj-2"]) | _ID,
    "session_id": st.sampled_from(["s1", "s2"]) | _ID,
    "content_prompt": st.sampled_from(["Explain the Pythagorean theorem", "Explain Euler's formula"]) | _PROMPT,
    "scene_count": st.integers(1, 12),
    "model_config": st.just({}),
})
_EDIT = st.fixed_dictionaries({
    "project_id": st.sampled_from(["p1", "fz"]) | _ID,
    "scene_id": st.builds(lambda s, n: f"{s}_scene_{n}", st.sampled_from(["s1", "s2"]) | _ID, st.integers(1, 12)),
    "edit_prompt": st.sampled_from(["make it blue", "slower", "title: New"]) | _PROMPT,
    "model_config": st.just({}),
})
VALID_BODIES = {
    ("POST", "/api/v1/video-generation/generate"): _VALID,
    ("POST", "/api/v1/video-generation/batch"): _VALID,
    ("POST", "/api/v1/video/agents/plan"): _VALID,
    ("POST", "/api/v1/video-generation/edit-scene"): _EDIT,
}


@pytest.mark.parametrize(("method", "path"), list(VALID_BODIES))
def test_valid_bodies_get_declared_answers(method, path):
    operation = schema[path][method]

    @hypothesis.settings(max_examples=20, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
                      valid=st.lists(VALID_BODIES[(method, path)], min_size=1, max_size=3))
    def run(case, valid):
        if isinstance(case.body, list):
            case.body = [{**(b if isinstance(b, dict) else {}), **v} for b, v in zip(case.body, valid, strict=False)] or valid
        else:
            case.body = {**(case.body if isinstance(case.body, dict) else {}), **valid[0]}
        _check(case, case.call_and_validate(checks=CHECKS))

    run()


def test_the_fuzzed_app_was_the_real_one():
    """The fuzz ran on the real stores and a Dagster that is down (not on test doubles)."""
    client = TestClient(APP)
    r = client.post("/api/v1/video-generation/generate",
                    json={"project_id": "fz", "content_prompt": "Explain gravity", "session_id": "real1"})
    assert r.status_code == 503 and r.json()["error_code"] == "SERVICE_UNAVAILABLE"
    assert get_settings().metadata_path == (VAR / "metadata.sqlite").resolve()
    task = deps.get_meta().get_video("fz.real1")
    assert task and task.project_id == "fz"

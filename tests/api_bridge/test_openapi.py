"""The OpenAPI document says what the API answers (issue 13, defect 7), the docs pages work
offline, and request bodies have a size limit (defect 5: 413 in the spec's error shape)."""

import asyncio
import json
import re

import pytest
from fastapi.testclient import TestClient

from api_bridge.errors import ApiError
from api_bridge.main import create_app
from api_bridge.settings import Settings, get_settings

GEN = "/api/v1/video-generation"
AGENTS = "/api/v1/video/agents"
OBJECT = ("get", "/api/v1/objects/{key}")
EVENTS = ("get", f"{GEN}/tasks/{{task_id}}/events")
ERROR_REF = "#/components/schemas/ErrorPublic"

# Status codes each operation can answer besides its success and 500.
EXPECTED = {
    ("post", f"{GEN}/generate"): {400, 401, 404, 409, 413, 503},
    ("post", f"{GEN}/edit-scene"): {400, 401, 404, 409, 413, 503},
    ("get", f"{GEN}/tasks/{{task_id}}/status"): {401, 404},
    ("get", f"{GEN}/tasks/{{task_id}}/result"): {401, 404},
    ("delete", f"{GEN}/tasks/{{task_id}}"): {401, 404, 503},
    ("post", f"{GEN}/tasks/{{task_id}}/retry"): {401, 404, 409, 503},
    ("post", f"{GEN}/batch"): {400, 401, 404, 409, 413, 503},
    ("get", f"{GEN}/batches/{{batch_id}}"): {401, 404},
    ("get", f"{GEN}/health"): {503},
    ("post", f"{AGENTS}/plan"): {400, 401, 404, 413, 502},
    ("post", f"{AGENTS}/code"): {400, 401, 413},
    ("post", f"{AGENTS}/render"): {400, 401, 413, 429, 503},
    ("post", f"{AGENTS}/fix"): {400, 401, 413, 502, 503},
    ("delete", "/api/v1/videos/{project_id}/{session_id}"): {400, 401, 404, 409, 503},
    ("get", "/api/v1/videos/{project_id}/{session_id}"): {400, 401, 404, 503},
    ("get", "/api/v1/videos/{project_id}/{session_id}/scenes/{scene_number}/source"): {400, 401, 404, 503},
    OBJECT: {304, 400, 401, 403, 404, 416},
    EVENTS: {400, 401, 404},
    ("get", f"{GEN}/tasks/{{task_id}}/webhooks"): {401, 404},
}
# Success codes, where not one: a stored object is sent whole (200) or in part (206); a task's
# events stream (200), or nothing more will come (204).
SUCCESS = {OBJECT: {200, 206}, EVENTS: {200, 204}}


@pytest.fixture
def client(monkeypatch):
    for name in ("JWT_SECRET", "JWT_PUBLIC_KEY", "MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield TestClient(create_app())
    get_settings.cache_clear()


def _operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_every_operation_declares_what_it_answers(client):
    doc = client.get("/openapi.json").json()
    found = {(m, p): op for m, p, op in _operations(doc)}
    assert set(found) == set(EXPECTED)
    for key, op in found.items():
        codes = {int(c) for c in op["responses"]}
        success = {c for c in codes if c < 300}
        assert len(success) == 1 or success == SUCCESS.get(key), key
        assert codes - success == EXPECTED[key] | {500}, key
        for code, response in op["responses"].items():
            if key == OBJECT and int(code) < 400:  # the object's own bytes, typed by its name
                assert ("video/mp4" in response.get("content", {})) == (code != "304"), code
                continue
            if key == EVENTS and int(code) < 400:  # Server-Sent Events, or no content
                assert ("text/event-stream" in response.get("content", {})) == (code == "200"), code
                continue
            schema = response["content"]["application/json"]["schema"]
            if int(code) >= 400 and key[1] != f"{GEN}/health":
                assert schema == {"$ref": ERROR_REF}, (key, code)
            assert response["description"], (key, code)
        if "requestBody" in op:
            assert {400, 413} <= codes, key
    # FastAPI's 422 and its validation models are gone: this API answers 400.
    assert '"422"' not in json.dumps(doc)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert doc["components"]["schemas"]["ErrorPublic"]["required"] == ["detail", "error_code", "timestamp"]
    health = doc["paths"][f"{GEN}/health"]["get"]["responses"]["503"]
    assert health["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HealthPublic"}
    limited = doc["paths"][f"{AGENTS}/render"]["post"]["responses"]["429"]
    assert "Retry-After" in limited["headers"]
    assert "securitySchemes" not in doc["components"]  # the API runs open without JWT settings


def test_bearer_scheme_is_declared_when_auth_is_configured(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", "a-secret-long-enough-for-hs256-0123456789")
    get_settings.cache_clear()
    try:
        doc = TestClient(create_app()).get("/openapi.json").json()
    finally:
        get_settings.cache_clear()
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for method, path, op in _operations(doc):
        assert ("security" in op) == (path != f"{GEN}/health"), (method, path)


def test_validation_errors_answer_the_declared_400(client):
    r = client.post(f"{GEN}/generate", json={"project_id": "p1", "content_prompt": "x", "scene_count": 99})
    assert r.status_code == 400 and r.json()["error_code"] == "VALIDATION_ERROR"
    assert "scene_count" in r.json()["detail"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_use_no_external_host(client, page):
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", r.text)
    assert refs, r.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}", r.text, re.I), r.text
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        if ref.endswith(".js"):
            assert "javascript" in asset.headers["content-type"] and len(asset.content) > 100_000, ref
        if ref.endswith(".css"):
            assert "text/css" in asset.headers["content-type"] and len(asset.content) > 10_000, ref


def test_swagger_ui_can_render_openapi_31(client):
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders from version 5 on."""
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    page = client.get("/docs").text
    js = re.search(r'src="([^"]+swagger-ui-bundle\.js)"', page).group(1)
    assert re.search(rb'version:"5\.\d+\.\d+"|"5\.\d+\.\d+"', client.get(js).content)


# --- request body limit ---------------------------------------------------------------------------


def test_max_body_bytes_setting(monkeypatch):
    assert Settings().max_body_bytes == 2 * 1024 * 1024
    monkeypatch.setenv("MAX_BODY_BYTES", "1234")
    assert Settings().max_body_bytes == 1234


def _assert_413(r):
    assert r.status_code == 413, r.text
    body = r.json()
    assert set(body) == {"detail", "error_code", "timestamp"}
    assert body["error_code"] == "PAYLOAD_TOO_LARGE" and "1000 bytes" in body["detail"]


def test_a_body_over_the_limit_is_413_by_content_length_or_by_count():
    client = TestClient(create_app(max_body_bytes=1000))
    big = {"project_id": "p1", "content_prompt": "x" * 2000}
    _assert_413(client.post(f"{GEN}/generate", json=big))
    _assert_413(client.post(f"{AGENTS}/code", content=b"{" + b" " * 5000 + b"}"))
    # No Content-Length (chunked): counted as it arrives, answered by the app's error handler.
    chunks = (b" " * 400 for _ in range(10))
    _assert_413(client.post(f"{AGENTS}/render", content=chunks, headers={"content-type": "application/json"}))
    # Under the limit the request goes on to validation as before.
    r = client.post(f"{GEN}/generate", json={"project_id": "p1", "content_prompt": "x", "scene_count": 0})
    assert r.status_code == 400 and r.json()["error_code"] == "VALIDATION_ERROR"


def _asgi(app, headers, chunks):
    """Call the ASGI app directly with a body sent in chunks; how many chunks it read, and the answer."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": f"{AGENTS}/code", "raw_path": f"{AGENTS}/code".encode(),
             "root_path": "", "query_string": b"", "server": ("testserver", 80), "client": ("t", 1),
             "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers]}
    read, sent = [], []

    async def receive():
        if len(read) < len(chunks):
            read.append(chunks[len(read)])
            return {"type": "http.request", "body": read[-1], "more_body": len(read) < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return len(read), start["status"], dict(start["headers"]), json.loads(body)


def test_the_body_is_not_read_past_the_limit():
    app = create_app(max_body_bytes=1000)
    chunks = [b" " * 300] * 10_000  # a 3 MB body, unannounced
    n, status, headers, body = _asgi(app, [], chunks)
    assert status == 413 and body["error_code"] == "PAYLOAD_TOO_LARGE"
    assert n == 4  # refused at the chunk that passed 1000 bytes
    assert headers[b"connection"] == b"close"
    # Announced too large: refused before reading anything.
    n, status, _, body = _asgi(app, [(b"content-length", b"3000000")], chunks)
    assert (n, status, body["error_code"]) == (0, 413, "PAYLOAD_TOO_LARGE")


def test_error_headers_reach_the_client():
    app = create_app()

    @app.get("/busy")
    def busy():
        raise ApiError(429, "all render slots are busy", "RATE_LIMITED", headers={"Retry-After": "7"})

    r = TestClient(app).get("/busy")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert r.json()["error_code"] == "RATE_LIMITED"

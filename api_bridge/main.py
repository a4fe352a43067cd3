"""The REST bridge: the spec's endpoints mapped onto Dagster run launches and run status."""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from api_bridge import errors
from api_bridge.http_metrics import HttpMetricsMiddleware
from api_bridge.middleware import BodyLimitMiddleware
from api_bridge.routers import (
    agents,
    batches,
    metrics,
    objects,
    task_events,
    video_generation,
    videos,
)
from api_bridge.schemas import ERROR_DESCRIPTIONS, ErrorPublic
from api_bridge.settings import get_settings
from api_bridge.webhook_delivery import delivering
from mcp_server.http import mount as mount_mcp
from videogen_dagster.observability.logs import configure_bridge_logging

log = logging.getLogger("api_bridge")

# FastAPI documents a 422 for every operation with parameters or a body; this API answers 400
# (errors.install), so the document says 400 and drops FastAPI's validation error models.
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_ERROR_REF = {"$ref": "#/components/schemas/ErrorPublic"}
BEARER = "bearerAuth"


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    configure_bridge_logging(settings)  # JSON lines (LOG_FORMAT, LOG_LEVEL, DEBUG)
    if not (settings.jwt_secret or settings.jwt_public_key):
        log.warning("JWT_SECRET/JWT_PUBLIC_KEY not set: the API is open (fine for local use only)")
    async with app.state.mcp.run():  # the MCP server's streamable HTTP transport at /mcp
        async with delivering(app):  # signed webhooks from the outbox (webhook_delivery.py)
            yield


def _validates(operation: dict[str, Any]) -> bool:
    """Whether the operation can refuse its input: a body, or a parameter that is more than any
    string (a plain string path parameter such as a task id always validates)."""
    if "requestBody" in operation:
        return True
    return any(
        set(p.get("schema", {})) - {"title"} != {"type"} or p["schema"].get("type") != "string"
        for p in operation.get("parameters", [])
    )


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the API's real error answers: 400 instead of 422, and a bearer
    security scheme on the operations that check tokens when JWT auth is configured."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    settings = get_settings()
    auth = bool(settings.jwt_secret or settings.jwt_public_key)
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses and _validates(operation):
                responses["400"] = {"description": ERROR_DESCRIPTIONS[400],
                                    "content": {"application/json": {"schema": _ERROR_REF}}}
            # A signed object URL works without a token ({}: none needed), or with a valid one.
            optional = operation.pop("x-bearer-optional", False)
            if auth and "401" in responses:
                operation["security"] = [{BEARER: []}, {}] if optional else [{BEARER: []}]
    if "ErrorPublic" not in schemas:
        schemas["ErrorPublic"] = ErrorPublic.model_json_schema(ref_template="#/components/schemas/{model}")
    paths = json.dumps(doc.get("paths", {}))
    if not any(f"#/components/schemas/{name}" in paths for name in _FASTAPI_VALIDATION):
        for name in _FASTAPI_VALIDATION:
            schemas.pop(name, None)
    if auth:
        doc["components"]["securitySchemes"] = {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    app.openapi_schema = doc
    return doc


def create_app(max_body_bytes: int | None = None) -> FastAPI:
    """The bridge. Swagger UI (/docs) and ReDoc (/redoc) are served from assets shipped in the
    fastapi-offline package (under /static-offline-docs): no CDN, so they work offline."""
    app = FastAPIOffline(
        title="videogen_dagster video generation API",
        version="1.0.0",
        description="Prompt to explanatory video, scene editing, task status (see spec/video-generation-api.md).",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(video_generation.router)
    app.include_router(batches.router)
    app.include_router(agents.router)
    app.include_router(objects.router)
    app.include_router(videos.router)
    app.include_router(metrics.router)  # GET /metrics (Prometheus)
    app.include_router(task_events.router)
    app.state.mcp = mount_mcp(app)  # the MCP server at /mcp (mcp_server/http.py)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=max_body_bytes if max_body_bytes is not None else lambda: get_settings().max_body_bytes,
    )
    app.add_middleware(HttpMetricsMiddleware)  # outermost: counts every answer, 413s included
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


app = create_app()

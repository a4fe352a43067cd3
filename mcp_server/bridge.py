"""The MCP server's one way in: the REST bridge's HTTP API, called with the caller's token.

Every tool and resource is a call (or two) to the bridge, so the bridge's validation, JWT project
permissions and error answers apply unchanged; nothing here reads a store or talks to Dagster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

GENERATION = "/api/v1/video-generation"
VIDEOS = "/api/v1/videos"


class BridgeError(Exception):
    """An error answer of the bridge (or no answer), as one sentence for the assistant."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.code = status, code


def segment(value: str) -> str:
    """A caller's value as one path segment (never `..` or a `/` that reaches another route)."""
    return quote(str(value), safe="")


class BridgeApi:
    """The bridge's endpoints that the MCP tools use, over one httpx client."""

    def __init__(self, client: httpx.AsyncClient, where: str):
        self.client, self.where = client, where

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self.client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise BridgeError(f"the video API at {self.where} is unreachable: {exc!r}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            detail = data.get("detail") if isinstance(data, dict) else None
            code = data.get("error_code") if isinstance(data, dict) else None
            raise BridgeError(
                f"the video API refused {method} {path}: {response.status_code} {code or ''} "
                f"{detail or response.text[:300]}".replace("  ", " ").strip(),
                response.status_code, code,
            )
        if not isinstance(data, dict):
            raise BridgeError(f"the video API answered {method} {path} with something other than a JSON object")
        return data

    # --- the endpoints ------------------------------------------------------------------------

    async def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", f"{GENERATION}/generate", body)

    async def edit_scene(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", f"{GENERATION}/edit-scene", body)

    async def task_status(self, task_id: str) -> dict[str, Any]:
        return await self.call("GET", f"{GENERATION}/tasks/{segment(task_id)}/status")

    async def task_result(self, task_id: str) -> dict[str, Any]:
        return await self.call("GET", f"{GENERATION}/tasks/{segment(task_id)}/result")

    async def video(self, project_id: str, session_id: str) -> dict[str, Any]:
        return await self.call("GET", f"{VIDEOS}/{segment(project_id)}/{segment(session_id)}")

    async def scene_source(self, project_id: str, session_id: str, scene_number: int) -> dict[str, Any]:
        return await self.call(
            "GET", f"{VIDEOS}/{segment(project_id)}/{segment(session_id)}/scenes/{int(scene_number)}/source")


# How a tool reaches the bridge for the request it serves: given the request's Authorization
# header (None on stdio), an open BridgeApi.
Connector = Callable[[str | None], AbstractAsyncContextManager[BridgeApi]]


def over_http(base_url: str, token: str | None, timeout: float) -> Connector:
    """The bridge at `base_url`, with `token` as the bearer (stdio: one configured identity)."""

    @asynccontextmanager
    async def connect(_authorization: str | None) -> AsyncIterator[BridgeApi]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as client:
            yield BridgeApi(client, base_url)

    return connect


def in_process(app: Any, timeout: float = 60.0) -> Connector:
    """The bridge app itself, through ASGI (no socket): each call carries the MCP request's own
    Authorization header, so the caller's token decides what it may do."""

    @asynccontextmanager
    async def connect(authorization: str | None) -> AsyncIterator[BridgeApi]:
        headers = {"Authorization": authorization} if authorization else {}
        # An unhandled error in the app is its 500 answer (as a REST client sees it), not a raise.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge", headers=headers,
                                     timeout=timeout) as client:
            yield BridgeApi(client, "this bridge")

    return connect

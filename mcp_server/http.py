"""The MCP server over streamable HTTP, served by the REST bridge itself at `/mcp`.

Each MCP request's `Authorization: Bearer` header goes with the API calls its tools make, and
those calls go through the bridge app in-process (ASGI, no socket): the same routes, validation
and JWT project permissions as a REST client gets. With JWT auth configured, a request without a
valid token is refused at the door with the API's 401 (and `WWW-Authenticate: Bearer`).

Stateless, JSON answers: no MCP session lives in the bridge's memory, so any bridge process (or
worker) can answer any request, and a token is checked on every request, never remembered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api_bridge.auth import current_principal
from api_bridge.errors import ApiError, error_body
from api_bridge.settings import get_settings
from mcp_server.bridge import in_process
from mcp_server.server import build_server

PATH = "/mcp"


class McpEndpoint:
    """The ASGI endpoint at /mcp: the bridge's own token check before any MCP message is read
    (an open bridge checks nothing), then the SDK's streamable HTTP transport."""

    def __init__(self, server: MCPServer):
        self.server = server
        self._transport: ASGIApp | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """For the app's lifespan. A session manager runs once, so each run makes a fresh one."""
        self.server.streamable_http_app(
            stateless_http=True, json_response=True,
            # The SDK guards localhost servers against DNS rebinding by Host/Origin; the bridge is
            # reached under whatever name it is deployed at, and guards itself with JWTs as the
            # REST API does.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self.server.session_manager
        async with manager.run():
            self._transport = StreamableHTTPASGIApp(manager)
            try:
                yield
            finally:
                self._transport = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await current_principal(Request(scope), get_settings())
            if self._transport is None:
                raise ApiError(503, "the MCP server is not running (it starts with the bridge's lifespan)")
        except ApiError as exc:
            await error_body(exc.status, exc.detail, exc.error_code, exc.headers)(scope, receive, send)
            return
        await self._transport(scope, receive, send)


def mount(app: Any, path: str = PATH) -> McpEndpoint:
    """Serve the MCP server at `path` of the bridge `app`; `async with endpoint.run():` in the
    app's lifespan starts its transport."""
    endpoint = McpEndpoint(build_server(in_process(app)))
    app.router.routes.append(Route(path, endpoint=endpoint, include_in_schema=False))
    return endpoint

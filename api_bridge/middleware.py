"""Request body size limit, as a pure ASGI middleware (nothing is buffered here).

A body announced larger than the limit (Content-Length) is refused before any of it is read; a
body without a length (chunked) is counted as its chunks arrive and refused as soon as the count
passes the limit, so a 200 MB body never reaches the JSON parser. The answer is 413 in the spec's
error shape, error_code PAYLOAD_TOO_LARGE, and the connection is closed (the rest of the body is
not read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_bridge.errors import error_body

log = logging.getLogger("api_bridge")


class PayloadTooLarge(HTTPException):
    """Raised from `receive` while the app reads a body past the limit. It is an HTTPException,
    so the app's own error handler answers it (FastAPI re-raises HTTPExceptions met while reading
    a body); should it escape the app, the middleware answers it."""

    def __init__(self, limit: int):
        super().__init__(413, too_large_detail(limit), headers={"Connection": "close"})


def too_large_detail(limit: int) -> str:
    return f"request body: larger than the limit of {limit} bytes (MAX_BODY_BYTES)"


class BodyLimitMiddleware:
    """`max_bytes`: the limit, or a function that returns it (read per request, so the settings
    are read when the app serves, not when it is built)."""

    def __init__(self, app: ASGIApp, max_bytes: int | Callable[[], int]) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes() if callable(self.max_bytes) else self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(limit, scope, receive, send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except PayloadTooLarge:
            if started:  # the app answered already; nothing more can be said
                log.warning("body over %d bytes on %s after the response started", limit, scope.get("path"))
                return
            await self._refuse(limit, scope, receive, send)

    @staticmethod
    async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_body(413, too_large_detail(limit), "PAYLOAD_TOO_LARGE", headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses these; otherwise the body is counted
    return None

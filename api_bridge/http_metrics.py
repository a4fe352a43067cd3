"""The bridge's own HTTP figures and request log lines, as a pure ASGI middleware.

Per request: `videogen_http_requests_total{method, route, status}` and
`videogen_http_request_duration_seconds{method, route}` (in this process, in metrics.REGISTRY),
labelled with the route's template (`/api/v1/video-generation/tasks/{task_id}/status`, never the
task id itself, so the series stay few), and one `request` log line with its route, status, seconds and
the path's ids (task_id, batch_id, project_id, session_id).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_bridge.metrics import REGISTRY
from videogen_dagster.observability.logs import get_logger

HTTP_REQUESTS = Counter(
    "videogen_http_requests", "HTTP requests answered by the bridge, by method, route template and status.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "videogen_http_request_duration_seconds", "Seconds from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
PATH_IDS = ("task_id", "batch_id", "project_id", "session_id")
# Polled all the time: their lines are DEBUG, the others INFO.
QUIET_ROUTES = ("/metrics", "/api/v1/video-generation/health", "/api/v1/video-generation/tasks/{task_id}/status")
UNMATCHED = "unmatched"
HTTP_LOGGER = "api_bridge.http"


def route_template(scope: Scope) -> str:
    """The matched route's path template (a mounted app's mount path), or `unmatched` (a 404
    for a path no route knows: its raw path is not a label, so a scan cannot add series)."""
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return str(path) if path else UNMATCHED


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes the app is answered 500 by the server

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        finally:
            seconds = time.perf_counter() - started
            method, route = scope.get("method", "GET"), route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(seconds)
            params = scope.get("path_params") or {}
            ids = {k: params[k] for k in PATH_IDS if k in params}
            log = get_logger(HTTP_LOGGER)
            level = log.debug if route in QUIET_ROUTES and status < 400 else log.info
            level("request", method=method, route=route, path=scope.get("path"), status=status,
                  seconds=round(seconds, 4), **ids)

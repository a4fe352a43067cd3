"""`GET /metrics`: the Prometheus text exposition of api_bridge/metrics.py's registry.

Open (no token), like Prometheus endpoints usually are: its figures are totals over every project
and carry no project, session or task id. Bind the bridge to a private address, or put a proxy
in front, where that matters."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api_bridge.metrics import REGISTRY

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Sync on purpose: a scrape reads SQLite and asks Dagster, off the event loop."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

"""The cluster-mode part of GET /health: videogen_dagster/cluster/health.py's checks (PostgreSQL,
Redis with the queue lengths, the Celery workers, S3), cached there for a few seconds, as the
bridge's `checks` entries and its `cluster` field."""

from __future__ import annotations

from datetime import UTC, datetime

from api_bridge.schemas import ClusterHealthPublic


def cluster_health_parts() -> tuple[dict[str, str | None], ClusterHealthPublic]:
    """None per healthy check, else what is wrong; and the cluster's details."""
    from videogen_dagster.cluster.health import cluster_health  # imports Celery: cluster mode only

    report = cluster_health().report()
    checks = {name: (None if c.ok else c.detail) for name, c in report.checks.items()}
    checked_at = datetime.fromtimestamp(report.checked_at, UTC).isoformat(timespec="seconds")
    public = ClusterHealthPublic(
        workers=report.workers,
        queues=report.queues,
        details={name: c.detail for name, c in report.checks.items()},
        checked_at=checked_at.replace("+00:00", "Z"),
    )
    return checks, public

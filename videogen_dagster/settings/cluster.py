"""Cluster mode's settings (README, "Cluster mode"): the Celery broker that carries runs to the
workers. Unset: the embedded default (runs forked on this machine by the warm run launcher)."""

from __future__ import annotations

from pydantic import Field

from videogen_dagster.settings.groups import Group


class ClusterSettings(Group):
    # Celery's broker (Redis: redis://host:6379/0). Set on the head node (the daemon's run
    # launcher sends runs through it) and on every worker.
    broker_url: str | None = Field(None, alias="VIDEOGEN_CELERY_BROKER_URL", repr=False)
    # Celery's result backend (task states, which run monitoring reads); unset: the broker's URL.
    backend_url: str | None = Field(None, alias="VIDEOGEN_CELERY_BACKEND_URL", repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.broker_url)

    @property
    def results_url(self) -> str | None:
        return self.backend_url or self.broker_url

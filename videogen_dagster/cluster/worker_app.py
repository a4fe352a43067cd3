"""The app a worker process loads (`celery -A videogen_dagster.cluster.worker_app:app`): the
cluster app, with the code location imported once in the worker's parent process so that each
pool process starts with Dagster and the definitions already loaded (as the warm run launcher
does on one machine)."""

from __future__ import annotations

from celery import signals

from videogen_dagster.cluster.celery_app import app

__all__ = ["app"]


@signals.worker_init.connect
def _preload(**_):
    import videogen_dagster.definitions  # noqa: F401 - imported for its side effect: warm children

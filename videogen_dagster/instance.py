"""The Dagster instance the CLI works on: DAGSTER_HOME (default ./var/dagster), the one `make up`'s
UI shows, with the project's dagster.yaml copied into it on first use."""

from __future__ import annotations

import shutil
from pathlib import Path

from videogen_dagster.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME (default ./var/dagster) with the project's dagster.yaml in it; in cluster
    mode (VIDEOGEN_CELERY_BROKER_URL set) the one made from dagster-cluster.yaml."""
    settings = get_settings()
    home = (settings.dagster.home or Path("var/dagster")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    if settings.cluster.enabled:
        from videogen_dagster.cluster.instance_config import write_cluster_instance

        if not (home / "dagster.yaml").exists():
            write_cluster_instance(home, REPO_ROOT / "dagster-cluster.yaml", settings)
        return home
    src = REPO_ROOT / "dagster.yaml"
    if src.exists() and not (home / "dagster.yaml").exists():
        shutil.copyfile(src, home / "dagster.yaml")
    return home


def dagster_instance():
    """The Dagster instance at DAGSTER_HOME."""
    import dagster as dg

    return dg.DagsterInstance.from_config(str(prepare_dagster_home()))

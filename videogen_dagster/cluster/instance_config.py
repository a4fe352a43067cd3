"""The Dagster instance file of cluster mode ($DAGSTER_HOME/dagster.yaml), made from the
project's dagster-cluster.yaml and the settings: the compute-log manager's S3 endpoint only when
one is set (AWS needs none), and the cluster's render slots as the scene run limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from videogen_dagster.settings import Settings


def cluster_instance_config(template: Path, settings: Settings, render_slots: int | None = None) -> dict[str, Any]:
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    logs = config.get("compute_logs", {}).get("config", {})
    if not settings.s3.endpoint_url:
        logs.pop("endpoint_url", None)
    if not settings.s3.bucket:
        # No S3: step logs stay on the worker that wrote them (the UI cannot show them).
        config.pop("compute_logs", None)
    if render_slots:
        for limit in config["concurrency"]["runs"]["tag_concurrency_limits"]:
            if limit.get("key") == "videogen/kind" and limit.get("value") == "scene":
                limit["limit"] = int(render_slots)
    return config


def write_cluster_instance(home: Path, template: Path, settings: Settings, render_slots: int | None = None) -> Path:
    """Writes DAGSTER_HOME/dagster.yaml for cluster mode (replacing a previous one)."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    body = yaml.safe_dump(cluster_instance_config(template, settings, render_slots), sort_keys=False)
    target.write_text("# Made by videogen from dagster-cluster.yaml (cluster mode); edits are replaced.\n" + body)
    return target

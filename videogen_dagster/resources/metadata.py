"""Metadata store resource: tasks, videos, scenes, versions. Embedded default: SQLite; with a
Convex deployment configured, every write is also mirrored to Convex (see convex.py)."""

import os
from pathlib import Path

import dagster as dg

from videogen_dagster.convex import open_metadata_store
from videogen_dagster.metastore import SqliteMetadataStore


class MetadataStoreResource(dg.ConfigurableResource):
    """Task progress and the records of every video, scene and asset."""

    sqlite_path: str
    convex_url: str = ""
    # The deploy key is read from this environment variable when the store opens, so the
    # secret never appears in the resource's config (which the UI shows).
    convex_deploy_key_env: str = "CONVEX_DEPLOY_KEY"

    def get_store(self) -> SqliteMetadataStore:
        return open_metadata_store(
            Path(self.sqlite_path), self.convex_url or None, os.environ.get(self.convex_deploy_key_env)
        )

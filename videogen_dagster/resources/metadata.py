"""Metadata store resource: tasks, videos, scenes, versions. Embedded default: SQLite (PostgreSQL
with VIDEOGEN_DATABASE_URL set: cluster mode); with a Convex deployment configured, every write
is also mirrored to Convex (see stores/convex/)."""

from pathlib import Path

import dagster as dg

from videogen_dagster.settings import get_settings
from videogen_dagster.stores.convex import open_metadata_store
from videogen_dagster.stores.metastore import MetadataStore


class MetadataStoreResource(dg.ConfigurableResource):
    """Task progress and the records of every video, scene and asset."""

    sqlite_path: str

    def get_store(self) -> MetadataStore:
        # CONVEX_DEPLOYMENT_URL/CONVEX_DEPLOY_KEY come from the settings when the store opens, so
        # the key never appears in the resource's config (which the UI shows).
        # VIDEOGEN_DATABASE_URL (cluster mode) puts the store on PostgreSQL; sqlite_path is then unused.
        settings = get_settings()
        convex = settings.convex
        return open_metadata_store(Path(self.sqlite_path), convex.url, convex.deploy_key, settings.database_url)

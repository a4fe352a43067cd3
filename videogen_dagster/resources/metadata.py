"""Metadata store resource: tasks, videos, scenes, versions. Embedded default: SQLite."""

from pathlib import Path

import dagster as dg

from videogen_dagster.metastore import SqliteMetadataStore


class MetadataStoreResource(dg.ConfigurableResource):
    """Task progress and the records of every video, scene and asset."""

    sqlite_path: str

    def get_store(self) -> SqliteMetadataStore:
        return SqliteMetadataStore(Path(self.sqlite_path))

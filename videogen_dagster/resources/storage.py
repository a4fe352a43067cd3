"""Object storage resource. Embedded default: a local folder with file:// URLs."""

from pathlib import Path

import dagster as dg

from videogen_dagster.objectstore import LocalObjectStore, ObjectStore


class ObjectStoreResource(dg.ConfigurableResource):
    """Where every artifact is written, under a versioned key layout (see objectstore.py)."""

    root: str
    base_prefix: str = "projects/"

    def get_store(self) -> ObjectStore:
        return LocalObjectStore(Path(self.root))

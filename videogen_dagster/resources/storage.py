"""Object storage resource: S3 (AWS, MinIO, R2, any S3-compatible endpoint) when a bucket is set,
else the embedded default, a local folder with file:// URLs."""

from __future__ import annotations

import dagster as dg

from videogen_dagster.settings import get_settings
from videogen_dagster.stores.objectstore import StoreConfig


class ObjectStoreResource(dg.ConfigurableResource):
    """Where every artifact is written, under a versioned key layout (see stores/objectstore/keys.py).

    S3 is configured by the project's settings (S3_BUCKET and the other S3_*/AWS_* variables,
    videogen_dagster/settings/), read when the store is used, so credentials never appear in
    this resource's config (which the UI shows). A request's `s3_config` overrides bucket,
    prefix, public URL, storage class and versioning per video."""

    # The local folder (the embedded default, and when no bucket is configured).
    root: str

    def store_config(self) -> StoreConfig:
        return StoreConfig.from_settings(get_settings(), local_root=self.root)

"""Which store a video's objects go to: S3 when a bucket is configured (in the settings or in the
request's s3_config), else the local folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from videogen_dagster.settings import S3Settings, Settings, SettingsError, get_settings
from videogen_dagster.stores.objectstore.base import ObjectStore, ObjectStoreError
from videogen_dagster.stores.objectstore.local import LocalObjectStore
from videogen_dagster.stores.objectstore.s3 import S3ObjectStore
from videogen_dagster.stores.objectstore.signing import UrlSigner


@dataclass(frozen=True)
class StoreConfig:
    """The local folder, the key prefix, the S3 settings when a bucket is configured, and the
    signer of the local folder's HTTP URLs when VIDEOGEN_PUBLIC_URL is set."""

    local_root: str
    base_prefix: str = "projects/"
    s3: S3Settings | None = None
    signer: UrlSigner | None = None

    @classmethod
    def from_settings(cls, settings: Settings, local_root: str | Path | None = None) -> StoreConfig:
        """S3_BUCKET (and the other S3_*/AWS_* settings) select S3; the local folder is
        `local_root`, by default VIDEOGEN_VAR_DIR/objects."""
        s3 = settings.s3
        root = str(local_root) if local_root is not None else str(settings.objects_root)
        signer = UrlSigner.from_settings(settings) if settings.urls.public_url else None
        return cls(local_root=root, base_prefix=s3.base_prefix, s3=s3 if s3.bucket else None, signer=signer)

    @classmethod
    def from_env(cls, local_root: str, env: Mapping[str, str] | None = None) -> StoreConfig:
        """`from_settings` of this process's settings, or of an explicit environment `env`."""
        try:
            settings = get_settings() if env is None else Settings.from_env(env)
        except SettingsError as exc:
            # The store's own errors name the variable the same way ("S3_READ_TIMEOUT must be ...").
            raise ObjectStoreError("; ".join(str(p).replace(":", "", 1) for p in exc.problems)) from None
        return cls.from_settings(settings, local_root)

    def prefix_for(self, s3_config: dict | None) -> str:
        given = (s3_config or {}).get("base_prefix")
        return _slash(given) if given else self.base_prefix

    def store_for(self, s3_config: dict | None = None) -> ObjectStore:
        """The store of one video: the request's s3_config overrides the settings."""
        cfg = s3_config or {}
        bucket = cfg.get("bucket_name")
        if not bucket and self.s3 is None:
            return LocalObjectStore(Path(self.local_root), self.signer)
        base = self.s3 or S3Settings(bucket=bucket or "")
        overrides: dict = {}
        if bucket:
            overrides["bucket"] = bucket
        if cfg.get("public_base_url"):
            overrides["public_base_url"] = cfg["public_base_url"]
        if cfg.get("storage_class"):
            overrides["storage_class"] = cfg["storage_class"]
        if "enable_versioning" in cfg:
            overrides["enable_versioning"] = bool(cfg["enable_versioning"])
        return _s3_store(base.model_copy(update=overrides))


def _slash(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


@lru_cache(maxsize=32)
def _s3_store(settings: S3Settings) -> S3ObjectStore:
    # One client per distinct configuration: boto3 clients are thread-safe and slow to build.
    return S3ObjectStore(settings)


# Not fork-safe, though: a forked child (the CLI's scene workers, the warm run workers) would
# share the parent's pooled keep-alive connections, and two processes reading one socket get
# each other's answers. Each child builds its own clients.
os.register_at_fork(after_in_child=_s3_store.cache_clear)

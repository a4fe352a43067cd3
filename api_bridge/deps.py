"""Dependencies: the metadata store, the object store and the Dagster client, one of each."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api_bridge.dagster_client import DagsterClient
from api_bridge.settings import Settings, get_settings
from videogen_dagster.stores.convex import open_metadata_store
from videogen_dagster.stores.metastore import MetadataStore
from videogen_dagster.stores.objectstore import StoreConfig


@lru_cache
def get_meta() -> MetadataStore:
    """The pipeline's metadata store (PostgreSQL when VIDEOGEN_DATABASE_URL is set; mirrored to
    Convex when CONVEX_DEPLOYMENT_URL is set)."""
    s = get_settings()
    return open_metadata_store(s.metadata_path, s.convex.url, s.convex.deploy_key, s.database_url)


@lru_cache
def get_store_config() -> StoreConfig:
    """Same settings as the code location: S3_BUCKET etc. select S3, else the local folder."""
    return StoreConfig.from_settings(get_settings())


@lru_cache
def get_dagster() -> DagsterClient:
    d = get_settings().dagster
    return DagsterClient(
        d.host, d.port, d.location, d.timeout_seconds,
        launch_retry_seconds=d.launch_retry_seconds, max_concurrent_launches=d.max_concurrent_launches,
    )


# Async providers: FastAPI runs sync dependencies in a thread pool, a hop per request that
# status polling cannot afford. Tests override these.
async def provide_meta() -> MetadataStore:
    return get_meta()


async def provide_store() -> StoreConfig:
    return get_store_config()


async def provide_dagster() -> DagsterClient:
    return get_dagster()


async def provide_settings() -> Settings:
    return get_settings()


Meta = Annotated[MetadataStore, Depends(provide_meta)]
Store = Annotated[StoreConfig, Depends(provide_store)]
Dagster = Annotated[DagsterClient, Depends(provide_dagster)]
SettingsDep = Annotated[Settings, Depends(provide_settings)]

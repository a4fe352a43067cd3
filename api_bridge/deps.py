"""Dependencies: the metadata store, the object store and the Dagster client, one of each."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api_bridge.dagster_client import DagsterClient
from api_bridge.settings import get_settings
from videogen_dagster.metastore import SqliteMetadataStore
from videogen_dagster.objectstore import LocalObjectStore, ObjectStore


@lru_cache
def get_meta() -> SqliteMetadataStore:
    return SqliteMetadataStore(get_settings().metadata_path)


@lru_cache
def get_store() -> ObjectStore:
    return LocalObjectStore(get_settings().objects_root)


@lru_cache
def get_dagster() -> DagsterClient:
    s = get_settings()
    return DagsterClient(s.dagster_host, s.dagster_port, s.dagster_location, s.dagster_timeout_seconds)


Meta = Annotated[SqliteMetadataStore, Depends(get_meta)]
Store = Annotated[ObjectStore, Depends(get_store)]
Dagster = Annotated[DagsterClient, Depends(get_dagster)]

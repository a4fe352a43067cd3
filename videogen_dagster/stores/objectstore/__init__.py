"""Object storage for every artifact, and the versioned key layout.

- `keys`: the key layout (`{project}/{session}/scenes/{NN}/v{n}/scene.mp4`, ...);
- `base`: the `ObjectStore` protocol, `StoredObject` records, `ObjectStoreError`;
- `local`: the embedded default, a local folder; its URLs are file:// URLs, or signed HTTP URLs
  served by the REST bridge when VIDEOGEN_PUBLIC_URL is set (`signing`);
- `s3`: `S3ObjectStore` (AWS, MinIO, R2...), configured by `S3Settings` (videogen_dagster.settings);
- `config`: `StoreConfig`, which store a video's objects go to (exposed to Dagster by
  `resources/storage.py`).
"""

from videogen_dagster.settings import MAX_PRESIGN_SECONDS, MiB, S3Settings
from videogen_dagster.stores.objectstore.base import (
    CONTENT_TYPES,
    ObjectStore,
    ObjectStoreError,
    StoredObject,
    content_type_for,
    move,
    sha256_file,
)
from videogen_dagster.stores.objectstore.config import StoreConfig
from videogen_dagster.stores.objectstore.keys import (
    plan_key,
    project_of,
    scene_object_key,
    video_object_key,
    video_prefix,
)
from videogen_dagster.stores.objectstore.local import LocalObjectStore
from videogen_dagster.stores.objectstore.s3 import (
    S3_MAX_PARTS,
    S3_MIN_PART,
    S3ObjectStore,
    part_size_for,
)
from videogen_dagster.stores.objectstore.signing import SignatureError, UrlSigner, key_problem

__all__ = [
    "CONTENT_TYPES",
    "MAX_PRESIGN_SECONDS",
    "S3_MAX_PARTS",
    "S3_MIN_PART",
    "LocalObjectStore",
    "MiB",
    "ObjectStore",
    "ObjectStoreError",
    "S3ObjectStore",
    "S3Settings",
    "SignatureError",
    "StoreConfig",
    "StoredObject",
    "UrlSigner",
    "content_type_for",
    "key_problem",
    "move",
    "part_size_for",
    "plan_key",
    "project_of",
    "scene_object_key",
    "sha256_file",
    "video_object_key",
    "video_prefix",
]

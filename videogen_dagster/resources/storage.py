"""Object storage resource: S3 (AWS, MinIO, R2, any S3-compatible endpoint) when a bucket is set,
else the embedded default, a local folder with file:// URLs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from videogen_dagster.objectstore import MiB, S3Settings, StoreConfig


class ObjectStoreResource(dg.ConfigurableResource):
    """Where every artifact is written, under a versioned key layout (see objectstore.py).

    `bucket` set means S3 (boto3 underneath, like dagster-aws's S3Resource, with path-style
    addressing for custom endpoints); empty means the local folder `root`. A request's
    `s3_config` overrides bucket, prefix, public URL, storage class and versioning per video."""

    root: str
    base_prefix: str = "projects/"
    bucket: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    access_key_id: str = ""
    secret_access_key: str = ""
    public_base_url: str = ""
    storage_class: str = "STANDARD"
    server_side_encryption: str = ""
    presign_seconds: int = 3600
    multipart_threshold_mb: float = 16.0
    create_bucket: bool = False
    max_attempts: int = 5
    retry_mode: str = "standard"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def store_config(self) -> StoreConfig:
        s3 = None
        if self.bucket:
            s3 = S3Settings(
                bucket=self.bucket,
                endpoint_url=self.endpoint_url or None,
                region=self.region,
                access_key_id=self.access_key_id or None,
                secret_access_key=self.secret_access_key or None,
                public_base_url=self.public_base_url or None,
                storage_class=self.storage_class,
                server_side_encryption=self.server_side_encryption or None,
                presign_seconds=self.presign_seconds,
                multipart_threshold=int(self.multipart_threshold_mb * MiB),
                create_bucket=self.create_bucket,
                max_attempts=self.max_attempts,
                retry_mode=self.retry_mode,
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
            )
        return StoreConfig(local_root=str(Path(self.root)), base_prefix=self.base_prefix, s3=s3)

    @classmethod
    def from_store_config(cls, cfg: StoreConfig) -> ObjectStoreResource:
        s3 = cfg.s3
        if s3 is None:
            return cls(root=cfg.local_root, base_prefix=cfg.base_prefix)
        return cls(
            root=cfg.local_root, base_prefix=cfg.base_prefix, bucket=s3.bucket,
            endpoint_url=s3.endpoint_url or "", region=s3.region,
            # Credentials are not copied into the resource's config (the UI shows it): boto3
            # reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles or an IAM role itself.
            public_base_url=s3.public_base_url or "", storage_class=s3.storage_class,
            server_side_encryption=s3.server_side_encryption or "", presign_seconds=s3.presign_seconds,
            multipart_threshold_mb=s3.multipart_threshold / MiB, create_bucket=s3.create_bucket,
            max_attempts=s3.max_attempts, retry_mode=s3.retry_mode,
            connect_timeout=s3.connect_timeout, read_timeout=s3.read_timeout,
        )

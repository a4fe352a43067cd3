"""Deleting everything under a key prefix of an S3 bucket (a removed video's objects)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from videogen_dagster.stores.objectstore.base import ObjectStoreError


def _error_code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

if TYPE_CHECKING:
    from videogen_dagster.stores.objectstore.s3 import S3ObjectStore

BATCH = 1000  # S3's DeleteObjects takes at most 1,000 keys per request
# Answers of S3-compatible stores that cannot list object versions.
NO_VERSION_LISTING = ("NotImplemented", "MethodNotAllowed", "501")


def _targets(store: S3ObjectStore, prefix: str) -> list[dict]:
    """Every version and delete marker under `prefix` (a versioned bucket keeps them after a
    plain delete), or the current objects where the store cannot list versions."""
    from botocore.exceptions import ClientError

    try:
        pages = store.client.get_paginator("list_object_versions").paginate(Bucket=store.s.bucket, Prefix=prefix)
        return [
            {"Key": o["Key"], "VersionId": o["VersionId"]}
            for page in pages for o in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
    except ClientError as exc:
        if _error_code(exc) not in NO_VERSION_LISTING:
            raise
        return [{"Key": k} for k in store.list_keys(prefix)]


def delete_s3_prefix(store: S3ObjectStore, prefix: str) -> int:
    """Delete every object under `prefix` (non-empty), each version of it included, 1,000 per
    request; returns how many keys were removed. Fails naming the first key S3 refused."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = store.s.bucket
    if not prefix.strip("/"):
        raise ValueError(f"refusing to delete every object of bucket {bucket!r} (prefix {prefix!r})")
    try:
        targets = _targets(store, prefix)
        for start in range(0, len(targets), BATCH):
            answer = store.client.delete_objects(
                Bucket=bucket, Delete={"Objects": targets[start:start + BATCH], "Quiet": True}
            )
            if errors := answer.get("Errors"):
                first = errors[0]
                raise ObjectStoreError(
                    f"S3 delete of {len(errors)} object(s) under {prefix!r} in bucket {bucket!r} failed: "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
    except (BotoCoreError, ClientError) as exc:
        raise store._failed("delete", prefix, exc) from exc
    return len({t["Key"] for t in targets})

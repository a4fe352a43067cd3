"""Objects in an S3 bucket (AWS, MinIO, R2, moto...), configured by `S3Settings`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import quote

from videogen_dagster.settings import MiB, S3Settings
from videogen_dagster.stores.objectstore.base import (
    ObjectStoreError,
    StoredObject,
    content_type_for,
    sha256_file,
)
from videogen_dagster.stores.objectstore.keys import project_of

S3_MAX_PARTS = 10_000
S3_MIN_PART = 5 * MiB

_COMBINED_ERRORS: dict[type, type] = {}


def _request_failed(message: str, cause: BaseException) -> ObjectStoreError:
    """An ObjectStoreError with `message` that is also an instance of `cause`'s class (with its
    attributes, e.g. a ClientError's `response`), so callers catching botocore/boto3 exceptions
    still catch it. Raise it `from cause`."""
    base = type(cause)
    if not issubclass(base, Exception) or issubclass(base, ObjectStoreError):
        return ObjectStoreError(message)
    cls = _COMBINED_ERRORS.get(base)
    if cls is None:
        try:
            cls = type(f"ObjectStore{base.__name__}", (ObjectStoreError, base), {
                "__init__": lambda self, msg: RuntimeError.__init__(self, msg),
                "__str__": lambda self: str(self.args[0]),
                # A plain ObjectStoreError across process boundaries (the combined class is local).
                "__reduce__": lambda self: (ObjectStoreError, (str(self),)),
            })
        except TypeError:  # an exception class that cannot be mixed in
            return ObjectStoreError(message)
        _COMBINED_ERRORS[base] = cls
    err = cls(message)
    err.__dict__.update({k: v for k, v in vars(cause).items() if k != "args"})
    return err


def part_size_for(size: int, preferred: int = 16 * MiB) -> int:
    """A multipart chunk size that keeps any file under S3's 10,000-part limit."""
    needed = -(-size // (S3_MAX_PARTS - 1))  # ceil, with one part of slack
    return max(S3_MIN_PART, preferred, needed)


_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


def _error_code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3ObjectStore:
    """Objects in an S3 bucket (AWS, MinIO, R2, moto...). Records keep bucket/key/version id;
    URLs are made when read: public base URL + key, or a presigned GET."""

    def __init__(self, settings: S3Settings, client=None):
        import boto3
        from botocore.config import Config

        if problems := settings.problems():
            raise ObjectStoreError("; ".join(str(p) for p in problems))
        self.s = settings
        custom = settings.endpoint_url is not None
        config = Config(
            region_name=settings.region,
            signature_version="s3v4",  # presigned URLs: SigV4, at most 7 days
            # Standard mode retries 5xx, throttling (SlowDown), timeouts and dropped connections
            # with exponential backoff. total_max_attempts counts the first try (botocore's
            # max_attempts would count only the retries).
            retries={"total_max_attempts": settings.max_attempts, "mode": settings.retry_mode},
            # A request whose answer does not come within read_timeout (a hung PUT) is abandoned
            # and retried on a new connection, instead of blocking the step.
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            # Non-AWS endpoints: path-style addressing and no default checksums avoid known
            # incompatibilities (see notes/convex-s3.md).
            s3={"addressing_style": "path"} if custom else {},
            request_checksum_calculation="when_required" if custom else "when_supported",
            response_checksum_validation="when_required" if custom else "when_supported",
        )
        self.client = client or boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key_id,
            aws_secret_access_key=settings.secret_access_key,
            config=config,
        )

    # -- start-up check --

    def check(self) -> None:
        """Fail early, naming the bucket and endpoint, when the bucket cannot be used."""
        from botocore.exceptions import BotoCoreError, ClientError

        where = f"bucket {self.s.bucket!r} at {self.s.endpoint_url or 'AWS S3'}"
        try:
            self.client.head_bucket(Bucket=self.s.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchBucket", "NotFound") and self.s.create_bucket:
                self._create()
                return
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise ObjectStoreError(f"{where} does not exist (create it, or set S3_CREATE_BUCKET=1 for a local store)") from None
            if code in ("403", "401", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"):
                raise ObjectStoreError(f"{where}: access denied; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY ({code})") from None
            raise ObjectStoreError(f"{where}: {code or exc}") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"{where} is unreachable: {exc}") from None

    def _create(self) -> None:
        args: dict = {"Bucket": self.s.bucket}
        if self.s.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.s.region}
        self.client.create_bucket(**args)
        if self.s.enable_versioning:
            self.client.put_bucket_versioning(
                Bucket=self.s.bucket, VersioningConfiguration={"Status": "Enabled"}
            )

    # -- errors --

    def _failed(self, action: str, key: str, exc: BaseException) -> ObjectStoreError:
        """The error once botocore's retries are spent: names the bucket, endpoint and key, and is
        still an instance of the botocore/boto3 exception (see `_request_failed`)."""
        meta = getattr(exc, "response", None) or {}
        retries = meta.get("ResponseMetadata", {}).get("RetryAttempts") if isinstance(meta, dict) else None
        tries = f"{retries + 1} attempt(s)" if isinstance(retries, int) else f"up to {self.s.max_attempts} attempt(s)"
        where = f"bucket {self.s.bucket!r} at {self.s.endpoint_url or 'AWS S3'}"
        return _request_failed(
            f"S3 {action} of key {key!r} in {where} failed after {tries} "
            f"(S3_MAX_ATTEMPTS={self.s.max_attempts}, read timeout {self.s.read_timeout:g} s): {exc}",
            exc,
        )

    # -- writes --

    def _extra(self, key: str, sha: str) -> dict:
        tags = {"kind": Path(key).suffix.lstrip(".") or "object"}
        if project := project_of(key):
            tags["project"] = project
        extra = {
            "ContentType": content_type_for(key),
            "Metadata": {"sha256": sha},
            "StorageClass": self.s.storage_class,
            "Tagging": "&".join(f"{k}={v}" for k, v in tags.items()),
        }
        if self.s.server_side_encryption:
            extra["ServerSideEncryption"] = self.s.server_side_encryption
        return extra

    def _existing(self, key: str, sha: str, size: int) -> StoredObject | None:
        """The object already at `key` when it has these exact bytes (same sha256)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=self.s.bucket, Key=key)
        except (ClientError, BotoCoreError):
            return None  # not there (or not readable): upload it; the upload reports real trouble
        if head.get("Metadata", {}).get("sha256") != sha or head.get("ContentLength") != size:
            return None
        return self._stored(key, sha, size, head.get("VersionId"))

    def _stored(self, key: str, sha: str, size: int, version_id: str | None) -> StoredObject:
        return StoredObject(
            key=key, uri=f"s3://{self.s.bucket}/{key}", sha256=sha, bytes=size,
            content_type=content_type_for(key), bucket=self.s.bucket,
            version_id=None if version_id in (None, "null") else version_id,
        )

    # Uploads are idempotent: the key and the bytes (sha256 in the object metadata) are fixed, so
    # botocore may resend any request (each PUT and each multipart part, per request, up to
    # max_attempts, with backoff), and a request that went through although its answer was lost
    # is recognised by the checksum instead of failing the step.

    def put_file(self, key: str, path: Path) -> StoredObject:
        from boto3.exceptions import Boto3Error
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        sha, size = sha256_file(path), path.stat().st_size
        existing = self._existing(key, sha, size)
        if existing:
            return existing
        chunk = part_size_for(size, preferred=max(S3_MIN_PART, self.s.multipart_threshold))
        config = TransferConfig(
            multipart_threshold=self.s.multipart_threshold, multipart_chunksize=chunk,
            max_concurrency=4, use_threads=True,
        )
        try:
            # Multipart: each UploadPart is retried on its own; a failed upload is aborted.
            self.client.upload_file(str(path), self.s.bucket, key, ExtraArgs=self._extra(key, sha), Config=config)
            # upload_file returns nothing; read back the version id (and that the object is there).
            head = self.client.head_object(Bucket=self.s.bucket, Key=key)
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            # E.g. CompleteMultipartUpload went through but its answer timed out, and the retry
            # found the upload already completed: the object is there, with these bytes.
            landed = self._existing(key, sha, size)
            if landed:
                return landed
            raise self._failed("upload", key, exc) from exc
        if head.get("ContentLength") != size:
            raise ObjectStoreError(
                f"upload of key {key!r} to bucket {self.s.bucket!r} is incomplete: "
                f"{head.get('ContentLength')} of {size} bytes"
            )
        return self._stored(key, sha, size, head.get("VersionId"))

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        from botocore.exceptions import BotoCoreError, ClientError

        sha = hashlib.sha256(data).hexdigest()
        existing = self._existing(key, sha, len(data))
        if existing:
            return existing
        try:
            resp = self.client.put_object(Bucket=self.s.bucket, Key=key, Body=data, **self._extra(key, sha))
        except (BotoCoreError, ClientError) as exc:
            landed = self._existing(key, sha, len(data))
            if landed:
                return landed
            raise self._failed("upload", key, exc) from exc
        return self._stored(key, sha, len(data), resp.get("VersionId"))

    # -- reads --

    def get_bytes(self, key: str, version_id: str | None = None) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        args = {"Bucket": self.s.bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
        for attempt in range(1, self.s.max_attempts + 1):
            try:
                resp = self.client.get_object(**args)
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    raise KeyError(f"no object {key!r} in bucket {self.s.bucket!r}: {exc}") from None
                raise self._failed("download", key, exc) from exc
            except BotoCoreError as exc:
                raise self._failed("download", key, exc) from exc
            try:
                return resp["Body"].read()
            except BotoCoreError as exc:  # the body broke off mid-way (botocore does not retry it)
                if attempt == self.s.max_attempts:
                    raise self._failed("download", key, exc) from exc
        raise AssertionError("unreachable")

    def download(self, key: str, dest: Path) -> Path:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            # s3transfer retries a body that breaks off; botocore retries each request.
            self.client.download_file(self.s.bucket, key, str(dest))
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise self._failed("download", key, exc) from exc
        return dest

    def exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_object(Bucket=self.s.bucket, Key=key)
            return True
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise self._failed("lookup", key, exc) from exc
        except BotoCoreError as exc:
            raise self._failed("lookup", key, exc) from exc

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.s.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("delete", key, exc) from exc

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` with all its versions (see prefix_delete.py)."""
        from videogen_dagster.stores.objectstore.prefix_delete import delete_s3_prefix

        return delete_s3_prefix(self, prefix)

    def list_keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.s.bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("listing", prefix, exc) from exc

    def url(self, key: str, expires_in: int | None = None) -> str:
        if self.s.public_base_url:
            return f"{self.s.public_base_url.rstrip('/')}/{quote(key)}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.s.bucket, "Key": key},
            ExpiresIn=expires_in or self.s.presign_seconds,
        )

"""Object storage for every artifact, and the versioned key layout.

Key layout (all under `base_prefix`, default `projects/`):

    {project}/{session}/plan/v{n}/plan.json
    {project}/{session}/scenes/{scene:02d}/v{n}/scene.py | scene.mp4 | thumbnail.jpg | subtitles.srt
    {project}/{session}/video/v{n}/combined.mp4 | subtitles.srt | subtitles.vtt | manifest.json

Versions only go up, and old versions are never overwritten. The embedded default is a local
folder; the S3 implementation (same interface) is `S3ObjectStore` below, configured from the
environment by `StoreConfig.from_env` (and exposed to Dagster by `resources/storage.py`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from videogen_dagster.models import validate_id

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".py": "text/x-python",
    ".jpg": "image/jpeg",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".json": "application/json",
}


def content_type_for(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _base(prefix: str, project_id: str, session_id: str) -> str:
    validate_id(project_id, "project_id")
    validate_id(session_id, "session_id")
    return f"{prefix}{project_id}/{session_id}"


def plan_key(prefix: str, project_id: str, session_id: str, version: int) -> str:
    return f"{_base(prefix, project_id, session_id)}/plan/v{version}/plan.json"


def scene_object_key(
    prefix: str, project_id: str, session_id: str, scene_number: int, version: int, name: str
) -> str:
    return f"{_base(prefix, project_id, session_id)}/scenes/{scene_number:02d}/v{version}/{name}"


def video_object_key(prefix: str, project_id: str, session_id: str, version: int, name: str) -> str:
    return f"{_base(prefix, project_id, session_id)}/video/v{version}/{name}"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class StoredObject:
    """What a metadata record keeps of an object: where it is and what it is, never a signed URL."""

    key: str
    uri: str
    sha256: str
    bytes: int
    content_type: str
    bucket: str | None = None
    version_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path) -> StoredObject: ...
    def put_bytes(self, key: str, data: bytes) -> StoredObject: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, dest: Path) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def url(self, key: str) -> str: ...
    def check(self) -> None: ...
    def delete(self, key: str) -> None: ...


def move(store: ObjectStore, src: str, dest: str) -> None:
    """Copy then delete: the object is never missing from both places."""
    store.put_bytes(dest, store.get_bytes(src))
    store.delete(src)


class LocalObjectStore:
    """Objects as files under `root`; URLs are file:// URLs. Writes are atomic (rename)."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid object key {key!r}")
        return self.root / key

    def _commit(self, key: str, tmp: Path) -> StoredObject:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        return StoredObject(
            key=key,
            uri=self.url(key),
            sha256=sha256_file(dest),
            bytes=dest.stat().st_size,
            content_type=content_type_for(key),
        )

    def _tmp(self, key: str) -> Path:
        parent = self._path(key).parent
        parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=parent, prefix=".upload-")
        os.close(fd)
        return Path(name)

    def put_file(self, key: str, path: Path) -> StoredObject:
        tmp = self._tmp(key)
        shutil.copyfile(path, tmp)
        return self._commit(key, tmp)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        tmp = self._tmp(key)
        tmp.write_bytes(data)
        return self._commit(key, tmp)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise KeyError(f"no object {key!r} in {self.root}") from None

    def download(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._path(key), dest)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        base = self.root
        return sorted(
            p.relative_to(base).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".upload-")
            and p.relative_to(base).as_posix().startswith(prefix)
        )

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"object folder {self.root} is not writable")


# --- S3 ------------------------------------------------------------------------------------------

MiB = 1024 * 1024
S3_MAX_PARTS = 10_000
S3_MIN_PART = 5 * MiB
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class ObjectStoreError(RuntimeError):
    pass


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


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    public_base_url: str | None = None
    storage_class: str = "STANDARD"
    server_side_encryption: str | None = None  # e.g. "AES256" or "aws:kms"
    presign_seconds: int = 3600
    multipart_threshold: int = 16 * MiB
    # Every request: at most this many attempts in all (1 = no retry), botocore's "standard"
    # (or "adaptive") retry mode; a hung request is abandoned after read_timeout and retried.
    max_attempts: int = 5
    retry_mode: str = "standard"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    create_bucket: bool = False
    enable_versioning: bool = True


_MISSING = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


def _error_code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


# {project}/{session}/(scenes/NN|video|plan)/vN/file, whatever the base prefix.
_LAYOUT_RE = re.compile(r"(?:^|/)(?P<project>[^/]+)/[^/]+/(?:scenes/\d+|video|plan)/v\d+/[^/]+$")


class S3ObjectStore:
    """Objects in an S3 bucket (AWS, MinIO, R2, moto...). Records keep bucket/key/version id;
    URLs are made when read: public base URL + key, or a presigned GET."""

    def __init__(self, settings: S3Settings, client=None):
        import boto3
        from botocore.config import Config

        if not 1 <= settings.presign_seconds <= MAX_PRESIGN_SECONDS:
            raise ObjectStoreError(
                f"presign expiry must be between 1 s and 7 days (got {settings.presign_seconds} s)"
            )
        if settings.max_attempts < 1:
            raise ObjectStoreError(f"S3 max attempts must be at least 1 (got {settings.max_attempts})")
        if settings.retry_mode not in ("standard", "adaptive"):
            raise ObjectStoreError(f"S3 retry mode must be standard or adaptive (got {settings.retry_mode!r})")
        if settings.connect_timeout <= 0 or settings.read_timeout <= 0:
            raise ObjectStoreError(
                f"S3 timeouts must be positive (connect {settings.connect_timeout} s, read {settings.read_timeout} s)"
            )
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
        m = _LAYOUT_RE.search(key)
        if m:
            tags["project"] = m.group("project")
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

    def list_keys(self, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.s.bucket, Prefix=prefix)
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("listing", prefix, exc) from exc

    def url(self, key: str) -> str:
        if self.s.public_base_url:
            return f"{self.s.public_base_url.rstrip('/')}/{quote(key)}"
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.s.bucket, "Key": key}, ExpiresIn=self.s.presign_seconds
        )


# --- choosing a store ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreConfig:
    """Which store a video's objects go to: S3 when a bucket is configured (in the environment or
    in the request's s3_config), else the local folder."""

    local_root: str
    base_prefix: str = "projects/"
    s3: S3Settings | None = None

    @classmethod
    def from_env(cls, local_root: str, env: dict[str, str] | None = None) -> StoreConfig:
        e = dict(os.environ if env is None else env)
        prefix = e.get("S3_BASE_PREFIX", "projects/")
        s3 = None
        if e.get("S3_BUCKET"):
            s3 = S3Settings(
                bucket=e["S3_BUCKET"],
                endpoint_url=e.get("S3_ENDPOINT_URL") or None,
                region=e.get("AWS_REGION", "us-east-1"),
                access_key_id=e.get("AWS_ACCESS_KEY_ID") or None,
                secret_access_key=e.get("AWS_SECRET_ACCESS_KEY") or None,
                public_base_url=e.get("S3_PUBLIC_BASE_URL") or None,
                storage_class=e.get("S3_STORAGE_CLASS", "STANDARD"),
                server_side_encryption=e.get("S3_SSE") or None,
                presign_seconds=int(e.get("S3_PRESIGN_SECONDS", "3600")),
                multipart_threshold=int(float(e.get("S3_MULTIPART_THRESHOLD_MB", "16")) * MiB),
                max_attempts=_number(e, "S3_MAX_ATTEMPTS", 5, int),
                retry_mode=e.get("S3_RETRY_MODE") or "standard",
                connect_timeout=_number(e, "S3_CONNECT_TIMEOUT", 5.0, float),
                read_timeout=_number(e, "S3_READ_TIMEOUT", 30.0, float),
                create_bucket=e.get("S3_CREATE_BUCKET", "").lower() in ("1", "true", "yes"),
            )
        return cls(local_root=local_root, base_prefix=_slash(prefix), s3=s3)

    def prefix_for(self, s3_config: dict | None) -> str:
        given = (s3_config or {}).get("base_prefix")
        return _slash(given) if given else self.base_prefix

    def store_for(self, s3_config: dict | None = None) -> ObjectStore:
        """The store of one video: the request's s3_config overrides the environment."""
        cfg = s3_config or {}
        bucket = cfg.get("bucket_name")
        if not bucket and self.s3 is None:
            return LocalObjectStore(Path(self.local_root))
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
        return _s3_store(replace(base, **overrides))


def _number(env: dict[str, str], name: str, default, cast):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ObjectStoreError(f"{name} must be a number (got {raw!r})") from None


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

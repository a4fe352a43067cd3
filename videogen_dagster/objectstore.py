"""Object storage for every artifact, and the versioned key layout.

Key layout (all under `base_prefix`, default `projects/`):

    {project}/{session}/plan/v{n}/plan.json
    {project}/{session}/scenes/{scene:02d}/v{n}/scene.py | scene.mp4 | thumbnail.jpg | subtitles.srt
    {project}/{session}/video/v{n}/combined.mp4 | subtitles.srt | subtitles.vtt | manifest.json

Versions only go up, and old versions are never overwritten. The embedded default is a local
folder; the S3 implementation (same interface) lives beside it in `resources/storage.py`.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

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

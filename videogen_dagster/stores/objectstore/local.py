"""The embedded default: objects as files under a local folder. URLs: signed HTTP URLs served by
the REST bridge when VIDEOGEN_PUBLIC_URL is set (signing.py), else file:// URLs."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from videogen_dagster.stores.objectstore.base import (
    ObjectStoreError,
    StoredObject,
    content_type_for,
    sha256_file,
)
from videogen_dagster.stores.objectstore.signing import UrlSigner


class LocalObjectStore:
    """Objects as files under `root`. Writes are atomic (rename). With a `signer`, `url()` is a
    signed, expiring HTTP URL of the bridge; without, a file:// URL. A record's `uri` is always
    the file:// URL (records keep where an object is, never a signed URL)."""

    def __init__(self, root: Path | str, signer: UrlSigner | None = None):
        self.root = Path(root).resolve()
        self.signer = signer

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
            uri=dest.as_uri(),
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

    def url(self, key: str, expires_in: int | None = None) -> str:
        path = self._path(key)
        return self.signer.url(key, path, seconds=expires_in) if self.signer else path.as_uri()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (non-empty, e.g. a video's
        `projects/p/s/`) and the folders under it left empty; returns how many were removed.
        Folders above the prefix stay (another video may be writing into them)."""
        if not prefix.strip("/"):
            raise ValueError(f"refusing to delete every object (prefix {prefix!r})")
        named = prefix.rstrip("/")  # the folder holding what the prefix names
        top = self._path(named.rsplit("/", 1)[0]) if "/" in named else self.root
        if not top.is_dir():
            return 0
        removed = 0
        for path in sorted(top.rglob("*"), key=lambda p: len(p.parts), reverse=True):  # deepest first
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                path.unlink(missing_ok=True)
                removed += not path.name.startswith(".upload-")
            elif path.is_dir() and (key + "/").startswith(prefix) and not any(path.iterdir()):
                path.rmdir()
        return removed

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"object folder {self.root} is not writable")


"""The embedded default: objects as files under a local folder, with file:// URLs."""

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


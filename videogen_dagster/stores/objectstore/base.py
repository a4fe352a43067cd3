"""What every object store shares: the stored-object record, the protocol, the error."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

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

    @classmethod
    def from_dict(cls, d: dict) -> StoredObject:
        """The object a record's dict names; keys a record adds beside them (media, inputs...)
        are left out."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path) -> StoredObject: ...
    def put_bytes(self, key: str, data: bytes) -> StoredObject: ...
    def get_bytes(self, key: str) -> bytes: ...
    def download(self, key: str, dest: Path) -> Path: ...
    def exists(self, key: str) -> bool: ...
    def list_keys(self, prefix: str) -> list[str]: ...
    def url(self, key: str, expires_in: int | None = None) -> str: ...
    def check(self) -> None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (each version of it, where the
        store keeps versions); returns how many keys were removed."""
        ...


def move(store: ObjectStore, src: str, dest: str) -> None:
    """Copy then delete: the object is never missing from both places."""
    store.put_bytes(dest, store.get_bytes(src))
    store.delete(src)



class ObjectStoreError(RuntimeError):
    pass

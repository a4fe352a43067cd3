"""Signed, expiring HTTP URLs for the local store's objects, served by the REST bridge.

The way S3 presigns a GET, with an HMAC-SHA256 instead of SigV4:

    {VIDEOGEN_PUBLIC_URL}/api/v1/objects/{key}?expires={unix seconds}&version={version}&signature={hex}

    signature = hex(HMAC-SHA256(signing key, f"{key}\\n{version}\\n{expires}"))

- `key`: the object key as stored (`projects/demo/s1/video/v1/combined.mp4`), percent-quoted in
  the path; the layout names the project, so a URL covers one object of one project.
- `version`: the file as it was signed: its size and modification time in nanoseconds, in hex,
  `{size:x}-{mtime_ns:x}` (empty when the file did not exist yet). A file replaced at the same
  key no longer matches its old URLs (404, as S3 answers for a version that is gone).
- `expires`: when the URL stops working, `VIDEOGEN_URL_SECONDS` (3600) after it was made.
- The signing key: `VIDEOGEN_URL_SIGNING_KEY`'s text as UTF-8 bytes; unset, the text of
  `VIDEOGEN_VAR_DIR/url-signing.key` (64 hex characters from `secrets.token_bytes(32)`, made once,
  mode 0600), so the bridge and the run workers of one machine sign and verify alike.

Plain Python: the stores use `UrlSigner.url`, the bridge `UrlSigner.verify`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode

from videogen_dagster.settings import Settings
from videogen_dagster.stores.objectstore.base import ObjectStoreError

OBJECTS_PATH = "/api/v1/objects/"
KEY_FILE = "url-signing.key"
MAX_KEY_LENGTH = 1024


class SignatureError(Exception):
    """A URL whose signature does not hold: tampered, made with another key, or expired."""


@dataclass(frozen=True)
class UrlSigner:
    """Signs and verifies object URLs. `base_url` (the bridge's public address) is needed only
    to make URLs; `secret` (VIDEOGEN_URL_SIGNING_KEY) wins over the key file."""

    key_file: Path
    base_url: str | None = None
    seconds: int = 3600
    secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> UrlSigner:
        u = settings.urls
        return cls(settings.var_dir.resolve() / KEY_FILE, u.public_url, u.seconds, u.signing_key)

    def key(self) -> bytes:
        return self.secret.encode() if self.secret else read_or_create_key(self.key_file)

    def signature(self, key: str, version: str, expires: int) -> str:
        message = f"{key}\n{version}\n{expires}".encode()
        return hmac.new(self.key(), message, hashlib.sha256).hexdigest()

    def url(self, key: str, path: Path, now: float | None = None, seconds: int | None = None) -> str:
        """The signed URL of the object `key`, stored at `path`, valid for `seconds` (default:
        the configured lifetime) from `now`."""
        if not self.base_url:
            raise ObjectStoreError("signed object URLs need VIDEOGEN_PUBLIC_URL (the bridge's address)")
        version = file_version(path)
        expires = int(now if now is not None else time.time()) + (seconds or self.seconds)
        query = urlencode({"expires": expires, "version": version,
                           "signature": self.signature(key, version, expires)})
        return f"{self.base_url}{OBJECTS_PATH}{quote(key)}?{query}"

    def verify(self, key: str, version: str, expires: int, signature: str, now: float | None = None) -> None:
        """Raises SignatureError unless `signature` is this key's signature and not expired."""
        expected = self.signature(key, version, expires)
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            raise SignatureError("the URL's signature does not match (tampered, or made with another key)")
        now = now if now is not None else time.time()
        if expires < now:
            raise SignatureError(f"the URL expired {int(now - expires)} s ago; ask for a new one")


def file_version(path: Path) -> str:
    """`{size:x}-{mtime_ns:x}` of the file at `path`; "" when there is none."""
    try:
        return stat_version(os.stat(path))
    except OSError:
        return ""


def stat_version(st: os.stat_result) -> str:
    return f"{st.st_size:x}-{st.st_mtime_ns:x}"


def key_problem(key: str) -> str | None:
    """Why `key` cannot name an object under the store's folder (None: it can). No absolute
    paths, backslashes, `.`/`..`/empty segments or control characters."""
    if not key:
        return "is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"is longer than {MAX_KEY_LENGTH} characters"
    if key.startswith("/"):
        return "must be relative (no leading /)"
    if "\\" in key:
        return "must not contain a backslash"
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        return "must not contain control characters"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "must not contain empty, '.' or '..' segments"
    return None


@lru_cache(maxsize=8)
def read_or_create_key(path: Path) -> bytes:
    """The key kept in `path`, made there first if there is none. Two processes that start
    together agree: the key is written to a private temporary file and linked into place,
    and the one that loses the race reads the winner's."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".url-signing-")  # mode 0600
    try:
        os.write(fd, secrets.token_bytes(32).hex().encode())
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o077:
            raise ObjectStoreError(
                f"{path}: the URL signing key must be a regular file readable only by its owner "
                f"(mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it, or set VIDEOGEN_URL_SIGNING_KEY"
            )
        text = f.read().strip()
    if len(text) < 32:
        raise ObjectStoreError(f"{path}: the URL signing key is shorter than 32 characters; delete it to make a new one")
    return text

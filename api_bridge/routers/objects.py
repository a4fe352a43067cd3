"""Stored objects over HTTP: GET and HEAD /api/v1/objects/{key} at signed, expiring URLs.

The local object store's `url()` makes these URLs when VIDEOGEN_PUBLIC_URL is set (the form and
the signature: videogen_dagster/stores/objectstore/signing.py). A URL is its own credential, as
a presigned S3 URL is (a <video> tag cannot send a bearer token); a request that does carry a
token is also held to it: a token for another project is refused. Range requests are answered
206 (Starlette's FileResponse), so a browser can seek in a video; the ETag is the object's
sha256 (computed once per file version and kept in memory), so If-None-Match and If-Range work.
"""

from __future__ import annotations

import os
import stat
import time
from collections import OrderedDict
from email.utils import formatdate
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from api_bridge.auth import current_principal
from api_bridge.deps import SettingsDep, Store
from api_bridge.errors import ApiError
from api_bridge.schemas import ERROR_DESCRIPTIONS, ErrorPublic
from videogen_dagster.stores.objectstore import (
    SignatureError,
    UrlSigner,
    key_problem,
    project_of,
    sha256_file,
)
from videogen_dagster.stores.objectstore.signing import stat_version

router = APIRouter(prefix="/api/v1/objects", tags=["objects"])

# What a browser should make of each kind of object: text it can show for the scene's code and
# subtitles (rather than a download), WebVTT for <track>, the rest by name.
SERVED_TYPES = {
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".py": "text/plain; charset=utf-8",
    ".srt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".jsonl": "text/plain; charset=utf-8",
}
# Files this large get an ETag from their size and modification time instead of a checksum.
MAX_HASHED_BYTES = 512 * 1024 * 1024
_ETAGS: OrderedDict[tuple, str] = OrderedDict()  # (path, inode, size, mtime_ns) -> '"sha256"'
_ETAGS_KEPT = 4096

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_CONTENT = {t.split(";")[0]: _BINARY for t in sorted({*SERVED_TYPES.values(), "application/octet-stream"})}
_ETAG_HEADER = {"description": "The object's sha256, quoted", "schema": {"type": "string"}}


def _error(description: str) -> dict:
    return {"model": ErrorPublic, "description": description}


RESPONSES: dict[int | str, dict] = {
    200: {"description": "The object, typed by its name (video/mp4, image/jpeg, text/plain for "
                         ".py and .srt, text/vtt, application/json)",
          "content": _CONTENT, "headers": {"ETag": _ETAG_HEADER}},
    206: {"description": "The part a `Range` request asked for (`Content-Range` says which)",
          "content": _CONTENT, "headers": {
              "Content-Range": {"description": "bytes start-end/size", "schema": {"type": "string"}},
              "ETag": _ETAG_HEADER}},
    304: {"description": "Not modified: `If-None-Match` holds the object's ETag",
          "headers": {"ETag": _ETAG_HEADER}},
    400: _error("Invalid key (absolute, a `..`, `.` or empty segment, a backslash) or query, or a "
                "malformed `Range` (`VALIDATION_ERROR`)"),
    401: _error(ERROR_DESCRIPTIONS[401] + "; a signed URL needs no token, but one that is sent must be valid"),
    403: _error("The signature does not match or the URL expired, or the token sent does not cover "
                "the object's project (`FORBIDDEN`)"),
    404: _error("No such object, or it was replaced since the URL was made (`NOT_FOUND`)"),
    416: {**_error("The `Range` starts past the end of the object (`RANGE_NOT_SATISFIABLE`)"),
          "headers": {"Content-Range": {"description": "bytes */size", "schema": {"type": "string"}}}},
    500: _error(ERROR_DESCRIPTIONS[500]),
}


async def get_object(
    key: str,
    request: Request,
    settings: SettingsDep,
    store: Store,
    expires: Annotated[int, Query(description="Unix time (seconds) when the URL stops working")],
    signature: Annotated[str, Query(description="hex HMAC-SHA256 of `{key}\\n{version}\\n{expires}`")],
    version: Annotated[str, Query(description="The file signed: `{size:x}-{mtime_ns:x}` (empty: any)")] = "",
) -> Response:
    """One stored object at its signed URL (see the README, *Objects over HTTP*)."""
    if problem := key_problem(key):
        raise ApiError(400, f"key: {problem}", "VALIDATION_ERROR")
    principal = await current_principal(request, settings) if "authorization" in request.headers else None
    try:
        UrlSigner.from_settings(settings).verify(key, version, expires, signature)
    except SignatureError as exc:
        raise ApiError(403, str(exc)) from None
    project = project_of(key)
    if principal is not None and project is not None and not principal.may_use(project):
        raise ApiError(403, f"the token does not cover project {project!r}")
    path, st = _file(Path(store.local_root), key)
    if version and version != stat_version(st):
        raise ApiError(404, f"object {key!r} was replaced since this URL was made; ask for a new one")
    etag = await _etag(path, st)
    remaining = max(0, expires - int(time.time()))
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={remaining}",
               "X-Content-Type-Options": "nosniff"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    _check_range(request, st, etag)
    media_type = SERVED_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=st)


router.add_api_route(
    "/{key:path}", get_object, methods=["GET"], response_class=Response, responses=RESPONSES,
    summary="Get a stored object at its signed URL", openapi_extra={"x-bearer-optional": True},
)
router.add_api_route("/{key:path}", get_object, methods=["HEAD"], include_in_schema=False)


def _file(root: Path, key: str) -> tuple[Path, os.stat_result]:
    """The regular file of `key` under `root` (no link out of it), and its stat."""
    missing = ApiError(404, f"object {key!r} not found")
    root = root.resolve()
    try:
        path = (root / key).resolve(strict=True)
        st = os.stat(path)
    except (OSError, RuntimeError):
        raise missing from None
    if not path.is_relative_to(root) or not stat.S_ISREG(st.st_mode) or path.name.startswith(".upload-"):
        raise missing
    return path, st


async def _etag(path: Path, st: os.stat_result) -> str:
    """'"<sha256>"' of the file, computed once per version (in a worker thread)."""
    if st.st_size > MAX_HASHED_BYTES:
        return f'"{stat_version(st)}"'
    cache_key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if (tag := _ETAGS.get(cache_key)) is None:
        tag = f'"{await anyio.to_thread.run_sync(sha256_file, path)}"'
        _ETAGS[cache_key] = tag
        while len(_ETAGS) > _ETAGS_KEPT:
            _ETAGS.popitem(last=False)
    _ETAGS.move_to_end(cache_key)
    return tag


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks) or is "*"."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _check_range(request: Request, st: os.stat_result, etag: str) -> None:
    """Refuse a Range FileResponse would refuse, in the API's error shape (it answers plain text).
    Uses FileResponse's own parser, so both read a header the same way; a Range that If-Range
    turns off (the object changed) is ignored, as FileResponse ignores it."""
    header, if_range, size = request.headers.get("range"), request.headers.get("if-range"), st.st_size
    if header is None or (if_range is not None and if_range not in (etag, formatdate(st.st_mtime, usegmt=True))):
        return
    try:
        FileResponse._parse_range_header(header, size)
    except MalformedRangeHeader as exc:
        raise ApiError(400, f"Range: {exc.content}", "VALIDATION_ERROR") from None
    except RangeNotSatisfiable:
        raise ApiError(416, f"Range: {header!r} starts past the end of the object ({size} bytes)",
                       "RANGE_NOT_SATISFIABLE", headers={"Content-Range": f"bytes */{size}"}) from None


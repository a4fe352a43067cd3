"""The spec's error shape, {"detail", "error_code", "timestamp"}, for every error."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from videogen_dagster.stores.metastore import now_iso
from videogen_dagster.stores.metastore.errors import Conflict, NotFound, Unavailable

log = logging.getLogger("api_bridge")

# The spec names VALIDATION_ERROR; the others follow its style (the spec has no code for them).
CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
         405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 429: "RATE_LIMITED",
         500: "INTERNAL_ERROR", 502: "LLM_ERROR", 503: "SERVICE_UNAVAILABLE"}


STORE_ERRORS = {NotFound: 404, Conflict: 409, Unavailable: 503}


class ApiError(Exception):
    """An error answer in the spec's shape; `headers` go with it (e.g. Retry-After on a 429)."""

    def __init__(self, status: int, detail: str, error_code: str | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.detail, self.headers = status, detail, headers
        self.error_code = error_code or CODES.get(status, "ERROR")


def error_body(status: int, detail: str, code: str | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if status == 401:
        extra.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(
        status_code=status,
        content={"detail": detail, "error_code": code or CODES.get(status, "ERROR"), "timestamp": now_iso()},
        headers=extra or None,
    )


def _field_errors(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if err.get("type") == "literal_error":
            msg += f" (got {err.get('input')!r})"
        parts.append(f"{'.'.join(loc) or 'body'}: {msg}")
    return "; ".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_body(exc.status, exc.detail, exc.error_code, exc.headers)

    # The store's typed errors map to codes by type (a route may still catch them to say more).
    for error_type, status in STORE_ERRORS.items():

        async def _store(_: Request, exc: Exception, status: int = status) -> JSONResponse:
            return error_body(status, str(exc))

        app.add_exception_handler(error_type, _store)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_body(400, _field_errors(exc), "VALIDATION_ERROR")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_body(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_body(500, "Internal server error; see the bridge's log", "INTERNAL_ERROR")

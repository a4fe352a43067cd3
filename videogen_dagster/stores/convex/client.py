"""Convex's HTTP function API (`/api/query`, `/api/mutation`) over httpx: timeouts, retries with
jittered exponential backoff on network errors, 429 and 5xx, and typed errors."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx

from videogen_dagster.stores.metastore.errors import Conflict, Unavailable


class ConvexError(RuntimeError):
    pass


class ConvexFunctionError(ConvexError):
    """The function ran and failed (in-band `status: "error"`): not retried."""

    def __init__(self, function: str, message: str, data: Any = None):
        super().__init__(f"Convex function {function} failed: {message}")
        self.function, self.message, self.data = function, message, data


class ConvexRequestError(ConvexError):
    """Convex refused the request itself (bad key, bad JSON, unknown route): not retried."""

    def __init__(self, function: str, status: int, code: str, message: str):
        hint = " (check CONVEX_DEPLOY_KEY)" if status in (401, 403) else ""
        super().__init__(f"Convex refused {function}: HTTP {status} {code}: {message}{hint}")
        self.function, self.status, self.code = function, status, code


class ConvexUnavailable(ConvexError, Unavailable):
    """Network errors, timeouts, 429 and 5xx after every retry."""


class ConvexStale(ConvexError, Conflict):
    """Convex's record differs from the local one: an edit must not start from either."""


class ConvexClient:
    def __init__(
        self, url: str, deploy_key: str, timeout: float = 10.0, max_attempts: int = 4,
        backoff: float = 0.25, transport: httpx.BaseTransport | None = None,
    ):
        self.url = url.rstrip("/")
        self.max_attempts, self.backoff = max_attempts, backoff
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport,
            headers={"Authorization": f"Convex {deploy_key}", "Content-Type": "application/json"},
        )

    def query(self, path: str, args: dict) -> Any:
        return self._call("query", path, args)

    def mutation(self, path: str, args: dict) -> Any:
        return self._call("mutation", path, args)

    def _call(self, kind: str, path: str, args: dict) -> Any:
        body = {"path": path, "args": args, "format": "json"}
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                resp = self._http.post(f"/api/{kind}", json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                # 560 is Convex's status for an in-band function error.
                if resp.status_code in (200, 560):
                    data = resp.json()
                    if data.get("status") == "success":
                        return data.get("value")
                    raise ConvexFunctionError(path, data.get("errorMessage", "?"), data.get("errorData"))
                if resp.status_code != 429 and resp.status_code < 500:
                    try:
                        err = resp.json()
                    except ValueError:
                        err = {}
                    raise ConvexRequestError(
                        path, resp.status_code, err.get("code", "?"), err.get("message", resp.text[:200])
                    )
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
            if attempt < self.max_attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
        raise ConvexUnavailable(f"Convex at {self.url} unavailable for {path} after {self.max_attempts} attempts: {last}")

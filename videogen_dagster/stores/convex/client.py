"""Convex's HTTP function API (`/api/query`, `/api/mutation`) over httpx: timeouts, retries with
jittered exponential backoff on network errors, 429 and 5xx (videogen_dagster.retry), and typed
errors."""

from __future__ import annotations

from typing import Any

import httpx

from videogen_dagster.retry import RetryPolicy
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


class _Transient(Exception):
    """One attempt failed in a way worth another (network error, 429, 5xx): what happened."""


class ConvexClient:
    def __init__(
        self, url: str, deploy_key: str, timeout: float = 10.0, max_attempts: int = 4,
        backoff: float = 0.25, transport: httpx.BaseTransport | None = None,
    ):
        self.url = url.rstrip("/")
        self.max_attempts, self.backoff = max_attempts, backoff
        # 0.25 s, 0.5 s, 1 s between the 4 attempts (each times 0.5-1.5): never capped below that.
        self.retry = RetryPolicy(
            max_attempts=max_attempts, initial_backoff=backoff, max_backoff=backoff * 2 ** max_attempts,
            jitter=True, transient=(_Transient,),
        )
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

        def attempt() -> Any:
            try:
                resp = self._http.post(f"/api/{kind}", json=body)
            except httpx.TransportError as exc:
                raise _Transient(f"{type(exc).__name__}: {exc}") from exc
            # 560 is Convex's status for an in-band function error. The bodies are Convex's wire
            # documents (its HTTP API), read as such.
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
            raise _Transient(f"HTTP {resp.status_code}: {resp.text[:200]}")

        try:
            return self.retry.call(attempt)
        except _Transient as exc:
            raise ConvexUnavailable(
                f"Convex at {self.url} unavailable for {path} after {self.max_attempts} attempts: {exc}"
            ) from None

"""JWT bearer auth. With JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256) set, every endpoint
but health needs a token whose `projects` claim lists the projects it may use ("*" for all).
Without either, the bridge runs open for local use (a warning is logged at start-up)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, Request

from api_bridge.deps import SettingsDep
from api_bridge.errors import ApiError


@dataclass(frozen=True)
class Principal:
    subject: str
    projects: frozenset[str] | None  # None: every project

    def may_use(self, project_id: str) -> bool:
        return self.projects is None or project_id in self.projects


OPEN = Principal("anonymous", None)


async def current_principal(request: Request, settings: SettingsDep) -> Principal:
    if not (settings.jwt_secret or settings.jwt_public_key):
        return OPEN
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "a bearer token is required (Authorization: Bearer <JWT>)")
    key, algorithms = (
        (settings.jwt_secret, ["HS256"]) if settings.jwt_secret else (settings.jwt_public_key, ["RS256", "ES256"])
    )
    try:
        claims = jwt.decode(
            token, key, algorithms=algorithms, audience=settings.jwt_audience,
            options={"verify_aud": settings.jwt_audience is not None, "require": ["exp"]},
        )
    except jwt.PyJWTError as exc:
        raise ApiError(401, f"invalid token: {exc}") from exc
    projects = claims.get("projects", [])
    if projects == "*" or projects == ["*"]:
        return Principal(str(claims.get("sub", "?")), None)
    if not isinstance(projects, list):
        raise ApiError(401, "invalid token: the 'projects' claim must be a list of project ids")
    return Principal(str(claims.get("sub", "?")), frozenset(map(str, projects)))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

"""The REST bridge: the spec's endpoints mapped onto Dagster run launches and run status."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api_bridge import errors
from api_bridge.routers import agents, video_generation
from api_bridge.settings import get_settings

log = logging.getLogger("api_bridge")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = get_settings()
    if not (settings.jwt_secret or settings.jwt_public_key):
        log.warning("JWT_SECRET/JWT_PUBLIC_KEY not set: the API is open (fine for local use only)")
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="videogen_dagster video generation API",
        version="1.0.0",
        description="Prompt to explanatory video, scene editing, task status (see spec/video-generation-api.md).",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(video_generation.router)
    app.include_router(agents.router)
    return app


app = create_app()

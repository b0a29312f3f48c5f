"""The FastAPI application (`app.main:app`). Settings are read at start-up, not at import."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.orm import sessionmaker

from app import health
from app.db import make_engine
from app.routers import packages, tasks
from app.settings import Settings, cors_origins


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; `settings` defaults to the environment (read when the app starts)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or Settings.from_env()
        logging.basicConfig(
            level=resolved.log_level, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
        engine = make_engine(resolved.database_url.get_secret_value())
        app.state.settings = resolved
        app.state.engine = engine
        app.state.sessions = sessionmaker(engine, expire_on_commit=False)
        logging.getLogger(__name__).info("pmis api starting (environment=%s)", resolved.environment)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="PMIS api", version="1.0.0", lifespan=lifespan)
    # Middleware must exist before start-up, so the origins are read now (the rest at start-up).
    origins = settings.cors_allow_origins if settings else cors_origins()
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])
    app.include_router(health.router)
    api = APIRouter(prefix="/api")
    api.include_router(packages.router)
    api.include_router(tasks.router)
    app.include_router(api)
    return app


app = create_app()

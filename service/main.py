"""Builds the FastAPI app, and the ASGI app served: the evaluate endpoint in front of it."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI
from starlette.types import ASGIApp

from service.answer_cache import AnswerCache, CachedAnswer
from service.auth import TokenTable, load_token_table
from service.jobs.hub import FollowHub
from service.rest import documented
from service.rest.deps import get_tenant
from service.rest.errors import install_error_handlers
from service.rest.evaluate_endpoint import EvaluateEndpoint
from service.rest.limits import BodySizeLimit
from service.rest.routes import artifacts, dashboard, health, jobs, metrics, schedules, workers
from warmstep import __version__
from warmstep.config import Settings


def build_app(
    settings: Settings,
    redis: aioredis.Redis,
    redis_binary: aioredis.Redis,
    tokens: TokenTable | None = None,
    follow_hub: FollowHub | None = None,
) -> FastAPI:
    docs = settings.docs_enabled
    app = FastAPI(
        title="warmstep",
        version=__version__,
        description="Learning-rate schedules exactly as each library computes them, and remote "
        "training jobs streamed live.",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.redis_binary = redis_binary
    app.state.follow_hub = FollowHub(redis) if follow_hub is None else follow_hub
    app.state.tokens = load_token_table(settings) if tokens is None else tokens
    app.state.answer_cache = AnswerCache[CachedAnswer](
        settings.evaluate_cache_bytes, settings.evaluate_cache_entry_bytes
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    app.include_router(health.router)
    app.include_router(
        workers.router, dependencies=[Depends(get_tenant)], responses=documented.COMMON
    )
    app.include_router(schedules.router, responses=documented.COMMON)  # access: per route
    app.include_router(jobs.router, responses=documented.JOBS)
    app.include_router(artifacts.router, responses=documented.JOBS)
    if settings.metrics_enabled:
        metrics.install(app)  # GET /metrics and its middleware
    dashboard.install(app)  # /dashboard/ and its static files
    return app


def served(app: FastAPI) -> ASGIApp:
    """What the server runs: ``POST /v1/schedules/evaluate`` answered in front of ``app``
    (:mod:`service.rest.evaluate_endpoint`), everything else by ``app``."""
    return EvaluateEndpoint(app, app.state)

"""Builds the FastAPI app and nothing else."""

from __future__ import annotations

import redis.asyncio as aioredis
from fastapi import FastAPI

from service.rest.errors import install_error_handlers
from service.rest.routes import artifacts, dashboard, health, jobs, metrics, schedules, workers
from warmstep import __version__
from warmstep.config import Settings


def build_app(settings: Settings, redis: aioredis.Redis, redis_binary: aioredis.Redis) -> FastAPI:
    app = FastAPI(
        title="warmstep",
        version=__version__,
        description="Learning-rate schedules exactly as each library computes them, and remote "
        "training jobs streamed live.",
    )
    app.state.settings = settings
    app.state.redis = redis
    app.state.redis_binary = redis_binary
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(workers.router)
    app.include_router(schedules.router)
    app.include_router(jobs.router)
    app.include_router(artifacts.router)
    metrics.install(app)  # GET /metrics and its middleware
    dashboard.install(app)  # /dashboard/ and its static files
    return app

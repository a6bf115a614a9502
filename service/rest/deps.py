"""Dependencies of the routes: the app's settings, Redis client and follow hub, set once at
start, and the caller's tenant from its bearer token (``service.auth``).

They are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in its
thread pool, a thread hop per dependency per request that cost the evaluate route most of its
time."""

from __future__ import annotations

from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.auth import ANONYMOUS, TokenTable
from service.jobs.hub import FollowHub
from warmstep.config import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="A token configured in WARMSTEP_AUTH_TOKENS (sha256 hex -> tenant); only while "
    "auth is on.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_redis(request: Request) -> aioredis.Redis:
    redis: aioredis.Redis = request.app.state.redis
    return redis


async def get_follow_hub(request: Request) -> FollowHub:
    hub: FollowHub = request.app.state.follow_hub
    return hub


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_app_settings(request: Request) -> Settings:
    return app_settings(request)


def _tokens(request: Request) -> TokenTable:
    table: TokenTable = request.app.state.tokens
    return table


def _tenant(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    return _tokens(request).tenant_for(None if credentials is None else credentials.credentials)


async def get_tenant(request: Request, credentials: BearerDep) -> str:
    """The caller's tenant; 401 without a known token while auth is on."""
    return _tenant(request, credentials)


async def get_stream_tenant(
    request: Request,
    credentials: BearerDep,
    access_token: Annotated[
        str | None,
        Query(
            max_length=1000,
            description="The bearer token, for EventSource clients that cannot set headers. "
            "Prefer the Authorization header: URLs end up in logs and browser history.",
        ),
    ] = None,
) -> str:
    token = access_token if credentials is None else credentials.credentials
    return _tokens(request).tenant_for(token)


async def require_query_access(request: Request, credentials: BearerDep) -> str:
    """Schedule queries: open to all when ``schedule_queries_open``, else as :func:`get_tenant`."""
    if app_settings(request).schedule_queries_open:
        return ANONYMOUS
    return _tenant(request, credentials)


async def require_metrics_access(request: Request, credentials: BearerDep) -> str:
    if app_settings(request).metrics_open:
        return ANONYMOUS
    return _tenant(request, credentials)


RedisDep = Annotated[aioredis.Redis, Depends(get_redis)]
FollowHubDep = Annotated[FollowHub, Depends(get_follow_hub)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
TenantDep = Annotated[str, Depends(get_tenant)]
StreamTenantDep = Annotated[str, Depends(get_stream_tenant)]

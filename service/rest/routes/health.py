from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from redis.exceptions import RedisError

from service.redis_store import live_workers
from service.rest.deps import RedisDep
from service.rest.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Redis is reachable; how many workers are alive")
async def readyz(redis: RedisDep) -> Response:
    try:
        await redis.ping()
        workers = await live_workers(redis)
    except RedisError as exc:
        return json_response({"status": "unavailable", "redis": str(exc), "workers": 0}, 503)
    return json_response({"status": "ready", "redis": "ok", "workers": len(workers)})

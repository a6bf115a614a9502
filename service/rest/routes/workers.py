from __future__ import annotations

from fastapi import APIRouter

from service.redis_store import live_workers
from service.rest.deps import RedisDep
from warmstep.workers import WorkerInfo

router = APIRouter(prefix="/v1", tags=["workers"])


@router.get("/workers", summary="Workers alive now (heartbeat not expired)")
async def list_workers(redis: RedisDep) -> dict[str, list[WorkerInfo]]:
    return {"workers": await live_workers(redis)}

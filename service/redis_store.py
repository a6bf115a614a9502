"""The front end's Redis reads and writes, as small async functions over ``redis.asyncio``."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from warmstep import keys
from warmstep.workers import WorkerInfo


def connect(url: str, *, decode: bool = True) -> aioredis.Redis:
    """A client that retries on connection errors with backoff, so a Redis restart is ridden out."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return aioredis.Redis.from_url(
        url,
        decode_responses=decode,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
    )


async def live_workers(redis: aioredis.Redis) -> list[WorkerInfo]:
    """Registered workers whose heartbeat key has not expired; expired ids are pruned."""
    members: Any = await redis.smembers(keys.WORKERS_SET)
    ids: list[str] = sorted(members)
    if not ids:
        return []
    payloads: list[Any] = await redis.mget([keys.worker_heartbeat(i) for i in ids])
    gone = [i for i, payload in zip(ids, payloads, strict=True) if payload is None]
    if gone:
        await redis.srem(keys.WORKERS_SET, *gone)
    return [WorkerInfo.model_validate_json(p) for p in payloads if p is not None]

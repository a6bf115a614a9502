"""The front end's Redis reads and writes, as small async functions over ``redis.asyncio``."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from warmstep import keys
from warmstep.workers import WorkerInfo


def connect(url: str, *, decode: bool = True, max_connections: int = 1024) -> aioredis.Redis:
    """A client that retries on connection errors with backoff, so a Redis restart is ridden out.

    Every follower of a job holds a connection while it blocks on XREAD, so the pool is sized
    for many followers and waits for a free connection (``BlockingConnectionPool``) rather than
    failing with "Too many connections" past redis-py's default of 100."""
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=30,
        decode_responses=decode,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=15,
    )
    return aioredis.Redis.from_pool(pool)  # the client owns the pool and closes it


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

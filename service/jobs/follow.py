"""Following a job: its history after a cursor, then live events, until the job has ended.

The cursor is the Redis stream entry id of the last event the client has; resuming with it
yields every later event exactly once, in order. ``None`` items are keep-alive ticks. A Redis
outage longer than the client's own retries is waited out here (keep-alive ticks meanwhile),
so a follower sees a pause, never a broken or repeated stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.jobs import store
from warmstep.job_views import JobEvent
from warmstep.lifecycle import TERMINAL

log = logging.getLogger("warmstep.front")

REDIS_RETRY_S = 1.0


def _is_terminal(event: JobEvent) -> bool:
    return event.type == "status" and event.data.get("status") in {s.value for s in TERMINAL}


async def _next_batch(
    redis: aioredis.Redis, job_id: str, cursor: str, keepalive_s: float
) -> list[JobEvent] | None:
    """Events after ``cursor``: what is there, else what arrives within ``keepalive_s``;
    ``[]`` when nothing came, ``None`` when the job has ended and nothing is left."""
    events = await store.read_events(redis, job_id, after=cursor, count=1000)
    if events:
        return events
    job = await store.get_job(redis, job_id)
    if job.status in TERMINAL:
        # The terminal status event is written with the state; re-read so it is not missed.
        events = await store.read_events(redis, job_id, after=cursor, count=1000)
        return events or None
    return await store.read_events(
        redis, job_id, after=cursor, count=1000, block_ms=int(keepalive_s * 1000)
    )


async def follow_events(
    redis: aioredis.Redis, job_id: str, cursor: str = "0-0", *, keepalive_s: float = 15.0
) -> AsyncIterator[JobEvent | None]:
    while True:
        try:
            events = await _next_batch(redis, job_id, cursor, keepalive_s)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("following %s: Redis unreachable, retrying: %s", job_id, exc)
            await asyncio.sleep(REDIS_RETRY_S)
            yield None
            continue
        if events is None:
            return
        if not events:
            yield None
            continue
        for event in events:
            cursor = event.id
            yield event
            if _is_terminal(event):
                return

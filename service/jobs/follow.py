"""Following a job: its history after a cursor, then live events, until the job has ended.

The cursor is the Redis stream entry id of the last event the client has; resuming with it
yields every later event exactly once, in order. ``None`` items are keep-alive ticks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from service.jobs import store
from warmstep.job_views import JobEvent
from warmstep.lifecycle import TERMINAL


def _is_terminal(event: JobEvent) -> bool:
    return event.type == "status" and event.data.get("status") in {s.value for s in TERMINAL}


async def follow_events(
    redis: aioredis.Redis, job_id: str, cursor: str = "0-0", *, keepalive_s: float = 15.0
) -> AsyncIterator[JobEvent | None]:
    while True:
        events = await store.read_events(redis, job_id, after=cursor, count=1000)
        if not events:
            job = await store.get_job(redis, job_id)
            if job.status in TERMINAL:
                return
            events = await store.read_events(
                redis, job_id, after=cursor, count=1000, block_ms=int(keepalive_s * 1000)
            )
            if not events:
                yield None
                continue
        for event in events:
            cursor = event.id
            yield event
            if _is_terminal(event):
                return

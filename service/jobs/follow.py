"""Following a job: its history after a cursor, then live events, until the job has ended.

The cursor is the Redis stream entry id of the last event the client has; resuming with it
yields every later event exactly once, in order. ``None`` items are keep-alive ticks. A Redis
outage longer than the client's own retries is waited out here (keep-alive ticks meanwhile),
so a follower sees a pause, never a broken or repeated stream.

A follower reads its history directly (``XRANGE`` from its cursor) until it has caught up, then
takes its live events from the process's :class:`~service.jobs.hub.FollowHub`, which reads each
job once for all its followers. Whenever the hub sends it back (it fell behind, the job ended,
the hub closed) or Redis fails, it reads directly from its cursor again; the cursor, the id of
the last event yielded, is the one truth of what the client has. Without a hub every follower
blocks on its own ``XREAD``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.jobs import store
from service.jobs.hub import (
    RESYNC,
    Batch,
    FollowHub,
    Resync,
    Subscription,
    blocking_read_ms,
    is_terminal,
    raise_if_cancelled,
    stream_id_key,
)
from warmstep.job_views import JobEvent
from warmstep.lifecycle import TERMINAL

log = logging.getLogger("warmstep.front")

REDIS_RETRY_S = 1.0
READ_COUNT = 1000


async def follow_events(
    redis: aioredis.Redis,
    job_id: str,
    cursor: str = "0-0",
    *,
    keepalive_s: float = 15.0,
    hub: FollowHub | None = None,
) -> AsyncIterator[JobEvent | None]:
    """Every event of ``job_id`` after ``cursor`` exactly once and in order, ``None`` after each
    ``keepalive_s`` without one; ends after the terminal status event (or at once when the job
    has ended and nothing is left after the cursor). Live events come through ``hub`` when given.
    Raises ``NotFound`` when the job's record is gone."""
    follower = _Follower(redis, job_id, cursor, keepalive_s, hub)
    try:
        while True:
            try:
                events = await follower.next_events()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                raise_if_cancelled(exc)
                follower.leave_hub()
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
                follower.cursor = event.id
                yield event
                if is_terminal(event):
                    return
    finally:
        follower.leave_hub()


class _Follower:
    """One follow's cursor, and its subscription at the hub while it has caught up."""

    def __init__(
        self,
        redis: aioredis.Redis,
        job_id: str,
        cursor: str,
        keepalive_s: float,
        hub: FollowHub | None,
    ) -> None:
        self.redis = redis
        self.job_id = job_id
        self.cursor = cursor
        self.keepalive_s = keepalive_s
        self.hub = hub
        self.subscription: Subscription | None = None

    async def next_events(self) -> list[JobEvent] | None:
        """Events after the cursor, in order: what is there, else what arrives within
        ``keepalive_s``; ``[]`` when nothing came, ``None`` when the job has ended and nothing is
        left."""
        while True:
            if self.subscription is None:
                events = await _read_after(self.redis, self.job_id, self.cursor)
                if events is None or events:
                    return events
                if self.hub is None or self.hub.closed:
                    return await store.read_events(
                        self.redis,
                        self.job_id,
                        after=self.cursor,
                        count=READ_COUNT,
                        block_ms=blocking_read_ms(self.redis, int(self.keepalive_s * 1000)),
                    )
                self.subscription = self.hub.subscribe(self.job_id, self.cursor)
            live = await self._from_hub(self.subscription)
            if live is not RESYNC:
                return live
            self.leave_hub()

    def leave_hub(self) -> None:
        if self.subscription is not None:
            self.subscription.close()
            self.subscription = None

    async def _from_hub(self, subscription: Subscription) -> list[JobEvent] | Resync:
        """The hub's next events after the cursor within ``keepalive_s`` (``[]`` when none)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.keepalive_s
        while (remaining_s := deadline - loop.time()) > 0:
            item = await subscription.next(remaining_s)
            if item is None:
                break
            if item is RESYNC:
                return RESYNC
            events = await self._unseen(item)
            if events:
                return events
        return []

    async def _unseen(self, batch: Batch) -> list[JobEvent]:
        """The events of ``batch`` after the cursor, preceded by those between the cursor and
        the batch's start, which this follower has not been handed: it reads them itself."""
        events = list(batch.events)
        if stream_id_key(self.cursor) < stream_id_key(batch.after):
            events = await _read_through(self.redis, self.job_id, self.cursor, batch.after) + events
        return _after(events, self.cursor)


async def _read_after(redis: aioredis.Redis, job_id: str, cursor: str) -> list[JobEvent] | None:
    """Events after ``cursor`` already in the stream; ``None`` when there are none and the job
    has ended."""
    events = await store.read_events(redis, job_id, after=cursor, count=READ_COUNT)
    if events:
        return events
    job = await store.get_job(redis, job_id)
    if job.status in TERMINAL:
        # The terminal status event is written with the state; re-read so it is not missed.
        events = await store.read_events(redis, job_id, after=cursor, count=READ_COUNT)
        return events or None
    return []


async def _read_through(
    redis: aioredis.Redis, job_id: str, cursor: str, through: str
) -> list[JobEvent]:
    """Every event after ``cursor`` up to at least ``through`` (perhaps a few past it)."""
    events: list[JobEvent] = []
    while True:
        chunk = await store.read_events(redis, job_id, after=cursor, count=READ_COUNT)
        events += chunk
        if not chunk or stream_id_key(chunk[-1].id) >= stream_id_key(through):
            return events
        cursor = chunk[-1].id


def _after(events: list[JobEvent], cursor: str) -> list[JobEvent]:
    """``events`` (in stream order, perhaps overlapping) after ``cursor``, each once."""
    unseen: list[JobEvent] = []
    last = stream_id_key(cursor)
    for event in events:
        key = stream_id_key(event.id)
        if key > last:
            unseen.append(event)
            last = key
    return unseen

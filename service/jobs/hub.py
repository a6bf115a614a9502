"""One Redis reader per followed job in this process, fanning its batches out to every follower.

Without the hub each follower of a job blocks on its own ``XREAD``: N followers hold N Redis
connections and cost N reads per event. With it, a job followed N times costs one blocked
connection and one ``XREAD BLOCK`` per batch, whatever N (``service.jobs.follow`` is the
follower's side).

The hand-over is exact, so a follower neither misses nor repeats an event:

- :meth:`FollowHub.subscribe` registers the follower and queues it a first, empty
  :class:`Batch` whose ``after`` is the reader's position at that instant. Every later batch
  starts where the previous one ended (``XREAD`` from the newest id delivered), so the batches a
  subscriber receives cover the stream after that ``after`` without a hole.
- A follower whose cursor is behind a batch's ``after`` reads that gap from Redis itself, and
  drops every event at or before its cursor.
- :data:`RESYNC` tells a follower to leave and read from its own cursor directly: it fell
  ``max_queued_batches`` behind (a slow follower never holds up the others), the job ended, the
  reader stopped on an unexpected error, or the hub closed.

A Redis error in the reader is retried with backoff from the same position (nothing skipped,
nothing read twice); followers meanwhile receive nothing and tick their own keep-alives. The
reader runs while the job has subscribers: the last one to leave cancels it, and it stops by
itself after the job's terminal status event.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.jobs import store
from warmstep.errors import NotFound
from warmstep.job_views import JobEvent
from warmstep.lifecycle import TERMINAL

__all__ = [
    "RESYNC",
    "Batch",
    "FollowHub",
    "Resync",
    "Subscription",
    "blocking_read_ms",
    "is_terminal",
    "raise_if_cancelled",
    "stream_id_key",
]

log = logging.getLogger("warmstep.front")

_TERMINAL_NAMES = frozenset(status.value for status in TERMINAL)
# redis-py 8 reads every answer within a 5 s socket timeout unless the client sets another; a
# blocking read must return well before it, else it fails and redis-py retries it.
_DEFAULT_SOCKET_TIMEOUT_S = 5.0


def blocking_read_ms(redis: aioredis.Redis, wanted_ms: int) -> int:
    """``wanted_ms``, capped at half the client's socket timeout: how long an ``XREAD BLOCK``
    may wait on ``redis`` and still answer in time."""
    timeout_s = redis.connection_pool.connection_kwargs.get(
        "socket_timeout", _DEFAULT_SOCKET_TIMEOUT_S
    )
    return wanted_ms if timeout_s is None else max(1, min(wanted_ms, int(timeout_s * 500)))


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """The order of Redis stream entry ids: ``"1719000000000-3"`` -> ``(1719000000000, 3)``; an id
    without a sequence part is sequence 0, as ``XRANGE`` and ``XREAD`` read it."""
    millis, _, sequence = entry_id.partition("-")
    return int(millis), int(sequence or 0)


def is_terminal(event: JobEvent) -> bool:
    """A status event naming a terminal status: the last event of a job's stream."""
    return event.type == "status" and event.data.get("status") in _TERMINAL_NAMES


def raise_if_cancelled(error: BaseException) -> None:
    """Re-raise a Redis error as the cancellation it hides: a cancel that lands at the wrong
    moment of a redis-py command can come out as its TimeoutError (the read's timeout wraps it),
    and retrying it would keep a cancelled task running."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from error


@dataclass(frozen=True)
class Batch:
    """Every entry of the job's stream after the id ``after``, up to the last of ``events``."""

    after: str
    events: tuple[JobEvent, ...] = ()


class Resync(enum.Enum):
    RESYNC = "resync"


RESYNC = Resync.RESYNC  # leave the hub and read from your own cursor


class Subscription:
    """One follower's place at a job's reader: its own queue of :class:`Batch` and
    :data:`RESYNC`, unbounded so RESYNC always fits; the reader bounds it by dropping the
    subscriber once ``max_queued_batches`` are waiting."""

    def __init__(self, reader: _JobReader) -> None:
        self._reader = reader
        self._queue: asyncio.Queue[Batch | Resync] = asyncio.Queue()

    async def next(self, timeout_s: float) -> Batch | Resync | None:
        """The next item, or ``None`` when none came within ``timeout_s``."""
        try:
            async with asyncio.timeout(timeout_s):
                return await self._queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        """Leave the job's reader (again is harmless); the last subscriber to leave stops it."""
        self._reader.leave(self)

    def _offer(self, batch: Batch, limit: int) -> bool:
        """Queue ``batch``; False (and RESYNC queued instead) when ``limit`` are waiting."""
        if self._queue.qsize() >= limit:
            self._queue.put_nowait(RESYNC)
            return False
        self._queue.put_nowait(batch)
        return True

    def _resync(self) -> None:
        self._queue.put_nowait(RESYNC)


class _JobReader:
    """The one task reading a job's stream for the hub, from ``position``: the newest id it has
    handed out (at first, the first subscriber's cursor)."""

    def __init__(self, hub: FollowHub, job_id: str, position: str) -> None:
        self.hub = hub
        self.job_id = job_id
        self.position = position
        self.subscribers: set[Subscription] = set()
        self.task: asyncio.Task[None] | None = None

    def join(self, subscription: Subscription) -> None:
        self.subscribers.add(subscription)
        subscription._offer(Batch(after=self.position), self.hub.max_queued_batches)

    def leave(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)
        if not self.subscribers and self.task is not None and not self.task.done():
            self.stop()

    def stop(self) -> None:
        """Stop reading now; subscribers still here are told to read directly.

        The cancel interrupts the blocked ``XREAD`` (redis-py then drops its connection). Should
        it be lost (Python 3.11's ``wait_for``, which redis-py sends through, can swallow a
        cancel that lands as a send completes), the reader, with no subscribers left, ends
        after that read."""
        self._release()
        if self.task is not None:
            self.task.cancel()

    def _release(self) -> None:
        """Leave the hub and send every subscriber back to reading directly."""
        self.hub._forget(self)
        for subscription in self.subscribers:
            subscription._resync()
        self.subscribers.clear()

    async def run(self) -> None:
        delay_s = self.hub.retry_s
        try:
            while self.subscribers:
                try:
                    ended = await self._read_once()
                except (RedisConnectionError, RedisTimeoutError) as exc:
                    raise_if_cancelled(exc)
                    log.warning("reading job %s: Redis unreachable, retrying: %s", self.job_id, exc)
                    await asyncio.sleep(delay_s)
                    delay_s = min(2 * delay_s, self.hub.retry_cap_s)
                    continue
                delay_s = self.hub.retry_s
                if ended:
                    return
        except Exception:
            log.exception("reading job %s failed; its followers read directly", self.job_id)
        finally:
            self._release()

    async def _read_once(self) -> bool:
        """Wait for the next events and hand them out; True once the job has ended."""
        self.hub.blocking_reads += 1
        hub = self.hub
        block_ms = blocking_read_ms(hub.redis, hub.block_ms)
        events = await store.read_events(
            hub.redis, self.job_id, after=self.position, count=hub.count, block_ms=block_ms
        )
        if not events:
            if not await self._job_over():
                return False
            # The terminal status event is written with the state; re-read so it is not missed.
            events = await store.read_events(
                hub.redis, self.job_id, after=self.position, count=hub.count
            )
            if not events:
                return True
        self._hand_out(events)
        return any(is_terminal(event) for event in events)

    async def _job_over(self) -> bool:
        try:
            job = await store.get_job(self.hub.redis, self.job_id)
        except NotFound:
            return True  # followers reading directly report it
        return job.status in TERMINAL

    def _hand_out(self, events: list[JobEvent]) -> None:
        batch = Batch(after=self.position, events=tuple(events))
        self.position = events[-1].id
        for subscription in list(self.subscribers):
            if not subscription._offer(batch, self.hub.max_queued_batches):
                self.subscribers.discard(subscription)  # too slow: it re-reads from its cursor
                self.hub.dropped_subscribers += 1


class FollowHub:
    """This process's readers of followed jobs, at most one per job; shared by REST and gRPC.

    ``block_ms`` is how long one ``XREAD`` waits (at most half the client's socket timeout)
    before the reader checks whether the job has ended; ``max_queued_batches`` how far a
    subscriber may fall behind before it is sent back to reading directly; ``retry_s`` ..
    ``retry_cap_s`` the reader's backoff while Redis is down. ``blocking_reads`` and
    ``dropped_subscribers`` count, for tests and metrics."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        block_ms: int = 5_000,
        max_queued_batches: int = 256,
        count: int = 1000,
        retry_s: float = 0.1,
        retry_cap_s: float = 2.0,
    ) -> None:
        if block_ms < 1 or max_queued_batches < 1 or count < 1:
            raise ValueError("block_ms, max_queued_batches and count must be at least 1")
        if not 0 < retry_s <= retry_cap_s:
            raise ValueError("retry_s must be positive and at most retry_cap_s")
        self.redis = redis
        self.block_ms = block_ms
        self.max_queued_batches = max_queued_batches
        self.count = count
        self.retry_s = retry_s
        self.retry_cap_s = retry_cap_s
        self.blocking_reads = 0
        self.dropped_subscribers = 0
        self.closed = False
        self._readers: dict[str, _JobReader] = {}

    def subscribe(self, job_id: str, cursor: str) -> Subscription:
        """Follow ``job_id`` live; ``cursor`` (the last id the caller has) starts a new reader.
        The caller closes the subscription when it stops following."""
        if self.closed:
            raise RuntimeError("the follow hub is closed")
        reader = self._readers.get(job_id)
        if reader is None:
            reader = _JobReader(self, job_id, cursor)
            self._readers[job_id] = reader
            reader.task = asyncio.create_task(reader.run(), name=f"follow-hub:{job_id}")
        subscription = Subscription(reader)
        reader.join(subscription)
        return subscription

    @property
    def reader_count(self) -> int:
        """Jobs with a running reader."""
        return len(self._readers)

    def subscriber_count(self, job_id: str) -> int:
        reader = self._readers.get(job_id)
        return 0 if reader is None else len(reader.subscribers)

    async def aclose(self) -> None:
        """Stop every reader; their subscribers are told to read directly."""
        self.closed = True
        readers = list(self._readers.values())
        for reader in readers:
            reader.stop()
        await asyncio.gather(*(r.task for r in readers if r.task), return_exceptions=True)

    def _forget(self, reader: _JobReader) -> None:
        if self._readers.get(reader.job_id) is reader:
            del self._readers[reader.job_id]

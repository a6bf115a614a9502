"""Live followers through the follow hub (``service.jobs.hub``) against the session's real Redis,
on its own database (db 5). Jobs are driven through the real lifecycle scripts (submit, claim,
fenced APPEND_EVENTS in bursts, FINISH), as the worker drives them. Every follower must see every
event after its cursor exactly once, in order; timeouts here only guard against hangs."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from service.embedded_redis import EmbeddedRedis
from service.jobs import store
from service.jobs.follow import follow_events
from service.jobs.hub import FollowHub
from service.redis_store import connect
from warmstep import keys, lifecycle
from warmstep.jobs import parse_job_spec

DB = 5
HANG_GUARD_S = 120.0
KEEPALIVE_S = 0.5
SPEC = {"model": {"name": "mlp"}, "data": {"name": "iris"}, "optimizer": {"type": "SGD"}}


@pytest.fixture
def url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """db 5 of the session's server, empty."""
    db_url = redis_server.url.rsplit("/", 1)[0] + f"/{DB}"
    with redis.Redis.from_url(db_url) as client:
        client.flushdb()
    yield db_url


class Job:
    """A claimed job whose events this test writes as a worker does (fenced, idempotent)."""

    def __init__(self, client: aioredis.Redis, job_id: str, attempt: int) -> None:
        self.client = client
        self.id = job_id
        self.attempt = attempt
        self.written = 0
        self._keys = [keys.job_record(job_id), keys.job_events(job_id)]

    @classmethod
    async def start(cls, client: aioredis.Redis) -> Job:
        job_id = (await store.submit(client, parse_job_spec(SPEC), None, "cpu")).job.id
        attempt: Any = await client.eval(
            lifecycle.CLAIM, 2, *[keys.job_record(job_id), keys.job_events(job_id)],
            "w1", repr(time.time()), 3, "token",
        )  # fmt: skip
        return cls(client, job_id, int(attempt))

    async def append(self, count: int) -> None:
        pairs: list[str] = []
        for step in range(self.written, self.written + count):
            pairs += ["step", orjson.dumps({"step": step}).decode()]
        done: Any = await self.client.eval(
            lifecycle.APPEND_EVENTS, 2, *self._keys, self.attempt, self.written, *pairs
        )
        assert done == 1
        self.written += count

    async def finish(self, status: str = "succeeded") -> None:
        event = orjson.dumps({"status": status, "attempt": self.attempt}).decode()
        done: Any = await self.client.eval(
            lifecycle.FINISH, 2, *self._keys,
            self.attempt, status, repr(time.time()), "", "", "", event,
        )  # fmt: skip
        assert done == 1

    async def ids(self) -> list[str]:
        entries: Any = await self.client.xrange(keys.job_events(self.id))
        return [entry_id for entry_id, _ in entries]


class Follower:
    """One follow, collecting the ids it is handed; ``stall`` (when given) is awaited after
    each event, to play a slow client."""

    def __init__(self, events: AsyncIterator[Any], stall: Callable[[str], Any] | None = None):
        self.ids: list[str] = []
        self._events = events
        self._stall = stall
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self._events:
            if event is None:
                continue
            self.ids.append(event.id)
            if self._stall is not None:
                await self._stall(event.id)


def follow(
    client: aioredis.Redis, job: Job, cursor: str, hub: FollowHub | None, **kwargs: Any
) -> Follower:
    return Follower(
        follow_events(client, job.id, cursor, keepalive_s=KEEPALIVE_S, hub=hub), **kwargs
    )


async def until(check: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(HANG_GUARD_S):
        while not check():
            await asyncio.sleep(0.005)


async def finished(followers: list[Follower]) -> None:
    async with asyncio.timeout(HANG_GUARD_S):
        await asyncio.gather(*(f.task for f in followers))


async def blocked_clients(admin: aioredis.Redis) -> int:
    """Clients of db 5 blocked in a command (XREAD BLOCK): Redis's own count of readers."""
    clients: Any = await admin.client_list()
    return sum(1 for c in clients if c["db"] == str(DB) and "b" in c["flags"])


def run(scenario: Callable[[str], Any], url: str) -> None:
    asyncio.run(scenario(url))


def test_fifty_followers_get_every_event_once_in_order_while_a_writer_bursts(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client)
        job = await Job.start(client)
        rng = random.Random(7)
        followers = [follow(client, job, "0-0", hub) for _ in range(25)]
        while job.written < 500:
            await job.append(min(rng.randint(1, 40), 500 - job.written))
            if len(followers) < 50:  # the rest join mid-stream, from the start
                followers += [follow(client, job, "0-0", hub) for _ in range(5)]
            await asyncio.sleep(rng.random() * 0.01)
        await job.finish()
        await finished(followers)
        expected = await job.ids()
        assert len(expected) == 500 + 3  # queued, running, 500 steps, succeeded
        assert len(followers) == 50
        for follower in followers:
            assert follower.ids == expected
        assert hub.reader_count == 0
        await hub.aclose()
        await client.aclose()

    run(scenario, url)


def test_followers_joining_mid_stream_get_exactly_the_events_after_their_cursor(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client)
        job = await Job.start(client)
        await job.append(100)
        history = await job.ids()
        first = follow(client, job, "0-0", hub)  # the reader runs from here on
        await until(lambda: first.ids == history, "the first follower caught up")
        cursors = ["0-0", "0", history[1], history[50], history[-2], history[-1]]
        joined = [follow(client, job, cursor, hub) for cursor in cursors]
        await job.append(30)
        later = [follow(client, job, cursor, hub) for cursor in cursors]  # reader moved on
        await job.append(70)
        await job.finish()
        await finished([first, *joined, *later])
        expected = await job.ids()
        assert first.ids == expected
        for follower, cursor in zip(joined + later, cursors + cursors, strict=True):
            start = 0 if cursor in ("0-0", "0") else expected.index(cursor) + 1
            assert follower.ids == expected[start:]
        await hub.aclose()
        await client.aclose()

    run(scenario, url)


class PausingRedis(aioredis.Redis):
    """A real client that, once armed, holds back its first empty XRANGE answer until released:
    its follower has caught up but not yet subscribed while the test moves the stream on."""

    armed = False
    paused: asyncio.Event
    release: asyncio.Event

    async def xrange(self, *args: Any, **kwargs: Any) -> Any:
        found = await super().xrange(*args, **kwargs)
        if self.armed and not found:
            self.armed = False
            self.paused.set()
            await self.release.wait()
        return found


def test_events_between_catch_up_and_subscribing_are_read_by_the_follower(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client)
        job = await Job.start(client)
        await job.append(10)
        leader = follow(client, job, "0-0", hub)
        await until(lambda: len(leader.ids) == 12, "the leader caught up")
        late_client = cast(PausingRedis, PausingRedis.from_url(url, decode_responses=True))
        late_client.paused, late_client.release = asyncio.Event(), asyncio.Event()
        late_client.armed = True
        late = follow(late_client, job, "0-0", hub)
        async with asyncio.timeout(HANG_GUARD_S):
            await late_client.paused.wait()
        await job.append(5)  # after the late follower's last read, before it subscribes
        await until(lambda: len(leader.ids) == 17, "the hub handed out the 5 events")
        late_client.release.set()
        await until(lambda: len(late.ids) == 17, "the late follower read the gap")
        await job.append(5)
        await job.finish()
        await finished([leader, late])
        expected = await job.ids()
        assert leader.ids == expected
        assert late.ids == expected
        await hub.aclose()
        await late_client.aclose()
        await client.aclose()

    run(scenario, url)


def test_a_slow_follower_delays_no_one_and_still_gets_everything(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client, max_queued_batches=2)
        job = await Job.start(client)
        released = asyncio.Event()

        async def stall(event_id: str) -> None:
            if event_id not in history:  # a live event: the slow follower is subscribed
                await released.wait()

        history = await job.ids()
        fast = [follow(client, job, "0-0", hub) for _ in range(5)]
        slow = follow(client, job, "0-0", hub, stall=stall)
        await until(lambda: hub.subscriber_count(job.id) == 6, "all six subscribed")
        for _ in range(50):
            await job.append(10)
            await until(lambda: all(len(f.ids) == job.written + 2 for f in fast), "fast got it")
        await job.finish()
        await finished(fast)  # while the slow one is still stuck at its first live event
        assert not slow.task.done()
        assert len(slow.ids) == len(history) + 1
        assert hub.dropped_subscribers == 1
        released.set()
        await finished([slow])
        expected = await job.ids()
        for follower in [*fast, slow]:
            assert follower.ids == expected
        await hub.aclose()
        await client.aclose()

    run(scenario, url)


def test_one_reader_per_job_however_many_follow_and_none_once_they_leave(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        admin = aioredis.Redis.from_url(url, decode_responses=True)
        hub = FollowHub(client)
        first, second = await Job.start(client), await Job.start(client)
        many = [follow(client, first, "0-0", hub) for _ in range(30)]
        few = [follow(client, second, "0-0", hub) for _ in range(10)]
        await until(lambda: hub.subscriber_count(first.id) == 30, "30 subscribed")
        await until(lambda: hub.subscriber_count(second.id) == 10, "10 subscribed")
        assert hub.reader_count == 2
        seen: list[int] = []
        for _ in range(20):
            seen.append(await blocked_clients(admin))
            await first.append(3)
            await asyncio.sleep(0.01)
        await until(lambda: all(len(f.ids) == 62 for f in many), "followers got the events")
        seen.append(await blocked_clients(admin))
        assert max(seen) <= 2  # one XREAD BLOCK per job, not one per follower
        assert hub.reader_count == 2
        for follower in many:
            follower.task.cancel()
        await until(lambda: hub.reader_count == 1, "the first job's reader stopped")
        for follower in few:
            follower.task.cancel()
        await until(lambda: hub.reader_count == 0, "the second job's reader stopped")
        async with asyncio.timeout(HANG_GUARD_S):  # its XREAD was cancelled, or times out
            while await blocked_clients(admin) > 0:
                await asyncio.sleep(0.05)
        await asyncio.gather(*(f.task for f in many + few), return_exceptions=True)
        await hub.aclose()
        await admin.aclose()
        await client.aclose()

    run(scenario, url)


def test_without_the_hub_each_follower_blocks_on_its_own_connection(url: str) -> None:
    """The contrast that shows the count of blocked clients above measures something."""

    async def scenario(url: str) -> None:
        client = connect(url)
        admin = aioredis.Redis.from_url(url, decode_responses=True)
        job = await Job.start(client)
        followers = [follow(client, job, "0-0", None) for _ in range(10)]
        async with asyncio.timeout(HANG_GUARD_S):
            while await blocked_clients(admin) < 10:
                await asyncio.sleep(0.01)
        await job.append(5)
        await job.finish()
        await finished(followers)
        expected = await job.ids()
        for follower in followers:
            assert follower.ids == expected
        await admin.aclose()
        await client.aclose()

    run(scenario, url)


def test_the_terminal_status_ends_every_follower(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client, block_ms=200)
        job = await Job.start(client)
        await job.append(20)
        followers = [follow(client, job, "0-0", hub) for _ in range(10)]
        await until(lambda: hub.subscriber_count(job.id) == 10, "all subscribed")
        await job.finish("failed")
        await finished(followers)
        expected = await job.ids()
        for follower in followers:
            assert follower.ids == expected
        after_the_end = follow(client, job, "0-0", hub)
        at_the_end = follow(client, job, expected[-1], hub)
        await finished([after_the_end, at_the_end])
        assert after_the_end.ids == expected
        assert at_the_end.ids == []
        assert hub.reader_count == 0
        await hub.aclose()
        await client.aclose()

    run(scenario, url)


def test_followers_read_directly_once_the_hub_closes(url: str) -> None:
    async def scenario(url: str) -> None:
        client = connect(url)
        hub = FollowHub(client)
        job = await Job.start(client)
        followers = [follow(client, job, "0-0", hub) for _ in range(5)]
        await until(lambda: hub.subscriber_count(job.id) == 5, "all subscribed")
        await job.append(10)
        await hub.aclose()
        await job.append(10)
        await job.finish()
        await finished(followers)
        expected = await job.ids()
        for follower in followers:
            assert follower.ids == expected
        await client.aclose()

    run(scenario, url)


def _client_without_retries(url: str) -> aioredis.Redis:
    pool = aioredis.ConnectionPool.from_url(
        url, decode_responses=True, retry=Retry(NoBackoff(), 0), max_connections=200
    )
    return aioredis.Redis.from_pool(pool)


@pytest.mark.parametrize("retries", [True, False], ids=["client-retries", "no-client-retries"])
def test_dropped_redis_connections_lose_and_repeat_nothing(
    url: str, retries: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario(url: str) -> None:
        writer = connect(url)  # idempotent appends: a retried call writes nothing twice
        admin = aioredis.Redis.from_url(url, decode_responses=True)
        client = connect(url) if retries else _client_without_retries(url)
        hub = FollowHub(client, retry_s=0.05)
        job = await Job.start(writer)
        followers = [follow(client, job, "0-0", hub) for _ in range(20)]
        await until(lambda: hub.subscriber_count(job.id) == 20, "all subscribed")
        rng = random.Random(11)
        for burst in range(60):
            await job.append(rng.randint(1, 10))
            if burst % 15 == 7:
                await admin.client_kill_filter(_type="normal")  # not itself (SKIPME yes)
            await asyncio.sleep(rng.random() * 0.01)
        await job.finish()
        await finished(followers)
        expected = await job.ids()
        assert len(expected) == job.written + 3
        for follower in followers:
            assert follower.ids == expected
        await hub.aclose()
        for each in (client, admin, writer):
            await each.aclose()

    with caplog.at_level(logging.WARNING, logger="warmstep.front"):
        run(scenario, url)
    if not retries:  # the hub's and the followers' own recovery was exercised
        assert any("Redis unreachable" in r.getMessage() for r in caplog.records)

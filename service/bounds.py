"""Bounds on what a request controls, shared by REST and gRPC; each limit is a setting
(``warmstep.config.Settings``) and each refusal names the limit.

- Shape of free-form JSON (schedule specs, job specs): nesting depth, list length, string length,
  checked before any domain parsing (:func:`check_shape`).
- Job runtime: ``max_runtime_s`` is capped, and defaults to the cap (:func:`cap_runtime`).
- Queued jobs per tenant (:func:`check_queue_room`, :func:`record_job`): a Redis set per tenant of
  its unfinished job ids, pruned of finished ones each time it is counted, so nothing needs to
  remove entries when a job ends.
- Concurrent follows per tenant (:func:`acquire_stream`, :func:`hold_stream`): a Redis sorted set
  per tenant of open streams scored by their last refresh; an atomic script prunes entries not
  refreshed for ``STREAM_STALE_S`` (a crashed front end's streams), counts, and admits or
  refuses. Open streams refresh every ``STREAM_REFRESH_S``.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from service.jobs import store
from service.jobs.store import Submission
from service.jobs.submit import prepare
from warmstep import keys
from warmstep.config import Settings
from warmstep.errors import InvalidArgument, ResourceExhausted
from warmstep.jobs import JobSpec, parse_job_spec
from warmstep.lifecycle import TERMINAL, JobStatus
from warmstep.queries import EvaluateRequest

T = TypeVar("T")

MAX_LIST_OFFSET = 10**9  # a page offset into the job index (Redis ranks are int64)
STREAM_REFRESH_S = 20.0
STREAM_STALE_S = 90.0  # > STREAM_REFRESH_S + the follow keep-alive period (15 s)

# KEYS[1] the tenant's streams; ARGV now, stale_before, limit, member, ttl_s
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_FINISHED = {s.value for s in TERMINAL}
_CURSOR = re.compile(r"^[0-9]{1,20}(-[0-9]{1,20})?$")


def check_shape(value: Any, settings: Settings, field: str) -> None:
    """Refuse JSON nested deeper than ``max_json_depth``, a list longer than ``max_list_items``
    or a string longer than ``max_string_chars``, naming the path of the offender
    (``schedule.schedulers.0.lr_lambda``). Iterative: a hostile depth cannot overflow the stack."""
    todo: list[tuple[Any, str, int]] = [(value, field, 1)]
    while todo:
        item, path, depth = todo.pop()
        if isinstance(item, str):
            if len(item) > settings.max_string_chars:
                raise InvalidArgument(
                    f"string of {len(item)} characters; at most {settings.max_string_chars}",
                    field=path or None,
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > settings.max_json_depth:
            raise InvalidArgument(
                f"nested deeper than {settings.max_json_depth}", field=path or None
            )
        if isinstance(item, list):
            if len(item) > settings.max_list_items:
                raise InvalidArgument(
                    f"list of {len(item)} items; at most {settings.max_list_items}",
                    field=path or None,
                )
            todo.extend((v, _join(path, i), depth + 1) for i, v in enumerate(item))
        else:
            if len(item) > settings.max_list_items:
                raise InvalidArgument(
                    f"more than {settings.max_list_items} keys", field=path or None
                )
            todo.extend((k, path, depth + 1) for k in item)
            todo.extend((v, _join(path, k), depth + 1) for k, v in item.items())


def check_evaluate(request: EvaluateRequest, settings: Settings) -> None:
    """The free-form parts of a schedule query: the spec and the metrics list."""
    check_shape(request.schedule, settings, "schedule")
    if request.metrics is not None and len(request.metrics) > settings.max_list_items:
        raise InvalidArgument(f"at most {settings.max_list_items} metrics", field="metrics")


def check_cursor(cursor: str, field: str) -> str:
    """A follow cursor is a Redis stream entry id (``1719000000000-0``), else 422."""
    if not _CURSOR.match(cursor):
        raise InvalidArgument("a cursor is an event id such as 1719000000000-0", field=field)
    return cursor


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


async def submit_job(
    redis: aioredis.Redis,
    settings: Settings,
    tenant: str,
    body: Any,
    idempotency_key: str | None,
) -> Submission:
    """The submit path of REST and gRPC: bounds first, then the usual validation and queueing."""
    check_shape(body, settings, "")
    spec = cap_runtime(parse_job_spec(body), settings.max_job_runtime_s)
    totals, device_class = await prepare(redis, spec)
    await check_queue_room(redis, tenant, settings.max_queued_jobs_per_tenant)
    submission = await store.submit(
        redis, spec, totals, device_class, tenant=tenant, idempotency_key=idempotency_key
    )
    if submission.created:
        await record_job(redis, tenant, submission.job.id)
    return submission


def cap_runtime(spec: JobSpec, max_runtime_s: float) -> JobSpec:
    """A job runs at most ``max_runtime_s`` (the setting): absent is the cap, above is refused."""
    if spec.max_runtime_s is None:
        return spec.model_copy(update={"max_runtime_s": max_runtime_s})
    if spec.max_runtime_s > max_runtime_s:
        raise InvalidArgument(
            f"at most {max_runtime_s:g} s per job (server setting max_job_runtime_s)",
            field="max_runtime_s",
        )
    return spec


async def check_queue_room(redis: aioredis.Redis, tenant: str, limit: int) -> None:
    """Refuse a submit while ``limit`` jobs of ``tenant`` are queued. Concurrent submits of one
    tenant may overshoot by the number in flight at once (check, then submit)."""
    key = keys.tenant_jobs(tenant)
    members: Any = await redis.smembers(key)
    if not members:
        return
    ids = sorted(members)
    pipe = redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.job_record(job_id), "status")
    statuses = await pipe.execute()
    finished = [j for j, s in zip(ids, statuses, strict=True) if s is None or s in _FINISHED]
    if finished:
        await redis.srem(key, *finished)
    queued = sum(1 for s in statuses if s == JobStatus.QUEUED.value)
    if queued >= limit:
        raise ResourceExhausted(
            f"{queued} jobs of this tenant are queued; at most {limit} "
            "(wait for some to start, or cancel some)"
        )


async def record_job(redis: aioredis.Redis, tenant: str, job_id: str) -> None:
    await redis.sadd(keys.tenant_jobs(tenant), job_id)


async def acquire_stream(redis: aioredis.Redis, tenant: str, settings: Settings) -> str:
    """Take one of this front end's ``max_streams_total`` places (each holds a Redis connection)
    and one of the tenant's ``max_streams_per_tenant``; the slot's id, for :func:`hold_stream`."""
    member = uuid.uuid4().hex
    _take_local(member, settings.max_streams_total)
    try:
        await _take_tenant(redis, tenant, member, settings.max_streams_per_tenant)
    except BaseException:
        _LOCAL_STREAMS.pop(member, None)
        raise
    return member


def _take_local(member: str, total: int) -> None:
    now = time.monotonic()
    for stale in [m for m, t in _LOCAL_STREAMS.items() if now - t > STREAM_STALE_S]:
        del _LOCAL_STREAMS[stale]
    if len(_LOCAL_STREAMS) >= total:
        raise ResourceExhausted(f"this server follows {total} streams at once; retry later")
    _LOCAL_STREAMS[member] = now


async def _take_tenant(redis: aioredis.Redis, tenant: str, member: str, limit: int) -> None:
    now = time.time()
    admitted: Any = await redis.eval(
        _ACQUIRE,
        1,
        keys.tenant_streams(tenant),
        repr(now),
        repr(now - STREAM_STALE_S),
        limit,
        member,
        int(STREAM_STALE_S * 2),
    )
    if not int(admitted):
        raise ResourceExhausted(
            f"this tenant already follows {limit} streams at once; close one first"
        )


async def hold_stream(
    items: AsyncIterator[T], redis: aioredis.Redis, tenant: str, member: str
) -> AsyncIterator[T]:
    """Yield ``items`` while keeping the slot ``member`` fresh; give it back at the end, also
    when the client goes away (the release runs as its own task, so cancellation cannot skip
    it)."""
    key = keys.tenant_streams(tenant)
    refreshed = time.monotonic()
    try:
        async for item in items:
            _LOCAL_STREAMS[member] = time.monotonic()
            if time.monotonic() - refreshed > STREAM_REFRESH_S:
                refreshed = time.monotonic()
                await redis.zadd(key, {member: time.time()}, xx=True)
            yield item
    finally:
        _LOCAL_STREAMS.pop(member, None)
        _in_background(redis.zrem(key, member))


_BACKGROUND: set[asyncio.Task[Any]] = set()
_LOCAL_STREAMS: dict[str, float] = {}  # this process's open follows: slot id -> last refresh


def _in_background(work: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _BACKGROUND.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a lost release only ages out after STREAM_STALE_S

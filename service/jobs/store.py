"""The front end's job operations on Redis: submit, get, list, cancel, read events.

State changes go through the lifecycle scripts (``warmstep.lifecycle``), which apply them
atomically; this module never writes a job's status itself."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from warmstep import keys, lifecycle
from warmstep.errors import FailedPrecondition, NotFound
from warmstep.job_views import JobEvent, JobPublic, JobTotals
from warmstep.jobs import JobSpec

IDEMPOTENCY_TTL_S = 24 * 3600


@dataclass(frozen=True)
class Submission:
    job: JobPublic
    created: bool  # False: an earlier submit with the same Idempotency-Key made this job


async def submit(
    redis: aioredis.Redis,
    spec: JobSpec,
    totals: JobTotals | None,
    device_class: str,
    *,
    tenant: str = "",
    idempotency_key: str | None = None,
) -> Submission:
    job_id = uuid.uuid4().hex
    now = time.time()
    fields = {
        "id": job_id,
        "tenant": tenant,
        "status": lifecycle.JobStatus.QUEUED.value,
        "attempt": "0",
        "device_class": device_class,
        "created_at": repr(now),
        "spec": spec.model_dump_json(),
        "totals": "" if totals is None else totals.model_dump_json(),
    }
    flat = [item for pair in fields.items() for item in pair]
    script_keys = [
        keys.idempotency(tenant, idempotency_key) if idempotency_key else "",
        keys.job_record(job_id),
        keys.JOBS_INDEX,
        keys.dispatch_stream(device_class),
        keys.job_events(job_id),
    ]
    answered: Any = await redis.eval(
        lifecycle.SUBMIT,
        len(script_keys),
        *script_keys,
        job_id,
        repr(now),
        IDEMPOTENCY_TTL_S,
        *flat,
    )
    if str(answered) == job_id:
        # The record as this script wrote it: a worker may claim the job before a re-read would
        # reach Redis, and the submit's answer is the job as submitted, status queued.
        return Submission(JobPublic.from_hash(fields), created=True)
    return Submission(await get_job(redis, str(answered)), created=False)


async def get_job(redis: aioredis.Redis, job_id: str, tenant: str | None = None) -> JobPublic:
    fields: Any = await redis.hgetall(keys.job_record(job_id))
    if not fields or (tenant is not None and fields.get("tenant", "") != tenant):
        raise NotFound(f"no job {job_id!r}", field="job_id")
    return JobPublic.from_hash(fields)


async def list_jobs(
    redis: aioredis.Redis,
    *,
    status: str | None = None,
    label: tuple[str, str] | None = None,
    limit: int = 50,
    offset: int = 0,
    tenant: str | None = None,
) -> tuple[list[JobPublic], int | None]:
    """Newest first. Answers a page and the offset of the next page (None at the end)."""
    found: list[JobPublic] = []
    position = offset
    batch = max(limit, 100)
    while len(found) < limit:
        ids: Any = await redis.zrevrange(keys.JOBS_INDEX, position, position + batch - 1)
        if not ids:
            return found, None
        pipe = redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(keys.job_record(job_id))
        for fields in await pipe.execute():
            position += 1
            if not fields:
                continue
            job = JobPublic.from_hash(fields)
            if _matches(job, fields, status, label, tenant):
                found.append(job)
                if len(found) == limit:
                    break
    more = await redis.zcard(keys.JOBS_INDEX) > position
    return found, position if more else None


def _matches(
    job: JobPublic,
    fields: dict[str, str],
    status: str | None,
    label: tuple[str, str] | None,
    tenant: str | None,
) -> bool:
    if tenant is not None and fields.get("tenant", "") != tenant:
        return False
    if status is not None and job.status.value != status:
        return False
    return label is None or job.labels.get(label[0]) == label[1]


async def cancel(redis: aioredis.Redis, job_id: str, tenant: str | None = None) -> JobPublic:
    await get_job(redis, job_id, tenant)
    outcome: Any = await redis.eval(
        lifecycle.CANCEL, 2, keys.job_record(job_id), keys.job_events(job_id), repr(time.time())
    )
    if outcome in ("succeeded", "failed"):
        raise FailedPrecondition(f"job {job_id} already {outcome}", field="job_id")
    return await get_job(redis, job_id)


async def read_events(
    redis: aioredis.Redis,
    job_id: str,
    after: str = "0-0",
    count: int = 1000,
    block_ms: int | None = None,
) -> list[JobEvent]:
    """Events strictly after the entry id ``after``; with ``block_ms``, wait that long for some."""
    stream = keys.job_events(job_id)
    entries: Any
    if block_ms is None:
        entries = await redis.xrange(stream, min=f"({after}", count=count)
    else:
        answer: Any = await redis.xread({stream: after}, count=count, block=block_ms)
        entries = [entry for _, batch in answer or [] for entry in batch]
    return [JobEvent.from_entry(i, f) for i, f in entries]


def event_json(event: JobEvent) -> bytes:
    return orjson.dumps(event.model_dump(mode="json"))


SUPERSEDED_NOTE = (
    "A row whose superseded_by is set was written by an attempt that did not finish; a later "
    "attempt resumed from an earlier checkpoint and repeated that step. Use the rows whose "
    "superseded_by is null: one per step, in order."
)


async def history(redis: aioredis.Redis, job_id: str) -> dict[str, Any]:
    """Every step and eval event of a job, each row marked with the attempt that superseded it
    (None for the rows that stand)."""
    events = await read_events(redis, job_id, after="0-0", count=10_000_000)
    return mark_superseded(events)


def mark_superseded(events: list[JobEvent]) -> dict[str, Any]:
    resumed_from: dict[int, int] = {}
    for event in events:
        if event.type == "log" and "resumed_from_step" in event.data:
            resumed_from[event.attempt] = int(event.data["resumed_from_step"])
        elif event.type == "step":
            resumed_from.setdefault(event.attempt, int(event.data["step"]))
    rows: dict[str, list[dict[str, object]]] = {"step": [], "eval": []}
    for event in events:
        if event.type not in rows:
            continue
        step = int(event.data["step"])
        later = [a for a, start in resumed_from.items() if a > event.attempt and start <= step]
        row = dict(event.data)
        row |= {
            "event_id": event.id,
            "attempt": event.attempt,
            "superseded_by": min(later) if later else None,
        }
        rows[event.type].append(row)
    return {"steps": rows["step"], "evals": rows["eval"], "note": SUPERSEDED_NOTE}

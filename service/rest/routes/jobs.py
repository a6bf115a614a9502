"""Training jobs over REST: submit, get, list, cancel, follow (SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query
from fastapi.responses import Response, StreamingResponse

from service import bounds
from service.jobs import store
from service.jobs.follow import follow_events
from service.rest.deps import FollowHubDep, RedisDep, SettingsDep, StreamTenantDep, TenantDep
from service.rest.responses import json_bytes, json_response
from warmstep.errors import InvalidArgument
from warmstep.job_views import JobPublic
from warmstep.lifecycle import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

KEEPALIVE_S = 15.0


@router.post(
    "",
    status_code=201,
    response_model=JobPublic,
    summary="Submit a training job",
    responses={
        200: {
            "model": JobPublic,
            "description": "An earlier submit with the same Idempotency-Key made this job",
        }
    },
)
async def submit_job(
    redis: RedisDep,
    settings: SettingsDep,
    tenant: TenantDep,
    body: Annotated[
        dict[str, Any],
        Body(
            examples=[
                {
                    "model": {"name": "mlp"},
                    "data": {"name": "digits"},
                    "optimizer": {"type": "AdamW", "lr": 0.001},
                    "schedule": {"type": "get_cosine_schedule_with_warmup"},
                    "batch_size": 32,
                    "epochs": 2,
                    "warmup_ratio": 0.1,
                }
            ]
        ),
    ],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    submission = await bounds.submit_job(redis, settings, tenant, body, idempotency_key)
    status = 201 if submission.created else 200
    return json_response(submission.job.model_dump(mode="json"), status)


@router.get("", summary="List jobs, newest first")
async def list_jobs(
    redis: RedisDep,
    tenant: TenantDep,
    status: JobStatus | None = None,
    label: Annotated[str | None, Query(description="key=value")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=bounds.MAX_LIST_OFFSET)] = 0,
) -> Response:
    pair = None
    if label is not None:
        if "=" not in label:
            raise InvalidArgument("label filter is key=value", field="label")
        key, value = label.split("=", 1)
        pair = (key, value)
    jobs, next_offset = await store.list_jobs(
        redis,
        status=None if status is None else status.value,
        label=pair,
        limit=limit,
        offset=offset,
        tenant=tenant,
    )
    return json_response(
        {"jobs": [j.model_dump(mode="json") for j in jobs], "next_offset": next_offset}
    )


@router.get("/{job_id}", response_model=JobPublic, summary="One job")
async def get_job(redis: RedisDep, tenant: TenantDep, job_id: str) -> Response:
    return json_response((await store.get_job(redis, job_id, tenant)).model_dump(mode="json"))


@router.post("/{job_id}/cancel", response_model=JobPublic, summary="Cancel a job")
async def cancel_job(redis: RedisDep, tenant: TenantDep, job_id: str) -> Response:
    return json_response((await store.cancel(redis, job_id, tenant)).model_dump(mode="json"))


@router.get(
    "/{job_id}/events",
    summary="Follow a job (Server-Sent Events); resumes after Last-Event-ID",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(
    redis: RedisDep,
    hub: FollowHubDep,
    settings: SettingsDep,
    tenant: StreamTenantDep,
    job_id: str,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[str | None, Query(description="Resume after this event id")] = None,
) -> StreamingResponse:
    await store.get_job(redis, job_id, tenant)
    cursor = bounds.check_cursor(last_event_id or after or "0-0", "Last-Event-ID")
    slot = await bounds.acquire_stream(redis, tenant, settings)
    events = follow_events(redis, job_id, cursor, keepalive_s=KEEPALIVE_S, hub=hub)

    async def stream() -> AsyncIterator[bytes]:
        async for event in bounds.hold_stream(events, redis, tenant, slot):
            if event is None:
                yield b": keep-alive\n\n"
                continue
            data = json_bytes(event.model_dump(mode="json"))
            yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                event.id.encode(),
                event.type.encode(),
                data,
            )

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""TrainingService: the same job operations as REST, over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from google.protobuf import json_format

from service import bounds
from service.grpc.errors import grpc_errors
from service.grpc.interceptors import current_tenant
from service.jobs import store
from service.jobs.follow import follow_events
from service.jobs.hub import FollowHub
from warmstep.config import Settings
from warmstep.errors import InvalidArgument
from warmstep.job_views import JobEvent, JobPublic
from warmstep_client.v1 import training_pb2, training_pb2_grpc

KEEPALIVE_S = 15.0


def job_to_proto(job: JobPublic) -> training_pb2.Job:
    return json_format.ParseDict(job.model_dump(mode="json"), training_pb2.Job())


def event_to_proto(event: JobEvent) -> training_pb2.JobEvent:
    return json_format.ParseDict(event.model_dump(mode="json"), training_pb2.JobEvent())


class TrainingServicer(training_pb2_grpc.TrainingServiceServicer):
    def __init__(
        self, redis: aioredis.Redis, settings: Settings, follow_hub: FollowHub | None = None
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._hub = FollowHub(redis) if follow_hub is None else follow_hub

    @grpc_errors
    async def SubmitJob(
        self, request: training_pb2.SubmitJobRequest, context: Any
    ) -> training_pb2.SubmitJobResponse:
        submission = await bounds.submit_job(
            self._redis,
            self._settings,
            current_tenant(),
            _struct_to_spec(request),
            request.idempotency_key or None,
        )
        return training_pb2.SubmitJobResponse(
            job=job_to_proto(submission.job), created=submission.created
        )

    @grpc_errors
    async def GetJob(self, request: training_pb2.GetJobRequest, context: Any) -> training_pb2.Job:
        return job_to_proto(await store.get_job(self._redis, request.job_id, current_tenant()))

    @grpc_errors
    async def ListJobs(
        self, request: training_pb2.ListJobsRequest, context: Any
    ) -> training_pb2.ListJobsResponse:
        label = None
        if request.label:
            if "=" not in request.label:
                raise InvalidArgument("label filter is key=value", field="label")
            key, value = request.label.split("=", 1)
            label = (key, value)
        try:
            offset = int(request.page_token or 0)
        except ValueError:
            raise InvalidArgument("not a page token", field="page_token") from None
        if not 0 <= offset <= bounds.MAX_LIST_OFFSET:
            raise InvalidArgument("not a page token", field="page_token")
        if request.page_size < 0 or request.page_size > 500:
            raise InvalidArgument("page_size is 0 (default 50) to 500", field="page_size")
        jobs, next_offset = await store.list_jobs(
            self._redis,
            status=request.status or None,
            label=label,
            limit=request.page_size or 50,
            offset=offset,
            tenant=current_tenant(),
        )
        return training_pb2.ListJobsResponse(
            jobs=[job_to_proto(j) for j in jobs],
            next_page_token="" if next_offset is None else str(next_offset),
        )

    @grpc_errors
    async def CancelJob(
        self, request: training_pb2.CancelJobRequest, context: Any
    ) -> training_pb2.Job:
        return job_to_proto(await store.cancel(self._redis, request.job_id, current_tenant()))

    @grpc_errors
    async def FollowJob(
        self, request: training_pb2.FollowJobRequest, context: Any
    ) -> AsyncIterator[training_pb2.JobEvent]:
        tenant = current_tenant()
        await store.get_job(self._redis, request.job_id, tenant)
        cursor = bounds.check_cursor(request.cursor or "0-0", "cursor")
        slot = await bounds.acquire_stream(self._redis, tenant, self._settings)
        events = follow_events(
            self._redis, request.job_id, cursor, keepalive_s=KEEPALIVE_S, hub=self._hub
        )
        async for event in bounds.hold_stream(events, self._redis, tenant, slot):
            if event is not None:
                yield event_to_proto(event)


def _struct_to_spec(request: training_pb2.SubmitJobRequest) -> dict[str, Any]:
    """Struct numbers arrive as doubles; the spec's int fields accept integral doubles (lax
    validation), so ``batch_size: 32.0`` is 32 and ``32.5`` is refused naming the field."""
    return dict(json_format.MessageToDict(request.spec))

"""Builds the grpc.aio server: our services, the standard health service and reflection."""

from __future__ import annotations

import grpc
import redis.asyncio as aioredis
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.auth import TokenTable, load_token_table
from service.grpc.interceptors import AuthInterceptor
from service.grpc.schedules import ScheduleServicer
from service.grpc.training import TrainingServicer
from service.grpc.workers import WorkerServicer
from service.jobs.hub import FollowHub
from warmstep.config import Settings
from warmstep_client.v1 import (
    schedules_pb2,
    schedules_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    workers_pb2,
    workers_pb2_grpc,
)

SERVICE_NAMES = (
    schedules_pb2.DESCRIPTOR.services_by_name["ScheduleService"].full_name,
    training_pb2.DESCRIPTOR.services_by_name["TrainingService"].full_name,
    workers_pb2.DESCRIPTOR.services_by_name["WorkerService"].full_name,
)


def build_grpc_server(
    settings: Settings,
    redis: aioredis.Redis,
    tokens: TokenTable | None = None,
    follow_hub: FollowHub | None = None,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    limit = settings.max_grpc_message_bytes
    auth = AuthInterceptor(
        load_token_table(settings) if tokens is None else tokens,
        schedule_queries_open=settings.schedule_queries_open,
    )
    server = grpc.aio.server(
        interceptors=[auth],
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
        ],
    )
    schedules_pb2_grpc.add_ScheduleServiceServicer_to_server(ScheduleServicer(settings), server)
    training = TrainingServicer(redis, settings, follow_hub)
    training_pb2_grpc.add_TrainingServiceServicer_to_server(training, server)
    workers_pb2_grpc.add_WorkerServiceServicer_to_server(WorkerServicer(redis), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            *SERVICE_NAMES,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    return server, health_servicer


async def mark_serving(health_servicer: health.aio.HealthServicer) -> None:
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

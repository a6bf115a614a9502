from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from google.protobuf import json_format

from service.grpc.errors import grpc_errors
from service.redis_store import live_workers
from warmstep_client.v1 import workers_pb2, workers_pb2_grpc


class WorkerServicer(workers_pb2_grpc.WorkerServiceServicer):
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    @grpc_errors
    async def ListWorkers(
        self, request: workers_pb2.ListWorkersRequest, context: Any
    ) -> workers_pb2.ListWorkersResponse:
        workers = [
            json_format.ParseDict(w.model_dump(mode="json"), workers_pb2.Worker())
            for w in await live_workers(self._redis)
        ]
        return workers_pb2.ListWorkersResponse(workers=workers)

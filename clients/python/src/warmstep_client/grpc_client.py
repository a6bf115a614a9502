"""A thin gRPC client over the generated stubs: numpy arrays for curves, and a ``follow`` that
resumes from its cursor after a dropped stream."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format, struct_pb2

from warmstep_client.rest import TERMINAL, Curve
from warmstep_client.v1 import (
    schedules_pb2,
    schedules_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)


def series_array(series: Sequence[schedules_pb2.Series]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Rows of float64 from Series given as ``raw`` bytes or as ``values``."""
    return np.array(
        [
            np.frombuffer(s.raw, "<f8") if s.raw else np.asarray(s.values, np.float64)
            for s in series
        ],
        np.float64,
    )


class WarmstepGrpcClient:
    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        token: str | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channel = grpc.insecure_channel(target, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.schedules = schedules_pb2_grpc.ScheduleServiceStub(self._channel)
        self.training = training_pb2_grpc.TrainingServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> WarmstepGrpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def evaluate(
        self,
        schedule: dict[str, Any],
        steps: int,
        base_lr: float | list[float] | None = None,
        metrics: list[float] | None = None,
        points: int | None = None,
    ) -> Curve:
        spec = struct_pb2.Struct()
        spec.update(schedule)
        lrs = [] if base_lr is None else [base_lr] if isinstance(base_lr, int | float) else base_lr
        answer = self.schedules.Evaluate(
            schedules_pb2.EvaluateRequest(
                schedule=spec,
                base_lr=lrs,
                steps=steps,
                metrics=metrics or [],
                points=points or 0,
                raw=True,
            ),
            metadata=self._metadata,
        )
        lr = series_array(answer.lr)
        momentum = series_array(answer.momentum) if len(answer.momentum) else None
        index = np.array(answer.index, np.int64) if len(answer.index) else None
        return Curve(lr, momentum, index, int(answer.steps))

    def submit(self, spec: dict[str, Any], idempotency_key: str = "") -> dict[str, Any]:
        message = struct_pb2.Struct()
        message.update(spec)
        answer = self.training.SubmitJob(
            training_pb2.SubmitJobRequest(spec=message, idempotency_key=idempotency_key),
            metadata=self._metadata,
        )
        return dict(json_format.MessageToDict(answer.job, preserving_proto_field_name=True))

    def follow(
        self, job_id: str, cursor: str = "", retry_s: float = 0.5, max_retries: int = 120
    ) -> Iterator[training_pb2.JobEvent]:
        """Every event after ``cursor`` until the job ends, resuming after a dropped stream."""
        failures = 0
        while True:
            try:
                request = training_pb2.FollowJobRequest(job_id=job_id, cursor=cursor)
                for event in self.training.FollowJob(request, metadata=self._metadata):
                    failures = 0
                    cursor = event.id
                    yield event
                    if event.type == "status" and event.data["status"] in TERMINAL:
                        return
                return
            except grpc.RpcError as exc:
                if exc.code() not in (
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.INTERNAL,
                    grpc.StatusCode.UNKNOWN,
                ):
                    raise
            failures += 1
            if failures > max_retries:
                raise TimeoutError(f"gave up following {job_id}")
            time.sleep(retry_s)

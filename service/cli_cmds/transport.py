"""The CLI's two ways to reach a front end, behind one small interface: REST (the
``warmstep_client`` REST client) or gRPC (the generated stubs). Both answer plain dicts shaped
like the REST JSON, and curves as :class:`warmstep_client.Curve`."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Any, Protocol

import grpc
import httpx
import numpy as np
from google.protobuf import json_format, struct_pb2

from warmstep_client import Curve, WarmstepClient, WarmstepError
from warmstep_client.v1 import (
    schedules_pb2,
    schedules_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
)

__all__ = ["Transport", "TransportKind", "WarmstepError", "connect"]


class TransportKind(enum.StrEnum):
    REST = "rest"
    GRPC = "grpc"


class Transport(Protocol):
    def kinds(self, library: str | None) -> list[dict[str, Any]]: ...
    def evaluate(self, request: dict[str, Any]) -> Curve: ...
    def plan(self, request: dict[str, Any]) -> dict[str, Any]: ...
    def submit(self, spec: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]: ...
    def get(self, job_id: str) -> dict[str, Any]: ...
    def jobs(self, status: str | None, label: str | None, limit: int) -> list[dict[str, Any]]: ...
    def cancel(self, job_id: str) -> dict[str, Any]: ...
    def follow(self, job_id: str, cursor: str | None) -> Iterator[dict[str, Any]]: ...
    def close(self) -> None: ...


def connect(kind: TransportKind, url: str, grpc_target: str, token: str | None) -> Transport:
    if kind is TransportKind.GRPC:
        return GrpcTransport(grpc_target, token)
    return RestTransport(url, token)


class RestTransport:
    def __init__(self, url: str, token: str | None) -> None:
        self.client = WarmstepClient(url, token=token)

    def kinds(self, library: str | None) -> list[dict[str, Any]]:
        return self.client.kinds(library)

    def evaluate(self, request: dict[str, Any]) -> Curve:
        return self.client.evaluate(**request)

    def plan(self, request: dict[str, Any]) -> dict[str, Any]:
        return self.client.plan(**request)

    def submit(self, spec: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        return self.client.submit(spec, idempotency_key)

    def get(self, job_id: str) -> dict[str, Any]:
        return self.client.get(job_id)

    def jobs(self, status: str | None, label: str | None, limit: int) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.client.jobs(status, label, limit)["jobs"]
        return jobs

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.client.cancel(job_id)

    def follow(self, job_id: str, cursor: str | None) -> Iterator[dict[str, Any]]:
        return self.client.follow(job_id, cursor)

    def close(self) -> None:
        self.client.close()


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def _as_dict(message: Any) -> dict[str, Any]:
    answer: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return answer


def _job(message: training_pb2.Job) -> dict[str, Any]:
    job = _as_dict(message)
    job["totals"] = job["totals"] if message.HasField("totals") else None
    job["error"] = job["error"] if message.HasField("error") else None
    return job


# Messages up to 64 MiB each way, as the server (max_grpc_message_bytes) and the client package
# allow; gRPC's default 4 MiB receive limit stops a curve at about 500,000 float64 values.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class GrpcTransport:
    def __init__(self, target: str, token: str | None) -> None:
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ]
        self._channel = grpc.insecure_channel(target, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._schedules = schedules_pb2_grpc.ScheduleServiceStub(self._channel)
        self._training = training_pb2_grpc.TrainingServiceStub(self._channel)

    def _call(self, method: Any, request: Any) -> Any:
        try:
            return method(request, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def kinds(self, library: str | None) -> list[dict[str, Any]]:
        answer = self._call(
            self._schedules.ListKinds, schedules_pb2.ListKindsRequest(library=library or "")
        )
        return [_as_dict(kind) for kind in answer.kinds]

    def evaluate(self, request: dict[str, Any]) -> Curve:
        base_lr = request.get("base_lr")
        message = schedules_pb2.EvaluateRequest(
            schedule=_struct(request["schedule"]),
            steps=request["steps"],
            base_lr=[] if base_lr is None else np.atleast_1d(base_lr).tolist(),
            metrics=request.get("metrics") or [],
            points=request.get("points") or 0,
        )
        answer = self._call(self._schedules.Evaluate, message)
        momentum = np.array([s.values for s in answer.momentum]) if answer.momentum else None
        index = np.array(answer.index, np.int64) if answer.index else None
        return Curve(np.array([s.values for s in answer.lr]), momentum, index, answer.steps)

    def plan(self, request: dict[str, Any]) -> dict[str, Any]:
        answer = self._call(self._schedules.Plan, schedules_pb2.PlanRequest(**request))
        return _as_dict(answer.plan)

    def submit(self, spec: dict[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        message = training_pb2.SubmitJobRequest(
            spec=_struct(spec), idempotency_key=idempotency_key or ""
        )
        return _job(self._call(self._training.SubmitJob, message).job)

    def get(self, job_id: str) -> dict[str, Any]:
        return _job(self._call(self._training.GetJob, training_pb2.GetJobRequest(job_id=job_id)))

    def jobs(self, status: str | None, label: str | None, limit: int) -> list[dict[str, Any]]:
        message = training_pb2.ListJobsRequest(
            status=status or "", label=label or "", page_size=limit
        )
        return [_job(job) for job in self._call(self._training.ListJobs, message).jobs]

    def cancel(self, job_id: str) -> dict[str, Any]:
        message = training_pb2.CancelJobRequest(job_id=job_id)
        return _job(self._call(self._training.CancelJob, message))

    def follow(self, job_id: str, cursor: str | None) -> Iterator[dict[str, Any]]:
        message = training_pb2.FollowJobRequest(job_id=job_id, cursor=cursor or "")
        try:
            for event in self._training.FollowJob(message, metadata=self._metadata):
                yield _as_dict(event) | {"attempt": int(event.attempt)}
        except grpc.RpcError as exc:
            raise _error(exc) from None

    def close(self) -> None:
        self._channel.close()


def _error(exc: grpc.RpcError) -> WarmstepError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    field = None
    if isinstance(exc, grpc.Call):
        field = dict(exc.trailing_metadata() or ()).get("warmstep-field")
    return WarmstepError(0, code.name.lower(), details or "", field)


def is_connection_error(exc: Exception) -> bool:
    return isinstance(exc, httpx.TransportError)

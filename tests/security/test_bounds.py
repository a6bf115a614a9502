"""Every bound a request controls answers a clear error naming the limit: body size (413),
steps, list length, string length, nesting depth (422), job runtime (422), queued jobs and open
streams per tenant (429 / RESOURCE_EXHAUSTED), gRPC message size (RESOURCE_EXHAUSTED)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2

from tests.processes import Stack, wait_for
from tests.security.conftest import bearer, grpc_auth
from tests.security.test_auth import JOB
from warmstep_client.v1 import schedules_pb2, schedules_pb2_grpc, training_pb2, training_pb2_grpc


@pytest.fixture
def http(auth_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_stack.base_url, timeout=30, headers=bearer("carol")) as c:
        yield c


def _cancel_all(http: httpx.Client) -> None:
    for job in http.get("/v1/jobs", params={"status": "queued"}).json()["jobs"]:
        http.post(f"/v1/jobs/{job['id']}/cancel")


def _error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_body_over_the_bound_is_413(http: httpx.Client) -> None:
    big = b'{"schedule": {"type": "StepLR"}, "steps": 5, "pad": "' + b"x" * 70_000 + b'"}'
    error = _error(http.post("/v1/schedules/evaluate", content=big), 413)
    assert "65536 bytes" in error["message"]


def test_chunked_body_over_the_bound_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(40):
            yield b"y" * 4096
        yield b'"}'

    answer = http.post("/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert "max_body_bytes" in _error(answer, 413)["message"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"schedule": {"type": "StepLR", "step_size": 1}, "steps": 100_001}, "steps", "100000"),
        (
            {"schedule": {"type": "MultiStepLR", "milestones": list(range(1001))}, "steps": 5},
            "schedule.milestones",
            "at most 1000",
        ),
        (
            {"schedule": {"type": "LambdaLR", "lr_lambda": "1" + " + 1" * 200}, "steps": 5},
            "schedule.lr_lambda",
            "at most 500",
        ),
        (
            {"schedule": {"type": "StepLR", "x": [[[[[[[[[[[[[1]]]]]]]]]]]]]}, "steps": 5},
            None,
            "deeper",
        ),
        (
            {"schedule": {"type": "ReduceLROnPlateau"}, "steps": 5, "metrics": [0.0] * 1001},
            "metrics",
            "1000",
        ),
    ],
    ids=["steps", "list", "string", "depth", "metrics"],
)
def test_query_bounds_are_422_naming_the_field(
    http: httpx.Client, body: dict[str, Any], field: str | None, words: str
) -> None:
    error = _error(http.post("/v1/schedules/evaluate", json={"base_lr": 0.1, **body}), 422)
    assert words in error["message"]
    if field is not None:
        assert error["field"] == field
    else:
        assert error["field"].startswith("schedule.x.0.0")


def test_job_runtime_is_capped(http: httpx.Client) -> None:
    error = _error(http.post("/v1/jobs", json={**JOB, "max_runtime_s": 601}), 422)
    assert error["field"] == "max_runtime_s"
    job = http.post("/v1/jobs", json=JOB).json()
    assert job["spec"]["max_runtime_s"] == 600.0  # absent means the cap
    http.post(f"/v1/jobs/{job['id']}/cancel")


def test_queued_jobs_per_tenant(http: httpx.Client, auth_stack: Stack) -> None:
    _cancel_all(http)
    ids = [http.post("/v1/jobs", json=JOB).json()["id"] for _ in range(3)]
    error = _error(http.post("/v1/jobs", json=JOB), 429)
    assert error["code"] == "resource_exhausted" and "at most 3" in error["message"]
    with grpc.insecure_channel(auth_stack.grpc_target) as channel:
        spec = struct_pb2.Struct()
        spec.update(JOB)
        with pytest.raises(grpc.RpcError) as caught:
            training_pb2_grpc.TrainingServiceStub(channel).SubmitJob(
                training_pb2.SubmitJobRequest(spec=spec), metadata=grpc_auth("carol")
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    other = httpx.post(f"{auth_stack.base_url}/v1/jobs", json=JOB, headers=bearer("bob"))
    assert other.status_code == 201  # the bound is per tenant
    httpx.post(f"{auth_stack.base_url}/v1/jobs/{other.json()['id']}/cancel", headers=bearer("bob"))
    http.post(f"/v1/jobs/{ids[0]}/cancel")
    assert http.post("/v1/jobs", json=JOB).status_code == 201  # a cancelled job frees its place
    _cancel_all(http)


def test_open_streams_per_tenant(http: httpx.Client, auth_stack: Stack) -> None:
    _cancel_all(http)
    job_id = http.post("/v1/jobs", json=JOB).json()["id"]
    url = f"/v1/jobs/{job_id}/events"
    with http.stream("GET", url) as first, http.stream("GET", url) as second:
        assert first.status_code == second.status_code == 200
        error = _error(http.get(url), 429)
        assert "2 streams" in error["message"]
        with grpc.insecure_channel(auth_stack.grpc_target) as channel:
            stream = training_pb2_grpc.TrainingServiceStub(channel).FollowJob(
                training_pb2.FollowJobRequest(job_id=job_id), metadata=grpc_auth("carol")
            )
            with pytest.raises(grpc.RpcError) as caught:
                next(iter(stream))
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    # closing the streams gives their places back
    def admitted() -> bool | None:
        with http.stream("GET", url) as again:
            return again.status_code == 200 or None

    wait_for(admitted, "a stream place given back", timeout_s=20)
    http.post(f"/v1/jobs/{job_id}/cancel")


def test_grpc_message_size_bound(auth_stack: Stack) -> None:
    spec = struct_pb2.Struct()
    spec.update({"type": "ReduceLROnPlateau"})
    request = schedules_pb2.EvaluateRequest(
        schedule=spec, base_lr=[0.1], steps=5, metrics=[0.5] * 20_000
    )
    with (
        grpc.insecure_channel(auth_stack.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        schedules_pb2_grpc.ScheduleServiceStub(channel).Evaluate(
            request, metadata=grpc_auth("carol")
        )
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_bad_follow_cursor_is_422(http: httpx.Client) -> None:
    job_id = http.post("/v1/jobs", json=JOB).json()["id"]
    error = _error(http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "x-y"}), 422)
    assert error["field"] == "Last-Event-ID"
    http.post(f"/v1/jobs/{job_id}/cancel")


def test_grpc_queries_have_the_same_shape_bounds(auth_stack: Stack) -> None:
    spec = struct_pb2.Struct()
    spec.update({"type": "MultiStepLR", "milestones": list(range(1001))})
    request = schedules_pb2.EvaluateRequest(schedule=spec, base_lr=[0.1], steps=5)
    with (
        grpc.insecure_channel(auth_stack.grpc_target) as channel,
        pytest.raises(grpc.RpcError) as caught,
    ):
        schedules_pb2_grpc.ScheduleServiceStub(channel).Evaluate(
            request, metadata=grpc_auth("carol")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1000" in (caught.value.details() or "")

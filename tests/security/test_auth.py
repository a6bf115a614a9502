"""Bearer-token auth on REST and gRPC, and tenant isolation: another tenant's job is 404 /
NOT_FOUND, never 403, on every route and method that names a job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2

from tests.processes import Stack
from tests.security.conftest import TOKENS, bearer, grpc_auth
from warmstep_client.v1 import (
    schedules_pb2,
    schedules_pb2_grpc,
    training_pb2,
    training_pb2_grpc,
    workers_pb2,
    workers_pb2_grpc,
)

JOB = {
    "model": {"name": "mlp"},
    "data": {"name": "digits"},
    "optimizer": {"type": "AdamW", "lr": 0.001},
    "schedule": {"type": "get_cosine_schedule_with_warmup"},
    "batch_size": 32,
    "epochs": 1,
}
EVALUATE = {"schedule": {"type": "StepLR", "step_size": 2}, "base_lr": 0.1, "steps": 5}


@pytest.fixture
def http(auth_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_stack.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def channel(auth_stack: Stack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(auth_stack.grpc_target) as opened:
        yield opened


@pytest.fixture
def alice_job(http: httpx.Client) -> Iterator[str]:
    answer = http.post("/v1/jobs", json=JOB, headers=bearer("alice"))
    assert answer.status_code == 201, answer.text
    job_id: str = answer.json()["id"]
    yield job_id
    http.post(f"/v1/jobs/{job_id}/cancel", headers=bearer("alice"))  # frees alice's queue


PROTECTED = [
    ("GET", "/v1/jobs", None),
    ("POST", "/v1/jobs", JOB),
    ("GET", "/v1/jobs/abc", None),
    ("POST", "/v1/jobs/abc/cancel", None),
    ("GET", "/v1/jobs/abc/events", None),
    ("GET", "/v1/jobs/abc/artifacts", None),
    ("GET", "/v1/jobs/abc/metrics", None),
    ("GET", "/v1/workers", None),
    ("POST", "/v1/schedules/evaluate", EVALUATE),
    ("GET", "/v1/schedules/kinds", None),
    ("GET", "/dashboard/api/progress?ids=abc", None),
    ("GET", "/metrics", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {TOKENS['alice']}"}],
    ids=["none", "unknown", "wrong-scheme"],
)
def test_rest_refuses_without_a_known_token(
    http: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    answer = http.request(method, path, json=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert TOKENS["alice"] not in answer.text


def test_open_routes_need_no_token(http: httpx.Client) -> None:
    assert http.get("/healthz").status_code == 200
    assert http.get("/readyz").status_code == 200
    assert http.get("/openapi.json").status_code == 200
    assert http.get("/dashboard/").status_code == 200  # the page asks the user for a token


def test_a_token_opens_the_routes(http: httpx.Client) -> None:
    assert http.post("/v1/schedules/evaluate", json=EVALUATE, headers=bearer("bob")).json()[
        "lr"
    ] == [[0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002]]
    assert http.get("/v1/workers", headers=bearer("bob")).status_code == 200
    assert http.get("/metrics", headers=bearer("bob")).status_code == 200


def test_an_answer_served_again_still_needs_a_token(http: httpx.Client) -> None:
    """Evaluate answers are kept for repeated bodies; the token is checked before that."""
    first = http.post("/v1/schedules/evaluate", json=EVALUATE, headers=bearer("bob"))
    assert first.status_code == 200
    again = http.post("/v1/schedules/evaluate", json=EVALUATE)
    assert again.status_code == 401
    assert http.post("/v1/schedules/evaluate", json=EVALUATE, headers=bearer("alice")).content == (
        first.content
    )


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("POST", "/cancel"),
        ("GET", "/events"),
        ("GET", "/artifacts"),
        ("GET", "/artifacts/model"),
        ("GET", "/metrics"),
    ],
)
def test_another_tenants_job_is_not_found(
    http: httpx.Client, alice_job: str, method: str, suffix: str
) -> None:
    answer = http.request(method, f"/v1/jobs/{alice_job}{suffix}", headers=bearer("bob"))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_lists_and_progress_show_only_own_jobs(http: httpx.Client, alice_job: str) -> None:
    mine = http.get("/v1/jobs", headers=bearer("alice")).json()["jobs"]
    theirs = http.get("/v1/jobs", headers=bearer("bob")).json()["jobs"]
    assert alice_job in {j["id"] for j in mine}
    assert alice_job not in {j["id"] for j in theirs}
    progress = http.get(f"/dashboard/api/progress?ids={alice_job}", headers=bearer("bob"))
    assert progress.json() == {"progress": {alice_job: None}}
    assert http.get(f"/v1/jobs/{alice_job}", headers=bearer("alice")).status_code == 200


def test_idempotency_keys_are_per_tenant(http: httpx.Client) -> None:
    key = {"Idempotency-Key": "same-key"}
    first = http.post("/v1/jobs", json=JOB, headers=bearer("alice") | key)
    second = http.post("/v1/jobs", json=JOB, headers=bearer("bob") | key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    http.post(f"/v1/jobs/{first.json()['id']}/cancel", headers=bearer("alice"))
    http.post(f"/v1/jobs/{second.json()['id']}/cancel", headers=bearer("bob"))


def test_events_accept_an_access_token_query_parameter(http: httpx.Client, alice_job: str) -> None:
    """EventSource cannot send headers: the events route alone takes ``?access_token=``."""
    url = f"/v1/jobs/{alice_job}/events?access_token={TOKENS['alice']}"
    with http.stream("GET", url) as answer:
        assert answer.status_code == 200
        first = next(answer.iter_lines())
        assert first.startswith(("id:", ":"))
    refused = http.get(f"/v1/jobs/{alice_job}/events?access_token={TOKENS['bob']}")
    assert refused.status_code == 404
    elsewhere = http.get(f"/v1/jobs/{alice_job}?access_token={TOKENS['alice']}")
    assert elsewhere.status_code == 401


def _grpc_calls(channel: grpc.Channel, job_id: str) -> list[tuple[str, Any]]:
    schedules = schedules_pb2_grpc.ScheduleServiceStub(channel)
    training = training_pb2_grpc.TrainingServiceStub(channel)
    workers = workers_pb2_grpc.WorkerServiceStub(channel)
    spec = struct_pb2.Struct()
    spec.update({"type": "StepLR", "step_size": 2})
    job_spec = struct_pb2.Struct()
    job_spec.update(JOB)
    evaluate = schedules_pb2.EvaluateRequest(schedule=spec, base_lr=[0.1], steps=5)
    return [
        ("Evaluate", lambda md: schedules.Evaluate(evaluate, metadata=md)),
        ("StreamEvaluate", lambda md: list(schedules.StreamEvaluate(evaluate, metadata=md))),
        (
            "ListKinds",
            lambda md: schedules.ListKinds(schedules_pb2.ListKindsRequest(), metadata=md),
        ),
        ("Plan", lambda md: schedules.Plan(schedules_pb2.PlanRequest(), metadata=md)),
        (
            "SubmitJob",
            lambda md: training.SubmitJob(
                training_pb2.SubmitJobRequest(spec=job_spec), metadata=md
            ),
        ),
        (
            "GetJob",
            lambda md: training.GetJob(training_pb2.GetJobRequest(job_id=job_id), metadata=md),
        ),
        ("ListJobs", lambda md: training.ListJobs(training_pb2.ListJobsRequest(), metadata=md)),
        (
            "CancelJob",
            lambda md: training.CancelJob(
                training_pb2.CancelJobRequest(job_id=job_id), metadata=md
            ),
        ),
        (
            "FollowJob",
            lambda md: next(
                iter(training.FollowJob(training_pb2.FollowJobRequest(job_id=job_id), metadata=md))
            ),
        ),
        (
            "ListWorkers",
            lambda md: workers.ListWorkers(workers_pb2.ListWorkersRequest(), metadata=md),
        ),
    ]


@pytest.mark.parametrize(
    "metadata", [(), (("authorization", "Bearer nope"),)], ids=["none", "unknown"]
)
def test_grpc_refuses_every_method_without_a_known_token(
    channel: grpc.Channel, alice_job: str, metadata: tuple[tuple[str, str], ...]
) -> None:
    for name, call in _grpc_calls(channel, alice_job):
        with pytest.raises(grpc.RpcError) as caught:
            call(metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, name


def test_grpc_health_needs_no_token(channel: grpc.Channel) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_grpc_tenant_isolation(channel: grpc.Channel, alice_job: str) -> None:
    training = training_pb2_grpc.TrainingServiceStub(channel)
    for call in (
        lambda: training.GetJob(
            training_pb2.GetJobRequest(job_id=alice_job), metadata=grpc_auth("bob")
        ),
        lambda: training.CancelJob(
            training_pb2.CancelJobRequest(job_id=alice_job), metadata=grpc_auth("bob")
        ),
        lambda: next(
            iter(
                training.FollowJob(
                    training_pb2.FollowJobRequest(job_id=alice_job), metadata=grpc_auth("bob")
                )
            )
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    listed = training.ListJobs(training_pb2.ListJobsRequest(), metadata=grpc_auth("bob"))
    assert alice_job not in {j.id for j in listed.jobs}
    own = training.GetJob(training_pb2.GetJobRequest(job_id=alice_job), metadata=grpc_auth("alice"))
    assert own.id == alice_job


def test_no_secret_in_logs(http: httpx.Client, auth_stack: Stack, alice_job: str) -> None:
    """Tokens sent good and bad, in headers and in the query, never reach the front end's log."""
    http.get("/v1/jobs", headers={"Authorization": "Bearer leaked-guess-123"})
    http.get(f"/v1/jobs/{alice_job}/events?access_token=leaked-guess-456")
    http.get(f"/v1/jobs/{alice_job}", headers=bearer("alice"))
    logs = "".join(p.read_text(errors="replace") for p in auth_stack.log_dir.glob("front-*.log"))
    assert "auth on" in logs  # the banner is there: the log is the right one
    for secret in [*TOKENS.values(), "leaked-guess-123", "leaked-guess-456"]:
        assert secret not in logs

"""TrainingService over gRPC behaves as the REST routes do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.e2e.test_jobs import DIGITS_MLP
from tests.processes import Stack
from warmstep_client import WarmstepGrpcClient
from warmstep_client.v1 import training_pb2


@pytest.fixture
def rpc(stack: Stack) -> Iterator[WarmstepGrpcClient]:
    with WarmstepGrpcClient(stack.grpc_target) as client:
        yield client


def test_submit_follow_get_list_over_grpc(rpc: WarmstepGrpcClient) -> None:
    label = uuid.uuid4().hex[:8]
    job = rpc.submit({**DIGITS_MLP, "max_steps": 5, "labels": {"grpc": label}})
    assert job["status"] == "queued" and job["totals"]["total_updates"] == "5"
    events = list(rpc.follow(job["id"]))
    steps = [e for e in events if e.type == "step"]
    assert [int(e.data["step"]) for e in steps] == [0, 1, 2, 3, 4]
    assert events[-1].type == "status" and events[-1].data["status"] == "succeeded"
    resumed = list(rpc.follow(job["id"], cursor=steps[2].id))
    assert [e.id for e in resumed] == [e.id for e in events if e.id > steps[2].id]
    final = rpc.training.GetJob(training_pb2.GetJobRequest(job_id=job["id"]))
    assert final.status == "succeeded" and final.result["steps"] == 5
    listed = rpc.training.ListJobs(training_pb2.ListJobsRequest(label=f"grpc={label}"))
    assert [j.id for j in listed.jobs] == [job["id"]]
    with pytest.raises(grpc.RpcError) as refused:
        rpc.training.CancelJob(training_pb2.CancelJobRequest(job_id=job["id"]))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_bad_spec_and_unknown_job_over_grpc(rpc: WarmstepGrpcClient) -> None:
    spec = struct_pb2.Struct()
    spec.update({**DIGITS_MLP, "batch_size": 0})
    with pytest.raises(grpc.RpcError) as refused:
        rpc.training.SubmitJob(training_pb2.SubmitJobRequest(spec=spec))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(refused.value.trailing_metadata() or ())["warmstep-field"] == "batch_size"
    with pytest.raises(grpc.RpcError) as missing:
        rpc.training.GetJob(training_pb2.GetJobRequest(job_id="nope"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_idempotency_key_over_grpc(rpc: WarmstepGrpcClient) -> None:
    key = uuid.uuid4().hex
    first = rpc.submit({**DIGITS_MLP, "max_steps": 1}, idempotency_key=key)
    again = rpc.submit({**DIGITS_MLP, "max_steps": 1}, idempotency_key=key)
    assert first["id"] == again["id"]
    list(rpc.follow(first["id"]))

"""Schedule queries over REST and gRPC against a running front end."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from google.protobuf import struct_pb2

from tests.processes import Stack
from warmstep_client.v1 import schedules_pb2, schedules_pb2_grpc

SPECS: list[tuple[dict[str, Any], float | list[float] | None, int]] = [
    ({"type": "CosineAnnealingLR", "T_max": 50, "eta_min": 0.001}, [0.1, 0.01], 120),
    ({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 100}, 0.1, 100),
    (
        {
            "type": "get_cosine_schedule_with_warmup",
            "num_warmup_steps": 10,
            "num_training_steps": 100,
        },
        0.5,
        130,
    ),
    (
        {
            "type": "SequentialLR",
            "milestones": [5],
            "schedulers": [
                {"type": "LinearLR", "start_factor": 0.1, "total_iters": 5},
                {"type": "ExponentialLR", "gamma": 0.9},
            ],
        },
        1.0,
        40,
    ),
    (
        {"type": "CosineLRScheduler", "t_initial": 30, "warmup_t": 5, "warmup_lr_init": 1e-5},
        0.1,
        60,
    ),
    ({"type": "CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 50}, None, 60),
    (
        {
            "type": "warmup_cosine_decay_schedule",
            "init_value": 0.0,
            "peak_value": 1.0,
            "warmup_steps": 5,
            "decay_steps": 40,
        },
        None,
        50,
    ),
    ({"type": "LambdaLR", "lr_lambda": "step / 10 if step < 10 else 0.95 ** (step - 10)"}, 0.1, 40),
    ({"type": "ReduceLROnPlateau", "patience": 1}, 0.1, 6),
]
METRICS = [1.0, 0.9, 0.95, 0.97, 0.99, 0.5]


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        yield client


@pytest.fixture
def stub(stack: Stack) -> Iterator[schedules_pb2_grpc.ScheduleServiceStub]:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        yield schedules_pb2_grpc.ScheduleServiceStub(channel)


def grpc_request(
    spec: dict[str, Any],
    base_lr: float | list[float] | None,
    steps: int,
    metrics: list[float] | None = None,
    **extra: Any,
) -> schedules_pb2.EvaluateRequest:
    schedule = struct_pb2.Struct()
    schedule.update(spec)
    lrs = [] if base_lr is None else base_lr if isinstance(base_lr, list) else [base_lr]
    if metrics is None:
        metrics = METRICS if spec["type"] == "ReduceLROnPlateau" else []
    return schedules_pb2.EvaluateRequest(
        schedule=schedule, base_lr=lrs, steps=steps, metrics=metrics, **extra
    )


def rest_body(
    spec: dict[str, Any], base_lr: float | list[float] | None, steps: int
) -> dict[str, Any]:
    metrics = METRICS if spec["type"] == "ReduceLROnPlateau" else None
    return {"schedule": spec, "base_lr": base_lr, "steps": steps, "metrics": metrics}


@pytest.mark.parametrize(("spec", "base_lr", "steps"), SPECS, ids=[s[0]["type"] for s in SPECS])
def test_rest_and_grpc_answer_the_same(
    http: httpx.Client,
    stub: schedules_pb2_grpc.ScheduleServiceStub,
    spec: dict[str, Any],
    base_lr: float | list[float] | None,
    steps: int,
) -> None:
    rest = http.post("/v1/schedules/evaluate", json=rest_body(spec, base_lr, steps))
    assert rest.status_code == 200, rest.text
    body = rest.json()
    answer = stub.Evaluate(grpc_request(spec, base_lr, steps))
    assert answer.steps == body["steps"] == steps
    assert [list(s.values) for s in answer.lr] == body["lr"]
    if body["momentum"] is None:
        assert len(answer.momentum) == 0
    else:
        assert [list(s.values) for s in answer.momentum] == body["momentum"]
    chunks = list(stub.StreamEvaluate(grpc_request(spec, base_lr, steps, chunk_steps=7)))
    assert [c.offset for c in chunks] == list(range(0, steps, 7))
    joined = np.concatenate([[list(s.values) for s in c.lr] for c in chunks], axis=1)
    assert joined.tolist() == body["lr"]


def test_csv_binary_and_json_hold_the_same_values(http: httpx.Client) -> None:
    body = rest_body({"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 50}, [0.1, 0.2], 50)
    as_json = http.post("/v1/schedules/evaluate", json=body).json()
    raw = http.post(
        "/v1/schedules/evaluate", json=body, headers={"Accept": "application/octet-stream"}
    )
    assert raw.headers["X-Warmstep-Shape"] == "2,50"
    assert raw.headers["X-Warmstep-Momentum"] == "1"
    values = np.frombuffer(raw.content, "<f8")
    assert values[:100].reshape(2, 50).tolist() == as_json["lr"]
    assert values[100:].reshape(2, 50).tolist() == as_json["momentum"]
    text = http.post("/v1/schedules/evaluate", json=body, headers={"Accept": "text/csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 50
    assert [float(r["lr_1"]) for r in rows] == as_json["lr"][1]
    assert [float(r["momentum_0"]) for r in rows] == as_json["momentum"][0]


def test_downsampled_answer_keeps_every_bucket_extreme(http: httpx.Client) -> None:
    spec = {"type": "CosineAnnealingWarmRestarts", "T_0": 997}
    full = http.post("/v1/schedules/evaluate", json=rest_body(spec, 0.1, 100_000)).json()
    small = http.post(
        "/v1/schedules/evaluate", json={**rest_body(spec, 0.1, 100_000), "points": 200}
    ).json()
    index, lr = np.array(small["index"]), np.array(small["lr"][0])
    reference = np.array(full["lr"][0])
    assert len(index) <= 2 * 200 + 2
    assert index[0] == 0 and index[-1] == 99_999
    np.testing.assert_array_equal(lr, reference[index])
    width = -(-100_000 // 200)
    for start in range(0, 100_000, width):
        bucket = reference[start : start + width]
        inside = lr[(index >= start) & (index < start + width)]
        assert inside.max() == bucket.max() and inside.min() == bucket.min()


def test_downsampled_json_with_several_groups_and_momentum(http: httpx.Client) -> None:
    spec = {"type": "OneCycleLR", "max_lr": [0.1, 0.05], "total_steps": 5000}
    body = {**rest_body(spec, [0.1, 0.05], 5000), "points": 100}
    answer = http.post("/v1/schedules/evaluate", json=body)
    assert answer.status_code == 200, answer.text
    small = answer.json()
    full = http.post("/v1/schedules/evaluate", json=rest_body(spec, [0.1, 0.05], 5000)).json()
    index = small["index"]
    assert np.array(small["lr"]).shape == (2, len(index))
    assert small["lr"][1] == [full["lr"][1][i] for i in index]
    assert small["momentum"][0] == [full["momentum"][0][i] for i in index]


def test_kinds_catalog_describes_every_library(http: httpx.Client) -> None:
    kinds = http.get("/v1/schedules/kinds").json()["kinds"]
    libraries = {k["library"] for k in kinds}
    assert {
        "torch",
        "transformers",
        "pytorch_transformers",
        "timm",
        "keras",
        "optax",
        "fvcore",
        "detectron2",
        "maskrcnn_benchmark",
        "mxnet",
        "fairseq",
        "tensorflow",
        "warmstep",
    } <= libraries
    by_name = {(k["library"], k["name"]): k for k in kinds}
    onecycle = by_name[("torch", "OneCycleLR")]
    assert onecycle["cycles_momentum"] and not onecycle["needs_base_lr"]
    assert onecycle["parameters"]["properties"]["pct_start"]["default"] == 0.3
    assert by_name[("torch", "ReduceLROnPlateau")]["takes_metrics"]
    assert by_name[("torch", "StepLR")]["needs_base_lr"]
    only_keras = http.get("/v1/schedules/kinds", params={"library": "keras"}).json()["kinds"]
    assert only_keras and {k["library"] for k in only_keras} == {"keras"}


def test_plan_over_rest_and_grpc(
    http: httpx.Client, stub: schedules_pb2_grpc.ScheduleServiceStub
) -> None:
    body = {
        "examples": 1000,
        "batch_size": 32,
        "gradient_accumulation_steps": 4,
        "epochs": 3,
        "warmup_ratio": 0.1,
    }
    rest = http.post("/v1/schedules/plan", json=body).json()
    assert (rest["updates_per_epoch"], rest["total_updates"], rest["warmup_steps"]) == (8, 24, 3)
    answer = stub.Plan(schedules_pb2.PlanRequest(**body))
    assert answer.plan["total_updates"] == 24 and answer.plan["warmup_steps"] == 3


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        (
            {"schedule": {"type": "CosineAnealingLR", "T_max": 3}, "base_lr": 0.1, "steps": 5},
            "schedule.type",
            "CosineAnnealingLR",
        ),
        ({"schedule": {"type": "StepLR"}, "base_lr": 0.1, "steps": 5}, "schedule.step_size", ""),
        (
            {
                "schedule": {"type": "StepLR", "step_size": 2, "gama": 0.5},
                "base_lr": 0.1,
                "steps": 5,
            },
            "schedule.gama",
            "unknown",
        ),
        (
            {"schedule": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}, "steps": 20},
            "schedule.total_steps",
            "",
        ),
        (
            {
                "schedule": {"type": "ConstantLR", "factor": 0.0, "total_iters": 3},
                "base_lr": 0.1,
                "steps": 10,
            },
            "schedule.factor",
            "",
        ),
        ({"schedule": {"type": "StepLR", "step_size": 2}, "steps": 5}, "base_lr", ""),
        (
            {"schedule": {"type": "StepLR", "step_size": 2}, "base_lr": 0.1, "steps": 10_000_001},
            "steps",
            "10000000",
        ),
        (
            {
                "schedule": {"type": "LambdaLR", "lr_lambda": "().__class__"},
                "base_lr": 0.1,
                "steps": 5,
            },
            "schedule.lr_lambda",
            "",
        ),
        ({"schedule": {"type": "ReduceLROnPlateau"}, "base_lr": 0.1, "steps": 5}, "metrics", ""),
        ({"schedule": {"type": "StepLR", "step_size": 2}, "base_lr": 0.1, "steps": 0}, "steps", ""),
    ],
)
def test_bad_input_is_a_clear_422_naming_the_field(
    http: httpx.Client,
    stub: schedules_pb2_grpc.ScheduleServiceStub,
    body: dict[str, Any],
    field: str,
    text: str,
) -> None:
    answer = http.post("/v1/schedules/evaluate", json=body)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_argument" and error["field"] == field
    assert text in error["message"]
    with pytest.raises(grpc.RpcError) as refused:
        stub.Evaluate(grpc_request(body["schedule"], body.get("base_lr"), body["steps"], []))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(refused.value.trailing_metadata() or ())["warmstep-field"] in (field, "metrics")


def test_nesting_depth_is_bounded(http: httpx.Client) -> None:
    spec: dict[str, Any] = {"type": "ExponentialLR", "gamma": 0.9}
    for _ in range(20):
        spec = {"type": "ChainedScheduler", "schedulers": [spec]}
    answer = http.post(
        "/v1/schedules/evaluate", json={"schedule": spec, "base_lr": 0.1, "steps": 3}
    )
    assert answer.status_code == 422
    assert "nest" in answer.json()["error"]["message"]


def test_malformed_json_is_422_not_500(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/schedules/evaluate", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422

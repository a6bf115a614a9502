"""The gRPC counterpart of the schemathesis run: malformed bytes and random, out-of-range
messages (built from each method's descriptor) sent to every method of every warmstep service.
No call may end in INTERNAL or UNKNOWN (an unhandled server error) or hang, and the server must
stay healthy. ``WARMSTEP_FUZZ_EXAMPLES`` raises the example count (``make fuzz``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor, struct_pb2
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.processes import Stack
from tests.security.conftest import grpc_auth
from warmstep_client.v1 import schedules_pb2, training_pb2, workers_pb2

EXAMPLES = int(os.environ.get("WARMSTEP_FUZZ_EXAMPLES", "25"))
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}
CALL_TIMEOUT_S = 30.0  # a hang bound, not a speed assertion
FD = descriptor.FieldDescriptor

METHODS = [
    method
    for module, service in (
        (schedules_pb2, "ScheduleService"),
        (training_pb2, "TrainingService"),
        (workers_pb2, "WorkerService"),
    )
    for method in module.DESCRIPTOR.services_by_name[service].methods
]

_INTS = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
}
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**60), 2**60).map(float)
    | st.text(max_size=20)
    | st.sampled_from(["StepLR", "OneCycleLR", "LambdaLR", "SequentialLR", "mlp", "digits"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
struct_dicts = st.dictionaries(
    st.sampled_from(["type", "T_max", "step_size", "milestones", "schedulers", "lr_lambda",
                     "model", "data", "optimizer", "schedule", "batch_size", "epochs", "x"])
    | st.text(max_size=10),
    json_values,
    max_size=6,
)  # fmt: skip


def _scalar(field: descriptor.FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type in _INTS:
        low, high = _INTS[field.type]
        return st.integers(low, high) | st.sampled_from([0, 1, -1, low, high])
    if field.type in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
        return st.floats(width=64 if field.type == FD.TYPE_DOUBLE else 32)
    if field.type == FD.TYPE_BOOL:
        return st.booleans()
    if field.type == FD.TYPE_STRING:
        return st.text(max_size=40) | st.sampled_from(
            ["0-0", "x" * 5000, "../..", "1-1", "9" * 20, "-5", "18446744073709551615-0"]
        )
    if field.type == FD.TYPE_BYTES:
        return st.binary(max_size=40)
    if field.type == FD.TYPE_ENUM:
        return st.sampled_from([v.number for v in field.enum_type.values])
    raise AssertionError(f"no strategy for {field.full_name}")


def _field(field: descriptor.FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if field.type == FD.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Struct":
            one: st.SearchStrategy[Any] = struct_dicts.map(_struct)
        elif depth > 2:
            one = st.just(None)
        else:
            one = messages(field.message_type, depth + 1)
    else:
        one = _scalar(field)
    if field.is_repeated:
        return st.lists(one, max_size=5)
    return one


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def messages(message: descriptor.Descriptor, depth: int = 0) -> st.SearchStrategy[Any]:
    cls = _class(message)
    fields = {f.name: _field(f, depth) for f in message.fields}

    def build(values: dict[str, Any]) -> Message:
        out = cls()
        for name, value in values.items():
            field = message.fields_by_name[name]
            if value is None:
                continue
            if field.is_repeated:
                if field.type == FD.TYPE_MESSAGE:
                    getattr(out, name).extend([v for v in value if v is not None])
                else:
                    getattr(out, name).extend(value)
            elif field.type == FD.TYPE_MESSAGE:
                getattr(out, name).CopyFrom(value)
            else:
                setattr(out, name, value)
        return out

    return st.fixed_dictionaries({}, optional=fields).map(build)


def _class(message: descriptor.Descriptor) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(message)


def _call(channel: grpc.Channel, method: descriptor.MethodDescriptor, payload: bytes) -> None:
    path = f"/{method.containing_service.full_name}/{method.name}"
    options: dict[str, Any] = {"metadata": grpc_auth("fuzz"), "timeout": CALL_TIMEOUT_S}
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path)(payload, **options)
            for count, _ in enumerate(stream):
                if count >= 3:
                    stream.cancel()
                    break
        else:
            channel.unary_unary(path)(payload, **options)
    except grpc.RpcError as exc:
        code = exc.code()
        if code == grpc.StatusCode.CANCELLED:
            return
        assert code not in FORBIDDEN, f"{method.name}: {code} {exc.details()}"


@pytest.fixture(scope="module")
def channel(auth_stack: Stack) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(auth_stack.grpc_target) as opened:
        yield opened
    with grpc.insecure_channel(auth_stack.grpc_target) as fresh:
        answer = health_pb2_grpc.HealthStub(fresh).Check(health_pb2.HealthCheckRequest())
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert auth_stack.front is not None and auth_stack.front.poll() is None


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
@FUZZ
@given(data=st.data())
def test_random_messages(channel: grpc.Channel, method: Any, data: st.DataObject) -> None:
    message = data.draw(messages(method.input_type))
    _call(channel, method, message.SerializeToString())


@pytest.mark.parametrize("method", METHODS, ids=[m.name for m in METHODS])
@FUZZ
@given(payload=st.binary(max_size=200) | st.sampled_from([b"\xff" * 20, b"\x0a\xff\xff\xff"]))
def test_malformed_bytes(channel: grpc.Channel, method: Any, payload: bytes) -> None:
    _call(channel, method, payload)


def test_the_fuzz_path_reaches_the_methods(channel: grpc.Channel) -> None:
    """Guards the fuzz tests against testing nothing: the raw path authenticates and a valid
    message is answered, an out-of-range one refused as INVALID_ARGUMENT."""
    path = "/warmstep.v1.ScheduleService/Evaluate"
    options: dict[str, Any] = {"metadata": grpc_auth("fuzz"), "timeout": CALL_TIMEOUT_S}
    good = schedules_pb2.EvaluateRequest(schedule=_struct({"type": "ExponentialLR", "gamma": 0.5}))
    good.base_lr.append(1.0)
    good.steps = 3
    raw = channel.unary_unary(path)(good.SerializeToString(), **options)
    answer = schedules_pb2.EvaluateResponse.FromString(raw)
    assert list(answer.lr[0].values) == [1.0, 0.5, 0.25]
    good.steps = -1
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(path)(good.SerializeToString(), **options)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary(path)(b"\xff\xff", **options)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

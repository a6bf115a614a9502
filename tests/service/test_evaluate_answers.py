"""Repeated evaluate bodies are answered from the answer cache with the very same bytes, per
media type; refused bodies are refused every time; the cache stays within its bounds. gRPC's raw
series carry exactly the packed values."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import httpx
import numpy as np
import pytest
from google.protobuf import struct_pb2

from service.answer_cache import AnswerCache, CachedAnswer
from tests.processes import Stack
from warmstep.errors import InvalidArgument
from warmstep.queries import _canonical, resolve_cached
from warmstep_client import WarmstepGrpcClient
from warmstep_client.grpc_client import series_array
from warmstep_client.v1 import schedules_pb2, schedules_pb2_grpc

BODY = {
    "schedule": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 300},
    "base_lr": [0.1, 0.05],
    "steps": 300,
}
MEDIA = ("application/json", "text/csv", "application/octet-stream")


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        yield client


def _post(http: httpx.Client, body: dict[str, object], accept: str) -> httpx.Response:
    return http.post(
        "/v1/schedules/evaluate",
        content=json.dumps(body).encode(),
        headers={"Accept": accept, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize("accept", MEDIA)
def test_a_repeated_body_gets_the_same_answer(http: httpx.Client, accept: str) -> None:
    first, second = _post(http, BODY, accept), _post(http, BODY, accept)
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    shape = {k: v for k, v in first.headers.items() if k.startswith("x-warmstep")}
    assert {k: v for k, v in second.headers.items() if k.startswith("x-warmstep")} == shape
    if accept == "application/octet-stream":
        assert shape["x-warmstep-shape"] == "2,300" and shape["x-warmstep-momentum"] == "1"
        assert len(second.content) == 2 * 2 * 300 * 8


def test_each_media_type_and_each_body_has_its_own_answer(http: httpx.Client) -> None:
    answers = {accept: _post(http, BODY, accept) for accept in MEDIA}
    assert answers["application/json"].headers["content-type"] == "application/json"
    assert answers["text/csv"].headers["content-type"].startswith("text/csv")
    lr = np.asarray(answers["application/json"].json()["lr"])
    binary = np.frombuffer(answers["application/octet-stream"].content, "<f8")
    np.testing.assert_array_equal(binary[: lr.size].reshape(lr.shape), lr)
    other = _post(http, BODY | {"steps": 200}, "application/json").json()
    assert other["steps"] == 200 and len(other["lr"][0]) == 200


def test_a_refused_body_is_refused_every_time(http: httpx.Client) -> None:
    bad = {"schedule": {"type": "StepLR", "step_size": 0}, "base_lr": 0.1, "steps": 5}
    for _ in range(2):
        answer = _post(http, bad, "application/json")
        assert answer.status_code == 422
        assert answer.json()["error"]["field"] == "schedule.step_size"


def _answer(size: int) -> CachedAnswer:
    return CachedAnswer(b"x" * size, "application/json", ())


def _put(cache: AnswerCache[CachedAnswer], media: str, body: bytes, size: int) -> None:
    cache.put((media, body), _answer(size), size)


JSON = "application/json"  # 16 characters: a key of it and a 1-byte body is 17 bytes


def test_cache_evicts_least_recently_used_within_its_bytes() -> None:
    cache = AnswerCache[CachedAnswer](max_bytes=1000, max_entry_bytes=600)
    for name in (b"a", b"b", b"c"):
        _put(cache, JSON, name, 283)  # 300 bytes each with the key
    assert len(cache) == 3 and cache.size_bytes == 900
    assert cache.get((JSON, b"a")) is not None  # a is now the most recent
    _put(cache, JSON, b"d", 283)
    assert cache.get((JSON, b"b")) is None  # least recently used went first
    assert cache.get((JSON, b"a")) is not None
    assert cache.size_bytes <= 1000
    assert cache.get(("text/csv", b"a")) is None  # the media type is part of the key


def test_cache_never_keeps_an_answer_over_the_entry_bound() -> None:
    cache = AnswerCache[CachedAnswer](max_bytes=10_000, max_entry_bytes=600)
    _put(cache, JSON, b"big", 700)
    assert len(cache) == 0 and cache.size_bytes == 0
    off = AnswerCache[CachedAnswer](max_bytes=0, max_entry_bytes=0)
    _put(off, JSON, b"a", 1)
    assert len(off) == 0


def test_replacing_an_entry_keeps_the_byte_count() -> None:
    cache = AnswerCache[CachedAnswer](max_bytes=1000, max_entry_bytes=1000)
    _put(cache, JSON, b"a", 100)
    _put(cache, JSON, b"a", 200)
    assert len(cache) == 1 and cache.size_bytes == 217


def test_resolved_specs_are_shared_by_equal_specs_only() -> None:
    one = resolve_cached({"type": "StepLR", "step_size": 3, "gamma": 0.5})
    assert resolve_cached({"gamma": 0.5, "step_size": 3, "type": "StepLR"}) is one
    other = resolve_cached({"type": "StepLR", "step_size": 4, "gamma": 0.5})
    assert other is not one
    for _ in range(2):
        with pytest.raises(InvalidArgument) as refused:
            resolve_cached({"type": "StepLR", "step_size": 3, "bogus": 1})
        assert refused.value.field == "schedule.bogus"


@pytest.mark.parametrize(
    "values",
    [
        (1, 1.0, True),  # ints, floats and booleans are different arguments
        (float("nan"), None),  # orjson writes both as null: the standard library tells them apart
        (float("inf"), float("-inf"), None),
        (2**70, 2**70 + 1),  # past orjson's 64 bits
    ],
    ids=["int-float-bool", "nan-null", "infinities", "big-ints"],
)
def test_resolved_specs_keep_apart_what_json_keeps_apart(values: tuple[object, ...]) -> None:
    """Different arguments get different keys, whichever encoder writes them; equal specs
    (keys in another order) the same key."""
    keys = [_canonical({"type": "StepLR", "gamma": value}) for value in values]
    assert None not in keys and len(set(keys)) == len(values)
    assert [_canonical({"gamma": value, "type": "StepLR"}) for value in values] == keys


def test_a_spec_only_the_standard_library_writes_is_remembered_too() -> None:
    spec = {"type": "StepLR", "step_size": 2**70, "gamma": 0.5}
    assert isinstance(_canonical(spec), str)
    assert resolve_cached(dict(spec)) is resolve_cached(dict(spec))


def _grpc_request(raw: bool, chunk_steps: int = 0) -> schedules_pb2.EvaluateRequest:
    schedule = struct_pb2.Struct()
    schedule.update(BODY["schedule"])  # type: ignore[arg-type]
    return schedules_pb2.EvaluateRequest(
        schedule=schedule, base_lr=[0.1, 0.05], steps=300, raw=raw, chunk_steps=chunk_steps
    )


def test_grpc_raw_series_are_the_values_as_little_endian_float64(stack: Stack) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = schedules_pb2_grpc.ScheduleServiceStub(channel)
        values = stub.Evaluate(_grpc_request(raw=False))
        raw = stub.Evaluate(_grpc_request(raw=True))
        assert stub.Evaluate(_grpc_request(raw=True)) == raw  # served again, the same
        chunks = list(stub.StreamEvaluate(_grpc_request(raw=True, chunk_steps=128)))
    assert all(not s.raw for s in values.lr) and all(not s.values for s in raw.lr)
    for plain, packed in ((values.lr, raw.lr), (values.momentum, raw.momentum)):
        expected = np.array([list(s.values) for s in plain])
        assert expected.shape == (2, 300)
        np.testing.assert_array_equal(series_array(packed), expected)
        np.testing.assert_array_equal(series_array(plain), expected)
    streamed = np.concatenate([series_array(c.lr) for c in chunks], axis=1)
    assert [c.offset for c in chunks] == [0, 128, 256]
    np.testing.assert_array_equal(streamed, series_array(values.lr))
    with WarmstepGrpcClient(stack.grpc_target) as client:
        curve = client.evaluate(BODY["schedule"], 300, base_lr=[0.1, 0.05])  # type: ignore[arg-type]
    np.testing.assert_array_equal(curve.lr, series_array(values.lr))
    assert curve.momentum is not None
    np.testing.assert_array_equal(curve.momentum, series_array(values.momentum))


@pytest.mark.parametrize("size", [0, 1, 15, 16, 200_003])  # lengths of 1-3 varint bytes
def test_packed_series_are_the_message_protobuf_builds_from_the_floats(size: int) -> None:
    from service.grpc.schedules import _series

    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, 0.1]
    values = np.resize(np.array(special), size)
    values[len(special) :] *= np.linspace(0.5, 1.0, max(size - len(special), 0))
    block = np.stack([values, values[::-1]])
    built = _series(block, raw=False)
    expected = [schedules_pb2.Series(values=row.tolist()) for row in block]
    assert [s.SerializeToString() for s in built] == [s.SerializeToString() for s in expected]
    for series, row in zip(built, block, strict=True):
        assert np.asarray(series.values).tobytes() == row.tobytes()  # NaN, -0.0 kept as they are

"""schemathesis against the running front end's ``/openapi.json`` (auth on, small bounds): every
operation gets generated requests; none may answer 5xx, and every answer must match the
documented status codes, content types and schemas. A bounded count here;
``WARMSTEP_FUZZ_EXAMPLES`` raises it (``make fuzz``).

The operations are listed from the app built in-process (at collection, no server needed) and
driven through hypothesis directly: schemathesis's own pytest plugin does not load under pytest
9 (``'Function' object has no attribute '_nodeid'``)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis.asyncio as aioredis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import build_app
from tests.processes import Stack
from tests.security.conftest import bearer
from warmstep.config import Settings

EXAMPLES = int(os.environ.get("WARMSTEP_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations() -> list[tuple[str, str]]:
    document = build_app(Settings(), aioredis.Redis(), aioredis.Redis()).openapi()
    return [
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    ]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def api_schema(auth_stack: Stack) -> Any:
    return schemathesis.openapi.from_url(f"{auth_stack.base_url}/openapi.json")


def test_every_operation_is_fuzzed() -> None:
    assert ("/v1/schedules/evaluate", "POST") in OPERATIONS and len(OPERATIONS) >= 10


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_api(api_schema: Any, auth_stack: Stack, path: str, method: str, data: Any) -> None:
    operation = api_schema[path][method]
    case = data.draw(operation.as_strategy())
    case.call_and_validate(
        base_url=auth_stack.base_url, headers=bearer("fuzz"), checks=CHECKS, timeout=30
    )


HOSTILE_STRINGS = [
    "().__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('true')",
    "10**10**10",
    "(" * 150 + "step" + ")" * 150,
    "step ** step ** step",
    "1e999999 * step",
    "math.exp(step * 1e6)",
    "cos",
    "linear",
    "min",
    "",
]
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats()
    | st.sampled_from(HOSTILE_STRINGS)
)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4), max_leaves=8)


@pytest.fixture(scope="module")
def kinds(auth_stack: Stack) -> list[dict[str, Any]]:
    import httpx

    answer = httpx.get(f"{auth_stack.base_url}/v1/schedules/kinds", headers=bearer("fuzz"))
    found: list[dict[str, Any]] = answer.json()["kinds"]
    return found


@settings(max_examples=EXAMPLES * 10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_evaluate_real_kinds_with_hostile_arguments(
    auth_stack: Stack, kinds: list[dict[str, Any]], data: Any
) -> None:
    """Random arguments (by the kind's own parameter names) to every kind: 200 or 422 naming a
    field, never a 5xx: the engine's errors all surface as InvalidArgument."""
    import httpx

    kind = data.draw(st.sampled_from(kinds))
    names = sorted(kind["parameters"].get("properties", {}))
    arguments = data.draw(st.dictionaries(st.sampled_from(names or ["x"]), json_values))
    body = {
        "schedule": {"type": kind["name"], "library": kind["library"], **arguments},
        "base_lr": data.draw(st.sampled_from([0.1, [0.1, 0.01], None])),
        "steps": data.draw(st.integers(1, 2000)),
        "metrics": data.draw(st.none() | st.lists(st.floats(), max_size=20)),
    }
    answer = httpx.post(
        f"{auth_stack.base_url}/v1/schedules/evaluate",
        content=_dumps(body),
        headers=bearer("fuzz") | {"Content-Type": "application/json"},
        timeout=60,
    )
    assert answer.status_code in (200, 422), (body, answer.text)
    if answer.status_code == 422:
        assert answer.json()["error"]["message"]


def _dumps(body: Any) -> bytes:
    """JSON with NaN and Infinity as Python writes them (an attacker may send them too)."""
    import json

    return json.dumps(body).encode()

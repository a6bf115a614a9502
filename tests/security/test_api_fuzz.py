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

"""The security settings and helpers in isolation: token table, constant-time lookup, refusals
that never echo a secret, the JSON shape bound, and /docs and /metrics exposure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.auth import (
    ANONYMOUS,
    auth_banner,
    bearer_token,
    hash_token,
    load_token_table,
    redact_url,
)
from service.bounds import check_shape
from service.main import build_app
from tests.processes import Stack
from warmstep.config import Settings
from warmstep.errors import InvalidArgument, Unauthenticated


def _settings(**values: object) -> Settings:
    return Settings.model_validate(values)


def test_tokens_resolve_to_tenants() -> None:
    table = load_token_table(_settings(auth_tokens={hash_token("t1"): "a", hash_token("t2"): "b"}))
    assert table.enabled
    assert (table.tenant_for("t1"), table.tenant_for("t2")) == ("a", "b")
    with pytest.raises(Unauthenticated) as caught:
        table.tenant_for("t3")
    assert "t3" not in str(caught.value)
    with pytest.raises(Unauthenticated):
        table.tenant_for(None)


def test_no_tokens_is_auth_off() -> None:
    table = load_token_table(_settings())
    assert not table.enabled and table.tenant_for(None) == ANONYMOUS
    assert "auth OFF" in auth_banner(table)


def test_tokens_file_is_merged(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({hash_token("from-file"): "filed"}))
    table = load_token_table(_settings(auth_tokens_file=path))
    assert table.tenant_for("from-file") == "filed"


def test_plain_tokens_are_refused_without_echo() -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(auth_tokens={"my-plain-secret": "a"})
    assert "my-plain-secret" not in str(caught.value)
    assert "sha256" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_redact_url() -> None:
    assert redact_url("redis://u:pw@h:6379/0") == "redis://u:***@h:6379/0"
    assert redact_url("redis://h:6379") == "redis://h:6379"


def test_shape_bound_is_iterative() -> None:
    """A hostile depth is refused by the walk itself, without recursing."""
    deep: object = 1
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidArgument, match="nested deeper than 32"):
        check_shape(deep, _settings(), "schedule")
    check_shape({"a": [1, 2, {"b": "c"}]}, _settings(), "schedule")


def test_docs_and_metrics_exposure_are_settings() -> None:
    redis = aioredis.Redis()  # never connected: these routes do not touch it
    closed = build_app(_settings(docs_enabled=False, metrics_enabled=False), redis, redis)
    with TestClient(closed) as client:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert client.get(path).status_code == 404, path
    opened = build_app(_settings(), redis, redis)
    with TestClient(opened) as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["components"]["securitySchemes"]


def test_the_front_end_says_when_auth_is_off(stack: Stack) -> None:
    logs = "".join(p.read_text(errors="replace") for p in stack.log_dir.glob("front-*.log"))
    assert "auth OFF" in logs

"""The evaluate endpoint in front of the framework answers every request as the documented
route behind it does: the same status, bytes and headers for answers and errors (access, bounds,
bad bodies, oversized bodies declared or streamed), other requests passed through, a client gone
before its body counted and not answered. Each side is its own app (its own answer cache) on a
real Redis; the front-end process serves the endpoint (every stack test goes through it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from starlette.types import ASGIApp, Message

from service.auth import hash_token
from service.main import build_app, served
from warmstep.config import Settings

PATH = "/v1/schedules/evaluate"
TOKEN = "endpoint-token-4b1d"
SMALL_BODY_BOUND = 2048
ONE_CYCLE = {
    "schedule": {"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 300},
    "base_lr": [0.1, 0.05],
    "steps": 300,
}
COSINE = {
    "schedule": {
        "type": "get_cosine_schedule_with_warmup",
        "num_warmup_steps": 10,
        "num_training_steps": 1000,
    },
    "base_lr": 0.1,
    "steps": 1000,
}


def _body(payload: dict[str, object]) -> bytes:
    return json.dumps({"base_lr": 0.1} | payload).encode()


# (name, body bytes or None for none, extra headers)
ANSWERS: list[tuple[str, bytes | None, dict[str, str]]] = [
    ("json", _body(ONE_CYCLE), {"Accept": "application/json"}),
    ("no accept", _body(COSINE), {}),
    ("csv", _body(ONE_CYCLE), {"Accept": "text/csv"}),
    ("binary", _body(ONE_CYCLE), {"Accept": "application/octet-stream"}),
    ("accept list", _body(COSINE), {"Accept": "text/csv, application/json;q=0.5"}),
    ("downsampled", _body(COSINE | {"points": 50}), {"Accept": "application/json"}),
    (
        "downsampled binary",
        _body(ONE_CYCLE | {"points": 40}),
        {"Accept": "application/octet-stream"},
    ),
    (
        "bad argument",
        _body({"schedule": {"type": "StepLR", "step_size": 0}, "base_lr": 0.1, "steps": 5}),
        {},
    ),
    ("unknown kind", _body({"schedule": {"type": "NoSuchLR"}, "steps": 5}), {}),
    ("steps over the bound", _body(COSINE | {"steps": 10**8}), {}),
    ("unknown field", _body(COSINE | {"stepz": 3}), {}),
    ("malformed json", b'{"schedule": {"type": ', {}),
    ("empty body", None, {}),
    ("declared too large", b"x" * (SMALL_BODY_BOUND + 1), {}),
]


def _settings(**overrides: Any) -> Settings:
    return Settings(max_body_bytes=SMALL_BODY_BOUND, **overrides)


def _apps(redis_url: str, settings: Settings) -> tuple[FastAPI, ASGIApp, list[aioredis.Redis]]:
    """The framework app alone, and the served app over another one."""
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(4)]
    framework = build_app(settings, clients[0], clients[1])
    return framework, served(build_app(settings, clients[2], clients[3])), clients


async def _both(
    redis_url: str,
    settings: Settings,
    ask: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
) -> tuple[httpx.Response, httpx.Response]:
    framework, endpoint, clients = _apps(redis_url, settings)
    answers = []
    for app in (framework, endpoint):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers.append(await ask(client))
    for opened in clients:
        await opened.aclose()
    return answers[0], answers[1]


def _assert_same(route: httpx.Response, endpoint: httpx.Response) -> None:
    assert endpoint.status_code == route.status_code
    assert endpoint.content == route.content
    assert sorted(endpoint.headers.multi_items()) == sorted(route.headers.multi_items())


@pytest.mark.parametrize(("name", "body", "headers"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_the_endpoint_answers_as_the_route(
    redis_url: str, name: str, body: bytes | None, headers: dict[str, str]
) -> None:
    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(PATH, content=body, headers=headers)

    route, endpoint = asyncio.run(_both(redis_url, _settings(), ask))
    _assert_same(route, endpoint)
    if name in {"json", "no accept", "csv", "accept list", "binary", "downsampled"}:
        assert endpoint.status_code == 200
    elif name == "downsampled binary":
        assert endpoint.status_code == 200
        assert endpoint.headers["x-warmstep-index"] == "1"
    elif name == "declared too large":
        assert endpoint.status_code == 413
        assert endpoint.headers["connection"] == "close"
    else:
        assert endpoint.status_code == 422, endpoint.text
        assert endpoint.json()["error"]["code"] == "invalid_argument"
    if name == "bad argument":
        assert endpoint.json()["error"]["field"] == "schedule.step_size"
    if name == "accept list":
        assert endpoint.headers["content-type"] == "text/csv; charset=utf-8"


def test_a_streamed_body_past_the_bound_is_refused_as_by_the_route(redis_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b" " * 1024  # no Content-Length: the bound is found while reading

    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(PATH, content=chunks())

    route, endpoint = asyncio.run(_both(redis_url, _settings(), ask))
    _assert_same(route, endpoint)
    assert endpoint.status_code == 413
    assert "max_body_bytes" in endpoint.json()["error"]["message"]


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), ("Bearer wrong-token", 401), ("Basic abc", 401), (f"Bearer {TOKEN}", 200)],
    ids=["no token", "unknown token", "other scheme", "known token"],
)
def test_access_is_checked_as_by_the_route(
    redis_url: str, authorization: str | None, status: int
) -> None:
    settings = _settings(auth_tokens={hash_token(TOKEN): "tenant"}, schedule_queries_open=False)
    headers = {} if authorization is None else {"Authorization": authorization}

    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(PATH, content=_body(COSINE), headers=headers)

    route, endpoint = asyncio.run(_both(redis_url, settings, ask))
    _assert_same(route, endpoint)
    assert endpoint.status_code == status


def test_a_repeated_body_is_answered_from_the_cache_with_the_same_bytes(redis_url: str) -> None:
    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        first = await client.post(PATH, content=_body(ONE_CYCLE), headers={"Accept": "text/csv"})
        second = await client.post(PATH, content=_body(ONE_CYCLE), headers={"Accept": "text/csv"})
        _assert_same(first, second)
        return second

    route, endpoint = asyncio.run(_both(redis_url, _settings(), ask))
    _assert_same(route, endpoint)
    assert endpoint.headers["content-type"] == "text/csv; charset=utf-8"


def test_other_methods_and_paths_reach_the_framework(redis_url: str) -> None:
    async def ask(client: httpx.AsyncClient) -> httpx.Response:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        kinds = await client.get("/v1/schedules/kinds", params={"library": "timm"})
        assert kinds.status_code == 200 and kinds.json()["kinds"]
        return await client.get(PATH)

    route, endpoint = asyncio.run(_both(redis_url, _settings(), ask))
    _assert_same(route, endpoint)
    assert endpoint.status_code == 405


def test_a_client_gone_before_its_body_is_counted_and_not_answered(redis_url: str) -> None:
    async def scenario() -> tuple[list[Message], float | None]:
        framework, endpoint, clients = _apps(redis_url, _settings())
        del framework
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": PATH,
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
        }
        await endpoint(scope, receive, send)
        metrics = endpoint.state.metrics  # type: ignore[attr-defined]
        count = metrics.registry.get_sample_value(
            "warmstep_evaluate_request_duration_seconds_count", {"status": "499"}
        )
        for opened in clients:
            await opened.aclose()
        return sent, count

    sent, count = asyncio.run(scenario())
    assert sent == []
    assert count == 1

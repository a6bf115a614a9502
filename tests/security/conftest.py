"""A front end with auth on and small bounds, shared by the security tests (no worker: submitted
jobs stay queued, which is all these tests need), on its own Redis database (db 2)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import redis

from service.auth import hash_token
from service.embedded_redis import EmbeddedRedis
from tests.processes import Stack

TOKENS = {
    "alice": "alice-token-7f3c9d2e41b8",
    "bob": "bob-token-0a6e5f19c2d7",
    "carol": "carol-token-93b1e8d4f06a",
    "fuzz": "fuzz-token-5d2c7a90e3f1",
}
BOUNDS = {
    "WARMSTEP_MAX_BODY_BYTES": "65536",
    "WARMSTEP_MAX_STEPS_PER_QUERY": "100000",
    "WARMSTEP_MAX_LIST_ITEMS": "1000",
    "WARMSTEP_MAX_STRING_CHARS": "500",
    "WARMSTEP_MAX_JSON_DEPTH": "12",
    "WARMSTEP_MAX_QUEUED_JOBS_PER_TENANT": "3",
    "WARMSTEP_MAX_STREAMS_PER_TENANT": "2",
    "WARMSTEP_MAX_JOB_RUNTIME_S": "600",
    "WARMSTEP_MAX_GRPC_MESSAGE_BYTES": "65536",
}


def bearer(tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[tenant]}"}


def grpc_auth(tenant: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {TOKENS[tenant]}"),)


@pytest.fixture(scope="session")
def auth_stack(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("WARMSTEP_") and k != "REDIS_URL"
    }
    env |= BOUNDS
    env["WARMSTEP_AUTH_TOKENS"] = json.dumps({hash_token(t): n for n, t in TOKENS.items()})
    url = redis_server.url.rsplit("/", 1)[0] + "/3"  # its own database: no worker takes its jobs
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    running = Stack(url, env, tmp_path_factory.mktemp("auth-stack"))
    running.env["WARMSTEP_LOG_LEVEL"] = "info"  # the secrets test reads this log
    try:
        running.start_front()
        yield running
    finally:
        running.stop()

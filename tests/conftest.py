"""Shared fixtures: one real redis-server per test session, on a free port, stopped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.embedded_redis import EmbeddedRedis
from tests.processes import Stack


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """A clean database for each test on the session's server."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    yield redis_server.url


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Environment for child processes: no inherited warmstep or Redis settings."""
    for name in list(os.environ):
        if name.startswith("WARMSTEP_") or name == "REDIS_URL":
            monkeypatch.delenv(name)
    return {**os.environ, "WARMSTEP_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture(scope="session")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One front end and one worker for the session, on their own Redis database (db 1) so the
    per-test flush of db 0 leaves them alone. Tests submit their own jobs and look only at them."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("WARMSTEP_") and k != "REDIS_URL"
    }
    url = redis_server.url.rsplit("/", 1)[0] + "/1"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    running = Stack(url, env, tmp_path_factory.mktemp("stack"))
    try:
        running.start_front()
        running.start_worker()
        yield running
    finally:
        running.stop()

"""Fault-injection fixtures: real front ends, real workers (supervisor + job process), a real
Redis, the test plugin (slow and poison models) installed into a temporary site folder that the
workers get on PYTHONPATH. Short leases so that faults resolve in seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.embedded_redis import EmbeddedRedis
from tests.processes import Stack
from tests.reliability.helpers import stack_on_database

PLUGIN = Path(__file__).parents[1] / "plugins" / "warmstep_test_plugin"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, root / "src")
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    return target


@pytest.fixture(scope="session")
def pool(
    redis_server: EmbeddedRedis, plugin_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One front end and two workers on their own database (db 2) for the reliability tests.
    A worker that a test of test_worker_faults.py stopped is replaced after it."""
    running = stack_on_database(redis_server, 2, plugin_site, tmp_path_factory.mktemp("pool"))
    try:
        running.start_front()
        running.start_worker()
        running.start_worker()
        yield running
    finally:
        running.stop()


@pytest.fixture
def pool_redis(pool: Stack) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(pool.redis_url, decode_responses=True) as client:
        yield client

"""GET /metrics against a real Redis: jobs driven through the real lifecycle scripts, then the
exposition parsed back with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from service.jobs import store
from service.main import build_app, served
from warmstep import keys, lifecycle
from warmstep.config import Settings
from warmstep.jobs import parse_job_spec

SPEC = {
    "model": {"name": "mlp"},
    "data": {"name": "iris"},
    "optimizer": {"type": "SGD"},
    "epochs": 1,
}


async def _claim(redis: aioredis.Redis, job_id: str) -> int:
    return int(
        await redis.eval(
            lifecycle.CLAIM,
            2,
            keys.job_record(job_id),
            keys.job_events(job_id),
            "w1",
            repr(time.time()),
            3,
        )
    )


async def _finish(redis: aioredis.Redis, job_id: str, attempt: int) -> None:
    await redis.eval(
        lifecycle.FINISH,
        2,
        keys.job_record(job_id),
        keys.job_events(job_id),
        attempt,
        "succeeded",
        repr(time.time()),
        "",
        "",
        "",
        orjson.dumps({"status": "succeeded"}).decode(),
    )


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def _scenario(redis_url: str, *, endpoint: bool) -> tuple[str, str]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    binary = aioredis.Redis.from_url(redis_url)
    spec = parse_job_spec(SPEC)
    done = (await store.submit(redis, spec, None, "cpu")).job.id
    await store.submit(redis, spec, None, "cpu")  # stays queued
    await _claim(redis, done)
    attempt = await _claim(redis, done)  # a second claim: the first worker vanished
    await _finish(redis, done, attempt)
    app = build_app(Settings(redis_url=redis_url), redis, binary)
    # Evaluate requests are timed by the route's middleware or by the endpoint in front of it.
    transport = httpx.ASGITransport(app=served(app) if endpoint else app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        body = {"schedule": {"type": "StepLR", "step_size": 2}, "base_lr": 0.1, "steps": 5}
        assert (await client.post("/v1/schedules/evaluate", json=body)).status_code == 200
        body["schedule"] = {"type": "StepLR"}
        assert (await client.post("/v1/schedules/evaluate", json=body)).status_code == 422
        first = (await client.get("/metrics")).text
        second = (await client.get("/metrics")).text  # finished jobs are not counted twice
    await redis.aclose()
    await binary.aclose()
    return first, second


@pytest.mark.parametrize("endpoint", [True, False], ids=["served", "framework"])
def test_metrics_from_redis_and_process(redis_url: str, endpoint: bool) -> None:
    first, second = asyncio.run(_scenario(redis_url, endpoint=endpoint))
    metrics = _samples(second)
    assert _samples(first)["warmstep_jobs_finished_total", (("outcome", "succeeded"),)] == 1
    assert metrics["warmstep_jobs_submitted_total", ()] == 2
    assert metrics["warmstep_jobs_finished_total", (("outcome", "succeeded"),)] == 1
    assert metrics["warmstep_jobs_finished_total", (("outcome", "failed"),)] == 0
    assert metrics["warmstep_jobs", (("status", "queued"),)] == 1
    assert metrics["warmstep_jobs", (("status", "running"),)] == 0
    assert metrics["warmstep_queue_depth", (("device_class", "cpu"),)] == 1
    assert metrics["warmstep_job_redeliveries_total", ()] == 1
    assert metrics["warmstep_job_duration_seconds_count", (("outcome", "succeeded"),)] == 1
    assert metrics["warmstep_job_queue_wait_seconds_count", ()] == 1
    assert metrics["warmstep_evaluate_request_duration_seconds_count", (("status", "200"),)] == 1
    assert metrics["warmstep_evaluate_request_duration_seconds_count", (("status", "422"),)] == 1
    assert metrics["warmstep_event_stream_subscribers", ()] == 0
    names = {name for name, _ in metrics}
    assert not any("job_id" in dict(labels) for _, labels in metrics)
    assert "warmstep_dead_letters" in names

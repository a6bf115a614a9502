"""Faults around the workers: Redis killed and restarted, the front end restarted under a
follower (SSE and gRPC), retried submits, time limits, cancel. Rows 4, 5, 6, 8 and 9 of
docs/reliability.md."""

from __future__ import annotations

import concurrent.futures
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import redis

from service.embedded_redis import EmbeddedRedis, free_port
from tests.processes import Stack, wait_for
from tests.reliability.helpers import (
    events,
    runner_of,
    slow_spec,
    stack_env,
    standing_steps,
    wait_for_step,
)
from warmstep_client import WarmstepClient
from warmstep_client.v1 import training_pb2, training_pb2_grpc


@pytest.fixture
def client(pool: Stack) -> Iterator[WarmstepClient]:
    with WarmstepClient(pool.base_url, timeout_s=60) as c:
        yield c


def test_redis_kill_9_and_restart_loses_nothing_and_runs_nothing_twice(
    plugin_site: Path, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.start()
    stack = Stack(server.url, stack_env(plugin_site), tmp_path)
    try:
        stack.start_front()
        stack.start_worker()
        with WarmstepClient(stack.base_url, timeout_s=60) as client:
            running = client.submit(slow_spec(80))
            wait_for_step(client, running["id"], 10)
            queued = [client.submit(slow_spec(3, delay_s=0.0)) for _ in range(5)]
            server.kill()  # at once after the last acknowledged submit
            time.sleep(1.0)
            server.start()
            finals = [client.wait(job["id"]) for job in [running, *queued]]
            db = redis.Redis.from_url(server.url, decode_responses=True)
            for final in finals:
                assert final["status"] == "succeeded", final["error"]
                assert final["attempt"] == 1  # never run twice
                stream = events(db, final["id"])
                runs = [d for _, t, _, d in stream if t == "status" and d["status"] == "running"]
                assert len(runs) == 1
                rows = standing_steps(client.metrics(final["id"]))
                assert len(rows) == final["totals"]["total_updates"]
                assert len(client.metrics(final["id"])["steps"]) == len(rows)  # none twice
            db.close()
    finally:
        stack.stop()
        server.stop()


def _follow_grpc(target: str, job_id: str, into: list[tuple[str, str]]) -> None:
    """A gRPC follower that reconnects with its cursor when the server goes away."""
    cursor = ""
    for _ in range(200):
        try:
            with grpc.insecure_channel(target) as channel:
                stub = training_pb2_grpc.TrainingServiceStub(channel)
                request = training_pb2.FollowJobRequest(job_id=job_id, cursor=cursor)
                for event in stub.FollowJob(request, wait_for_ready=True, timeout=120):
                    cursor = event.id
                    into.append((event.id, event.type))
                    if event.type == "status" and event.data["status"] in (
                        "succeeded",
                        "failed",
                        "cancelled",
                    ):
                        return
        except grpc.RpcError:
            time.sleep(0.3)


def test_front_end_restart_while_following_delivers_every_event_once_in_order(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient
) -> None:
    job = client.submit(slow_spec(80))
    sse: list[tuple[str, str]] = []
    rpc: list[tuple[str, str]] = []

    def follow_sse() -> None:
        with WarmstepClient(pool.base_url, timeout_s=60) as follower:
            sse.extend((e["id"], e["type"]) for e in follower.follow(job["id"]))

    threads = [
        threading.Thread(target=follow_sse),
        threading.Thread(target=_follow_grpc, args=(pool.grpc_target, job["id"], rpc)),
    ]
    for thread in threads:
        thread.start()
    wait_for_step(client, job["id"], 10)
    assert pool.front is not None
    pool.front.send_signal(signal.SIGKILL)
    pool.front.wait()
    pool.start_front()
    for thread in threads:
        thread.join(120)
    everything = [(i, t) for i, t, _, _ in events(pool_redis, job["id"])]
    assert sse == everything
    assert rpc == everything
    assert client.get(job["id"])["status"] == "succeeded"


def test_twenty_concurrent_submits_with_one_idempotency_key_make_one_job(
    pool: Stack, client: WarmstepClient
) -> None:
    spec, key = slow_spec(2, delay_s=0.0), uuid.uuid4().hex

    def submit(_: int) -> str:
        answer = httpx.post(
            f"{pool.base_url}/v1/jobs", json=spec, headers={"Idempotency-Key": key}, timeout=60
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["id"])

    with concurrent.futures.ThreadPoolExecutor(20) as threads:
        ids = set(threads.map(submit, range(20)))
    assert len(ids) == 1
    label = spec["labels"]["test"]
    assert len(client.jobs(label=f"test={label}")["jobs"]) == 1
    assert client.wait(ids.pop())["status"] == "succeeded"


def test_time_limit_fails_the_job_with_its_reason_and_frees_the_worker(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient
) -> None:
    job = client.submit(slow_spec(100_000, max_runtime_s=1.0))
    worker = runner_of(pool_redis, job["id"])
    final = client.wait(job["id"])
    assert final["status"] == "failed"
    assert final["error"]["code"] == "max_runtime"
    assert "max_runtime_s=1.0" in final["error"]["message"]

    def idle() -> bool | None:
        listed = client._http.get("/v1/workers").json()["workers"]
        return any(w["id"] == worker.id and w["current_job"] == "" for w in listed) or None

    wait_for(idle, "the worker to be free again")


def _statuses(db: redis.Redis, job_id: str) -> list[str]:
    return [d["status"] for _, t, _, d in events(db, job_id) if t == "status"]


def test_cancel_queued_never_starts_and_cancel_running_stops_within_one_micro_batch(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient
) -> None:
    # Updates of 30 micro-batches of 0.1 s: a cancel honoured only between updates would let
    # the update in progress finish and report a second step.
    busy: list[dict[str, Any]] = [
        client.submit(slow_spec(1000, delay_s=0.1, gradient_accumulation_steps=30))
        for _ in range(2)
    ]
    for job in busy:  # both workers are busy now
        runner_of(pool_redis, job["id"])
    waiting = client.submit(slow_spec(2, delay_s=0.0))
    assert client.cancel(waiting["id"])["status"] == "cancelled"
    wait_for_step(client, busy[0]["id"], 0)
    for job in busy:
        client.cancel(job["id"])
    for job in busy:
        final = client.wait(job["id"])
        assert final["status"] == "cancelled"
    # busy[0] was cancelled right after its first update, during the second (3 s long): it
    # stopped inside that update instead of finishing it.
    assert [r["step"] for r in client.metrics(busy[0]["id"])["steps"]] == [0]
    marker = client.submit(slow_spec(1, delay_s=0.0))  # FIFO: the cancelled entry was read
    assert client.wait(marker["id"])["status"] == "succeeded"
    record = client.get(waiting["id"])
    assert record["status"] == "cancelled" and record["attempt"] == 0
    assert _statuses(pool_redis, waiting["id"]) == ["queued", "cancelled"]


def test_cancel_of_a_job_stuck_in_one_micro_batch_ends_it_after_the_grace_period(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient
) -> None:
    job = client.submit(slow_spec(10, delay_s=60.0))  # the first forward pass takes a minute
    runner_of(pool_redis, job["id"])  # running, not queued
    client.cancel(job["id"])
    final = client.wait(job["id"])
    assert final["status"] == "cancelled"
    assert final["error"] == {"code": "cancelled", "message": "cancelled while its worker was gone"}
    assert client.metrics(job["id"])["steps"] == []
    assert all(w.poll() is None for w in pool.workers)  # the supervisor restarted the process

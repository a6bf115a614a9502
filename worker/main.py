"""The worker process: register, heartbeat, consume jobs until told to stop."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from types import FrameType

import redis

from warmstep.config import Settings
from warmstep.workers import WorkerInfo
from worker.device import device_kind, gpus
from worker.heartbeat import Heartbeat
from worker.jobs.catalog import build_catalog, publish_catalog
from worker.jobs.queue import DispatchQueue
from worker.jobs.runner import WorkerContext, run_entry

log = logging.getLogger("warmstep.worker")


def connect(url: str, *, decode: bool = True) -> redis.Redis:
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        decode_responses=decode,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def describe_self(settings: Settings) -> WorkerInfo:
    now = time.time()
    return WorkerInfo(
        id=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        host=socket.gethostname(),
        pid=os.getpid(),
        device_kind=device_kind(settings.worker_device),
        gpus=gpus(),
        started_at=now,
        heartbeat_at=now,
    )


def run_worker(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("worker needs REDIS_URL (or run `warmstep dev`, which starts a Redis)")
    client = connect(settings.redis_url)
    stopping = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        log.info("signal %s: stopping after handing back the running job", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    publish_catalog(client, build_catalog())
    heartbeat = Heartbeat(
        client, describe_self(settings), settings.heartbeat_s, settings.heartbeat_ttl_s
    )
    info = heartbeat.info
    queue = DispatchQueue(
        client, info.device_kind, info.id, settings.lease_s, settings.max_attempts
    )
    queue.ensure_groups()
    ctx = WorkerContext(
        client,
        connect(settings.redis_url, decode=False),
        queue,
        info.id,
        settings.heartbeat_s,
        settings.max_state_bytes,
        stopping,
    )
    heartbeat.start()
    print(f"warmstep worker {info.id}: device {info.device_kind}, pid {info.pid}", flush=True)
    try:
        consume(ctx, heartbeat)
    finally:
        heartbeat.stop()
        client.close()
        ctx.binary.close()


def consume(ctx: WorkerContext, heartbeat: Heartbeat) -> None:
    """One job at a time (one device): read an entry only when free, never prefetch."""
    while not ctx.stopping.is_set():
        try:
            entry = ctx.queue.next_entry(block_ms=1000)
        except redis.ConnectionError as exc:
            log.warning("Redis unreachable, retrying: %s", exc)
            ctx.stopping.wait(1.0)
            continue
        if entry is None:
            continue
        heartbeat.set_current_job(entry.job_id)
        try:
            run_entry(ctx, entry)
        finally:
            heartbeat.set_current_job("")

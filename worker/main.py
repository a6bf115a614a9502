"""The worker: a small supervisor process and the job process it runs.

``warmstep worker`` starts the supervisor. It picks the worker id (the dispatch consumer name)
and runs the job process (the same command, with ``WARMSTEP_WORKER_ID`` set), which registers,
heartbeats and consumes jobs. When the job process dies without being asked to stop (a job that
calls ``os._exit``, a segfault, the OOM killer), the supervisor starts a new one under the same
id, with a backoff; the new one takes its own unfinished entry back first
(:mod:`worker.jobs.queue`), CLAIM starts the next attempt, and after ``max_attempts`` the job
goes to the dead-letter stream. So a job cannot take the worker down with it.

SIGTERM/SIGINT to the supervisor are passed on: the job process checkpoints, hands its job back
and exits 0, and the supervisor exits with it. The job process dies with its supervisor
(``PR_SET_PDEATHSIG`` = SIGTERM, so even a SIGKILLed supervisor leaves no orphan running)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from types import FrameType

import redis

from warmstep.allocator import keep_freed_memory
from warmstep.config import Settings
from warmstep.schedules import prepare_compiled_loops_soon
from warmstep.workers import WorkerInfo
from worker.device import device_kind, gpus
from worker.heartbeat import Heartbeat
from worker.jobs.catalog import build_catalog, publish_catalog
from worker.jobs.queue import DispatchQueue
from worker.jobs.runner import WorkerContext, run_entry

log = logging.getLogger("warmstep.worker")

WORKER_ID_ENV = "WARMSTEP_WORKER_ID"  # set by the supervisor for its job process
_PR_SET_PDEATHSIG = 1
_STABLE_AFTER_S = 60.0  # a job process that lived this long resets the restart backoff


def connect(url: str, *, decode: bool = True) -> redis.Redis:
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        decode_responses=decode,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def describe_self(settings: Settings, worker_id: str) -> WorkerInfo:
    now = time.time()
    return WorkerInfo(
        id=worker_id,
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
    worker_id = os.environ.get(WORKER_ID_ENV)
    if worker_id:
        run_job_process(settings, worker_id)
    else:
        raise SystemExit(supervise())


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise() -> int:
    """Run the job process until asked to stop; restart it when it dies on its own."""
    worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    failures = 0
    while not stopping.is_set():
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "worker"],
            env={**os.environ, WORKER_ID_ENV: worker_id},
            preexec_fn=_die_with_parent,
        )
        if stopping.is_set():  # a signal that came before ``child`` was set
            child.terminate()
        code = child.wait()
        if stopping.is_set() or code == 0:
            return 0
        failures = 0 if time.monotonic() - started > _STABLE_AFTER_S else failures + 1
        delay = min(30.0, 0.25 * 2**failures)
        print(
            f"warmstep worker {worker_id}: job process {child.pid} died ({code}); "
            f"restarting in {delay:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        stopping.wait(delay)
    return 0


def run_job_process(settings: Settings, worker_id: str) -> None:
    # A training step makes and frees the same tensors at every update: keep them in the heap.
    kept = keep_freed_memory(settings.malloc_keep_bytes)
    prepare_compiled_loops_soon()  # before the first job needs a compiled recurrence
    client = connect(settings.redis_url or "")
    stopping = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        log.info("signal %s: stopping after handing back the running job", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    publish_catalog(client, build_catalog())
    heartbeat = Heartbeat(
        client, describe_self(settings, worker_id), settings.heartbeat_s, settings.heartbeat_ttl_s
    )
    info = heartbeat.info
    queue = DispatchQueue(
        client, info.device_kind, info.id, settings.lease_s, settings.max_attempts
    )
    queue.ensure_groups()
    ctx = WorkerContext(
        client,
        connect(settings.redis_url or "", decode=False),
        queue,
        info.id,
        settings.heartbeat_s,
        settings.max_state_bytes,
        stopping,
        settings.cancel_grace_s,
        settings.event_batch_s,
    )
    heartbeat.start()
    memory = f"keeps up to {settings.malloc_keep_bytes >> 20} MiB freed" if kept else "C defaults"
    print(
        f"warmstep worker {info.id}: device {info.device_kind}, pid {info.pid}, memory {memory}",
        flush=True,
    )
    try:
        consume(ctx, heartbeat)
    finally:
        heartbeat.stop()
        client.close()
        ctx.binary.close()


def consume(ctx: WorkerContext, heartbeat: Heartbeat) -> None:
    """One job at a time (one device): read an entry only when free, never prefetch. A Redis
    outage is waited out: the entry in hand stays pending and is taken back on the next round."""
    while not ctx.stopping.is_set():
        try:
            entry = ctx.queue.next_entry(block_ms=1000)
            if entry is None:
                continue
            heartbeat.set_current_job(entry.job_id)
            try:
                run_entry(ctx, entry)
            finally:
                heartbeat.set_current_job("")
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("dispatch group missing (Redis lost its data?); recreating it")
            ctx.queue.ensure_groups()
        except redis.RedisError as exc:
            log.warning("Redis unreachable, retrying: %s", exc)
            ctx.stopping.wait(1.0)

"""Small helpers of the fault-injection tests: specs, where a job runs, waiting on events."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import redis
import torch

from service.embedded_redis import EmbeddedRedis
from tests.processes import Stack, alive, wait_for
from warmstep import keys
from warmstep.workers import WorkerInfo
from warmstep_client import WarmstepClient

FAST_FAULTS = {
    "WARMSTEP_MAX_ATTEMPTS": "3",
    "WARMSTEP_CANCEL_GRACE_S": "3",
}


def stack_env(plugin_site: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("WARMSTEP_") and k != "REDIS_URL"
    }
    path = os.pathsep.join(p for p in (str(plugin_site), env.get("PYTHONPATH", "")) if p)
    return {**env, **FAST_FAULTS, "PYTHONPATH": path}


def stack_on_database(
    server: EmbeddedRedis, database: int, plugin_site: Path, log_dir: Path
) -> Stack:
    """A stack (nothing started yet) on its own, emptied, database of the session's Redis."""
    url = server.url.rsplit("/", 1)[0] + f"/{database}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return Stack(url, stack_env(plugin_site), log_dir)


def slow_spec(steps: int, delay_s: float = 0.05, **extra: Any) -> dict[str, Any]:
    """An MLP on digits that sleeps ``delay_s`` per forward pass, checkpointing every 5 updates;
    labelled so that a test finds only its own jobs."""
    return {
        "model": {"name": "plugin_slow_mlp", "width": 16, "delay_s": delay_s},
        "data": {"name": "digits"},
        "optimizer": {"type": "AdamW", "lr": 0.01},
        "schedule": {"type": "get_cosine_schedule_with_warmup"},
        "warmup_ratio": 0.1,
        "batch_size": 32,
        "max_steps": steps,
        "checkpoint_every_steps": 5,
        "seed": 5,
        "device": "cpu",
        "labels": {"test": uuid.uuid4().hex[:8]},
        **extra,
    }


def weights(client: WarmstepClient, job_id: str) -> dict[str, torch.Tensor]:
    return dict(torch.load(io.BytesIO(client.artifact(job_id)), weights_only=True))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-6, atol=1e-7)


def wait_for_step(client: WarmstepClient, job_id: str, step: int) -> dict[str, Any]:
    """Follow the job until a step event with ``step >= step``; answers that event."""
    for event in client.follow(job_id):
        if event["type"] == "step" and event["data"]["step"] >= step:
            return event
    raise AssertionError(f"job {job_id} ended before step {step}")


def runner_of(db: redis.Redis, job_id: str) -> WorkerInfo:
    """The live worker whose job process runs the job now."""

    def check() -> WorkerInfo | None:
        worker = db.hget(keys.job_record(job_id), "worker")
        raw = db.get(keys.worker_heartbeat(str(worker))) if worker else None
        return None if raw is None else WorkerInfo.model_validate_json(str(raw))

    return wait_for(check, f"the worker of {job_id}", timeout_s=30)


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def supervisor_of(stack: Stack, job_pid: int) -> subprocess.Popen[bytes]:
    ppid = parent_pid(job_pid)
    return next(w for w in stack.workers if w.pid == ppid)


def kill(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)
    if sig == signal.SIGKILL:
        wait_for(lambda: not alive(pid) or None, f"process {pid} to die", timeout_s=10)


def entries(db: redis.Redis, stream: str) -> list[tuple[str, dict[str, str]]]:
    """Every entry of a stream (a client with decode_responses=True)."""
    found: Any = db.xrange(stream)
    return [(str(i), dict(f)) for i, f in found]


def events(db: redis.Redis, job_id: str) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(id, type, attempt, data) of every event of the job, in stream order."""
    return [
        (i, f["type"], int(f["attempt"]), json.loads(f["data"]))
        for i, f in entries(db, keys.job_events(job_id))
    ]


def standing_steps(history: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [r for r in history["steps"] if r["superseded_by"] is None]
    assert [r["step"] for r in rows] == list(range(len(rows)))
    return rows


def replace_worker(stack: Stack, gone: subprocess.Popen[bytes]) -> None:
    """Restore the pool to two workers after a test took one away."""
    if gone.poll() is None:
        gone.kill()
        gone.wait()
    stack.workers.remove(gone)
    wait_for(lambda: stack.live_workers() <= len(stack.workers) or None, "the heartbeat to expire")
    stack.start_worker()

"""Latency: submit-to-first-step with a warm worker, and event latency from the worker's write
(the Redis stream entry id's millisecond timestamp, stamped by Redis at XADD) to an SSE
follower's read, with several followers on one job.

Every clock is this machine's wall clock (``time.time()``), shared by Redis, the worker and the
followers, so differences are meaningful to about a millisecond."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import redis

from bench._common import Size, Stack, Table, median, percentile, stack
from warmstep import keys

FIRST_STEP_TARGET_MS = 50.0
QUICK_JOB: dict[str, Any] = {
    "model": {"name": "mlp"},
    "data": {"name": "digits"},
    "optimizer": {"type": "SGD", "lr": 0.01},
    "max_steps": 3,
    "batch_size": 32,
    "device": "cpu",
}


def _stamp(entry_id: str) -> float:
    return int(entry_id.split("-", 1)[0]) / 1000.0


def _first_step(running: Stack, client: redis.Redis, http: httpx.Client) -> dict[str, float]:
    """Submit one job; times (ms after submit) of claim, first step write, first step read by
    an SSE follower opened right after the submit answered. ``http`` is a client made once (a
    new client per call would add its own set-up, a TLS context, to every figure)."""
    submitted = time.time()
    answer = http.post(f"{running.http}/v1/jobs", json=QUICK_JOB)
    answer.raise_for_status()
    job_id = answer.json()["id"]
    read = None
    with http.stream("GET", f"{running.http}/v1/jobs/{job_id}/events") as sse:
        entry_id, event = "", ""
        for line in sse.iter_lines():
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "step" and read is None:
                read = time.time()
                written = _stamp(entry_id)
    started = float(client.hget(keys.job_record(job_id), "started_at") or "nan")
    if read is None:
        raise RuntimeError(f"job {job_id} wrote no step event")
    return {
        "claimed": (started - submitted) * 1e3,
        "written": (written - submitted) * 1e3,
        "read": (read - submitted) * 1e3,
    }


async def _follow(client: httpx.AsyncClient, url: str, out: list[float]) -> bool:
    """Read one job's SSE stream to its end; False when the server broke it off."""
    try:
        await _read_stream(client, url, out)
    except httpx.HTTPError:
        return False
    return True


async def _read_stream(client: httpx.AsyncClient, url: str, out: list[float]) -> None:
    async with client.stream("GET", url) as sse:
        sse.raise_for_status()
        entry_id, event = "", ""
        async for line in sse.aiter_lines():
            if line.startswith("id: "):
                entry_id = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "step":
                out.append((time.time() - _stamp(entry_id)) * 1e3)


async def _fan_out(running: Stack, followers: int, steps: int) -> tuple[list[float], int, int]:
    job = QUICK_JOB | {
        "model": {"name": "transformer_lm"},
        "data": {"name": "tiny_corpus"},
        "max_steps": steps,
    }
    limits = httpx.Limits(max_connections=followers + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        answer = await client.post(f"{running.http}/v1/jobs", json=job)
        answer.raise_for_status()
        url = f"{running.http}/v1/jobs/{answer.json()['id']}/events"
        per: list[list[float]] = [[] for _ in range(followers)]
        intact = await asyncio.gather(*(_follow(client, url, out) for out in per))
    complete = sum(len(out) == steps for out in per)
    return [v for out in per for v in out], complete, intact.count(False)


def run(size: Size) -> list[Table]:
    first = Table(
        f"Submit to first step, warm worker ({size.latency_jobs} jobs, ms after the "
        "submit request was sent)",
        ["milestone", "p50 ms", "p99 ms", "max ms"],
    )
    fan = Table(
        "Event latency: worker's write (stream id) to SSE follower's read",
        [
            "followers",
            "events read",
            "complete streams",
            "broken streams",
            "p50 ms",
            "p99 ms",
            "max ms",
        ],
    )
    with stack(workers=1) as running:
        client = redis.Redis.from_url(running.redis.url, decode_responses=True)
        with httpx.Client(timeout=60) as http:
            _first_step(running, client, http)  # warm-up: data set and model code loaded once
            samples = [_first_step(running, client, http) for _ in range(size.latency_jobs)]
        client.close()
        for key, label in (
            ("claimed", "job claimed by the worker (started_at)"),
            ("written", "first step event written (stream id)"),
            ("read", "first step event read over SSE"),
        ):
            values = [s[key] for s in samples]
            first.add(label, median(values), percentile(values, 99), max(values))
        for followers in size.followers:
            latencies, complete, broken = asyncio.run(
                _fan_out(running, followers, size.follow_steps)
            )
            if not latencies:
                fan.add(followers, 0, f"0/{followers}", broken, "-", "-", "-")
                continue
            fan.add(
                followers,
                len(latencies),
                f"{complete}/{followers}",
                broken,
                median(latencies),
                percentile(latencies, 99),
                max(latencies),
            )
    p50 = median([s["written"] for s in samples])
    first.notes += [
        "job: mlp on digits, 3 SGD updates, batch 32; the SSE follower connects right after "
        "the submit answers and reads from the start of the stream",
        f"target: first step under {FIRST_STEP_TARGET_MS:.0f} ms p50 (written): {p50:.0f} ms "
        f"({'met' if p50 < FIRST_STEP_TARGET_MS else 'MISSED'})",
    ]
    fan.notes.append(
        f"job: transformer_lm on tiny_corpus, {size.follow_steps} updates; all "
        "followers in one asyncio httpx client process on the same 2 cores"
    )
    return [first, fan]

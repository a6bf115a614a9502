"""Queue throughput: many one-update jobs through two workers; jobs/s, and a check that every
submitted job succeeded exactly once (no job lost, none run twice)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
import redis

from bench._common import Size, Table, stack, wait_for
from warmstep import keys

WORKERS = 2
TINY_JOB: dict[str, Any] = {
    "model": {"name": "linear_regression"},
    "data": {"name": "synthetic_regression", "n_samples": 64, "n_features": 4},
    "optimizer": {"type": "SGD", "lr": 0.01},
    "max_steps": 1,
    "batch_size": 16,
    "device": "cpu",
}


async def _submit(base: str, count: int) -> list[str]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        semaphore = asyncio.Semaphore(16)

        async def one(i: int) -> str:
            async with semaphore:
                answer = await client.post(
                    f"{base}/v1/jobs", json=TINY_JOB, headers={"Idempotency-Key": f"bench-{i}"}
                )
                answer.raise_for_status()
                return str(answer.json()["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def run(size: Size) -> list[Table]:
    table = Table(
        f"Queue throughput: {size.queue_jobs} one-update jobs through {WORKERS} workers",
        ["measure", "value"],
    )
    # Every job is queued at once: the per-tenant bound on queued jobs must admit them all.
    with stack(workers=WORKERS, max_queued_jobs_per_tenant=size.queue_jobs) as running:
        client = redis.Redis.from_url(running.redis.url, decode_responses=True)
        start = time.time()
        ids = asyncio.run(_submit(running.http, size.queue_jobs))
        submitted = time.time()

        def all_done() -> bool | None:
            pipe = client.pipeline(transaction=False)
            for job_id in ids:
                pipe.hget(keys.job_record(job_id), "status")
            statuses = pipe.execute()
            done = sum(s in ("succeeded", "failed", "cancelled") for s in statuses)
            return True if done == len(ids) else None

        wait_for(all_done, "all jobs to finish", timeout_s=900)
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(keys.job_record(job_id))
            pipe.xrange(keys.job_events(job_id))
        answers = pipe.execute()
        client.close()
    records, streams = answers[0::2], answers[1::2]
    finished = max(float(r["finished_at"]) for r in records)
    statuses = [r.get("status") for r in records]
    steps = [sum(f["type"] == "step" for _, f in s) for s in streams]
    attempts = [int(r.get("attempt", 0)) for r in records]
    workers = {
        orjson.loads(f["data"]).get("worker")
        for s in streams
        for _, f in s
        if f["type"] == "status" and orjson.loads(f["data"]).get("status") == "running"
    }
    table.add("jobs submitted (distinct ids)", f"{len(set(ids))} of {size.queue_jobs}")
    table.add("submit rate (jobs/s, 16 concurrent POSTs)", len(ids) / (submitted - start))
    table.add("throughput, first submit to last finish (jobs/s)", len(ids) / (finished - start))
    table.add("succeeded", statuses.count("succeeded"))
    table.add("failed / cancelled / other", len(ids) - statuses.count("succeeded"))
    table.add("jobs with exactly one step event", sum(s == 1 for s in steps))
    table.add("jobs run more than once (attempt > 1)", sum(a > 1 for a in attempts))
    table.add("workers that ran jobs", len(workers - {None}))
    table.notes.append(
        "job: linear_regression on synthetic_regression (64 samples, 4 "
        "features), max_steps=1, batch 16; each with its own Idempotency-Key"
    )
    lost = len(ids) - statuses.count("succeeded")
    intact = lost == 0 and len(set(ids)) == len(ids)
    table.notes.append(f"nothing lost: {'yes' if intact else 'NO'}")
    return [table]

"""The front end's submit against a real Redis, with a worker's claim landing right behind it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from service.jobs import store
from warmstep import keys, lifecycle
from warmstep.jobs import parse_job_spec

SPEC = {
    "model": {"name": "mlp"},
    "data": {"name": "iris"},
    "optimizer": {"type": "SGD"},
    "epochs": 1,
}


class _ClaimedAtOnce(aioredis.Redis):
    """A connection whose SUBMIT is followed, before submit can do anything else, by the real
    CLAIM script: what a worker blocked on the dispatch stream does when it is quickest."""

    async def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> Any:  # type: ignore[override]
        answered = await super().eval(script, numkeys, *keys_and_args)
        if script == lifecycle.SUBMIT:
            job_id = str(answered)
            await super().eval(
                lifecycle.CLAIM,
                2,
                keys.job_record(job_id),
                keys.job_events(job_id),
                "w1",
                repr(time.time()),
                3,
            )
        return answered


async def _submit_then_claimed(redis_url: str) -> tuple[str, str, str, bool]:
    redis = _ClaimedAtOnce.from_url(redis_url, decode_responses=True)
    submission = await store.submit(redis, parse_job_spec(SPEC), None, "cpu")
    stored = await store.get_job(redis, submission.job.id)
    again = await store.submit(redis, parse_job_spec(SPEC), None, "cpu", idempotency_key="k1")
    replay = await store.submit(redis, parse_job_spec(SPEC), None, "cpu", idempotency_key="k1")
    await redis.aclose()
    assert replay.job.id == again.job.id
    return submission.job.status, stored.status, replay.job.status, replay.created


def test_submit_answers_the_job_as_submitted_even_when_claimed_at_once(redis_url: str) -> None:
    answered, stored, replayed, replay_created = asyncio.run(_submit_then_claimed(redis_url))
    assert answered == "queued"  # the job as this submit made it
    assert stored == "running"  # the worker did claim it
    # A replayed Idempotency-Key made nothing: it answers the job as it stands now.
    assert replayed == "running" and replay_created is False

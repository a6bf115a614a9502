"""The dispatch queue's claim against a real Redis: the claim that finds a job's attempts used
up fails the job, writes its dead letter and acknowledges its entry in one step, so whoever sees
the job failed also finds the dead letter (a client waiting for the job, a dashboard)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from warmstep import keys, lifecycle
from worker.jobs.queue import DispatchQueue

JOB = "queue-job"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    connection.close()


def _queue(client: redis.Redis) -> DispatchQueue:
    queue = DispatchQueue(client, "cpu", "w1", lease_s=30.0, max_attempts=3)
    queue.ensure_groups()
    return queue


def _dead_letters(client: redis.Redis, job: str) -> list[dict[str, str]]:
    entries: list[tuple[str, dict[str, str]]] = client.xrange(keys.DEAD_LETTER_STREAM)  # type: ignore[assignment]
    return [fields for _, fields in entries if fields["job"] == job]


@pytest.mark.parametrize("attempts_made", [3, 2])
def test_the_claim_that_exhausts_a_job_dead_letters_its_entry(
    client: redis.Redis, attempts_made: int
) -> None:
    job = f"{JOB}-{attempts_made}"
    client.hset(keys.job_record(job), mapping={"status": "running", "attempt": attempts_made})
    queue = _queue(client)
    client.xadd(queue.streams[0], {"job": job})
    entry = queue.next_entry(block_ms=100)
    assert entry is not None and entry.job_id == job
    outcome = queue.claim_job(entry)
    pending = client.xpending(entry.stream, keys.DISPATCH_GROUP)["pending"]
    if attempts_made < 3:  # a next attempt: running, nothing dead-lettered, still pending
        assert outcome == attempts_made + 1 and not _dead_letters(client, job) and pending == 1
        queue.ack(entry)
        return
    assert outcome == lifecycle.ClaimOutcome.EXHAUSTED
    assert client.hget(keys.job_record(job), "status") == "failed"
    (dead,) = _dead_letters(client, job)
    assert dead["entry"] == entry.entry_id and dead["stream"] == entry.stream
    assert "3 attempts" in dead["reason"]
    assert pending == 0
    assert queue.claim_job(entry) == lifecycle.ClaimOutcome.FINISHED  # a retried claim
    assert len(_dead_letters(client, job)) == 1

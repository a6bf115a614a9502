"""The event writer against a real Redis: a burst of steps goes to Redis in few writes, in order,
the first of them at once. Writes are counted by Redis itself (INFO commandstats)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
import redis

from tests.processes import wait_for
from warmstep import keys
from worker.jobs.events import EventWriter

JOB = "events-job"


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    connection.hset(keys.job_record(JOB), mapping={"attempt": "1", "status": "running"})
    yield connection
    connection.close()


def _script_calls(client: redis.Redis) -> int:
    stats: dict[str, dict[str, int]] = client.info("commandstats")  # type: ignore[assignment]
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


def _steps(client: redis.Redis) -> list[int]:
    entries: list[tuple[str, dict[str, str]]] = client.xrange(keys.job_events(JOB))  # type: ignore[assignment]
    return [orjson.loads(fields["data"])["step"] for _, fields in entries]


def test_a_burst_of_steps_goes_to_redis_in_few_writes_the_first_at_once(
    client: redis.Redis,
) -> None:
    writer = EventWriter(client, JOB, 1, batch_s=1.0).start()
    writer.emit("step", {"step": 0})
    wait_for(lambda: _steps(client) == [0] or None, "the first step, written at once", 0.9)
    client.config_resetstat()
    for step in range(1, 41):  # a step every 5 ms for 0.2 s, well inside the 1 s window
        writer.emit("step", {"step": step})
        time.sleep(0.005)
    assert writer.close()
    assert _steps(client) == list(range(41))  # each once, in order
    # The 40 later steps came within one batch window: one write, at close (the script may be
    # loaded first: EVALSHA answered NOSCRIPT, then again).
    assert _script_calls(client) <= 2


def test_the_fence_stops_the_writer(client: redis.Redis) -> None:
    client.hset(keys.job_record(JOB), "attempt", "2")  # another attempt took the job
    writer = EventWriter(client, JOB, 1, batch_s=0.05).start()
    writer.emit("step", {"step": 0})
    wait_for(lambda: writer.fenced.is_set() or None, "the fence's refusal")
    assert not writer.close()
    assert _steps(client) == []


def test_waiting_for_written_events_cuts_the_pause_short(client: redis.Redis) -> None:
    """A checkpoint waits for the events before it: they are written at once, not after the
    flusher's pause (an hour here; the wait allows a minute)."""
    writer = EventWriter(client, JOB, 1, batch_s=3600.0).start()
    writer.emit("step", {"step": 0})
    wait_for(lambda: _steps(client) == [0] or None, "the first step, written at once", 4)
    for step in range(1, 10):  # inside the pause that follows the first write
        writer.emit("step", {"step": step})
    mark = writer.emitted()
    writer.emit("step", {"step": 10})  # after the mark: may or may not be written yet
    assert writer.wait_written(mark, timeout_s=60)
    assert _steps(client)[:10] == list(range(10))
    assert writer.close()
    assert _steps(client) == list(range(11))


def test_waiting_for_events_the_fence_refused_answers_false(client: redis.Redis) -> None:
    client.hset(keys.job_record(JOB), "attempt", "2")  # another attempt took the job
    writer = EventWriter(client, JOB, 1, batch_s=3600.0).start()
    writer.emit("step", {"step": 0})
    assert not writer.wait_written(writer.emitted(), timeout_s=60)
    assert writer.fenced.is_set()
    assert not writer.close()

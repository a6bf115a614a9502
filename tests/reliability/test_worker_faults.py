"""Worker faults with real processes: kill -9 mid-job (also right after a checkpoint, with the
step events before it written lazily), a frozen (zombie) worker, a graceful stop, a job that kills
its own process every time. Rows 1, 2, 3 and 7 of docs/reliability.md."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from service.embedded_redis import EmbeddedRedis
from tests.processes import Stack, alive, wait_for
from tests.reliability.helpers import (
    assert_same_weights,
    entries,
    events,
    kill,
    replace_worker,
    runner_of,
    slow_spec,
    stack_on_database,
    standing_steps,
    supervisor_of,
    wait_for_step,
    weights,
)
from warmstep import keys
from warmstep_client import WarmstepClient

STEPS = 60


@pytest.fixture
def client(pool: Stack) -> Iterator[WarmstepClient]:
    with WarmstepClient(pool.base_url, timeout_s=60) as c:
        yield c


@pytest.fixture(autouse=True)
def two_workers_after(pool: Stack) -> Iterator[None]:
    """Whatever a test did to the pool (a failed assertion included), the next one finds both
    workers serving: a worker that exited is replaced."""
    yield
    for worker in [w for w in pool.workers if w.poll() is not None]:
        replace_worker(pool, worker)


@pytest.fixture(scope="module")
def lazy_events_pool(
    redis_server: EmbeddedRedis, plugin_site: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A front end and one worker that writes a job's events at most every 5 s (the longest
    pause the setting allows), on their own database (db 4)."""
    running = stack_on_database(redis_server, 4, plugin_site, tmp_path_factory.mktemp("lazy"))
    try:
        running.start_front()
        running.start_worker({"WARMSTEP_EVENT_BATCH_S": "5"})
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def baseline(pool: Stack) -> dict[str, Any]:
    """The same job, uninterrupted: its weights and per-step losses."""
    with WarmstepClient(pool.base_url, timeout_s=60) as client:
        job = client.submit(slow_spec(STEPS))
        final = client.wait(job["id"])
        assert final["status"] == "succeeded", final["error"]
        assert final["attempt"] == 1
        return {
            "weights": weights(client, job["id"]),
            "loss": [r["loss"] for r in standing_steps(client.metrics(job["id"]))],
        }


def check_resumed(
    client: WarmstepClient, db: redis.Redis, job_id: str, baseline: dict[str, Any]
) -> dict[str, Any]:
    """Succeeded on attempt 2, one standing event per step, the repeated ones superseded, and
    the same weights and losses as the uninterrupted run."""
    final = client.get(job_id)
    assert final["status"] == "succeeded", final["error"]
    assert final["attempt"] == 2
    history = client.metrics(job_id)
    rows = standing_steps(history)
    assert len(rows) == STEPS
    assert [r["loss"] for r in rows] == pytest.approx(baseline["loss"], rel=1e-6)
    resumes = [d for _, t, a, d in events(db, job_id) if t == "log" and a == 2]
    assert len(resumes) == 1
    start = resumes[0]["resumed_from_step"]
    assert resumes[0]["supersedes"] == {"attempts_before": 2, "from_step": start}
    for row in history["steps"]:
        repeated = row["attempt"] == 1 and row["step"] >= start
        assert row["superseded_by"] == (2 if repeated else None)
    assert "superseded_by" in history["note"]
    assert_same_weights(weights(client, job_id), baseline["weights"])
    return {"final": final, "start": start, "history": history}


@pytest.mark.parametrize("where", ["same_worker_restarted", "another_worker"])
def test_kill_9_mid_job_resumes_from_checkpoint_with_identical_weights(
    pool: Stack,
    pool_redis: redis.Redis,
    client: WarmstepClient,
    baseline: dict[str, Any],
    where: str,
) -> None:
    job = client.submit(slow_spec(STEPS))
    wait_for_step(client, job["id"], 12)
    victim = runner_of(pool_redis, job["id"])
    supervisor = supervisor_of(pool, victim.pid)
    if where == "another_worker":  # the whole worker dies: supervisor and job process
        kill(victim.pid, signal.SIGSTOP)
        kill(supervisor.pid)
        supervisor.wait()
    kill(victim.pid)
    client.wait(job["id"])
    outcome = check_resumed(client, pool_redis, job["id"], baseline)
    assert 10 <= outcome["start"] <= 15 and outcome["start"] % 5 == 0
    finisher = pool_redis.hget(keys.job_record(job["id"]), "worker")
    if where == "another_worker":
        assert finisher != victim.id
    else:  # the supervisor restarted its job process under the same id (whichever worker
        # took the job back first: the restarted one, or the other after the lease ran out)
        assert supervisor.poll() is None
        wait_for(
            lambda: (
                victim.id in {w["id"] for w in client._http.get("/v1/workers").json()["workers"]}
                or None
            ),
            "the restarted job process",
        )


def test_kill_9_right_after_a_checkpoint_loses_no_step_before_it(
    lazy_events_pool: Stack, baseline: dict[str, Any]
) -> None:
    """The events before a checkpoint are written before it is stored: killed the moment a
    checkpoint lands, the job resumes from it with every earlier step in its history, although
    its worker would otherwise have written them seconds later."""
    with (
        WarmstepClient(lazy_events_pool.base_url, timeout_s=60) as client,
        redis.Redis.from_url(lazy_events_pool.redis_url, decode_responses=True) as db,
    ):
        job = client.submit(slow_spec(STEPS, delay_s=0.1))  # seconds of margin after update 10
        victim = runner_of(db, job["id"])

        def checkpointed() -> int | None:
            step = int(db.hget(keys.job_record(job["id"]), "checkpoint_step") or 0)
            return step if step >= 10 else None

        stored = wait_for(checkpointed, "the checkpoint at update 10")
        kill(victim.pid)
        written = [d["step"] for _, t, a, d in events(db, job["id"]) if t == "step"]
        assert written[:stored] == list(range(stored))
        client.wait(job["id"])
        outcome = check_resumed(client, db, job["id"], baseline)
    assert outcome["start"] >= stored


def test_zombie_worker_is_fenced_off_and_leaves_the_job_alone(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient, baseline: dict[str, Any]
) -> None:
    job = client.submit(slow_spec(STEPS))
    wait_for_step(client, job["id"], 12)
    zombie = runner_of(pool_redis, job["id"])
    kill(zombie.pid, signal.SIGSTOP)
    try:
        for event in client.follow(job["id"]):  # the lease runs out; another worker resumes
            if event["type"] == "step" and event["data"]["attempt"] == 2:
                break
    finally:
        kill(zombie.pid, signal.SIGCONT)
    client.wait(job["id"])
    check_resumed(client, pool_redis, job["id"], baseline)
    assert pool_redis.hget(keys.job_record(job["id"]), "worker") != zombie.id
    stream = events(pool_redis, job["id"])
    takeover = next(i for i, (_, _, attempt, _) in enumerate(stream) if attempt == 2)
    assert all(attempt != 1 for _, _, attempt, _ in stream[takeover:])

    def zombie_idle_again() -> bool | None:
        workers = client._http.get("/v1/workers").json()["workers"]
        return any(w["id"] == zombie.id and w["current_job"] == "" for w in workers) or None

    wait_for(zombie_idle_again, "the zombie to abandon the job and serve again", timeout_s=30)
    assert alive(zombie.pid)


def test_sigterm_checkpoints_hands_back_and_the_job_continues_elsewhere(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient, baseline: dict[str, Any]
) -> None:
    job = client.submit(slow_spec(STEPS))
    wait_for_step(client, job["id"], 12)
    stopped = runner_of(pool_redis, job["id"])
    supervisor = supervisor_of(pool, stopped.pid)
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(60) == 0
    client.wait(job["id"])
    outcome = check_resumed(client, pool_redis, job["id"], baseline)
    stream = events(pool_redis, job["id"])
    stop_checkpoints = [
        d for _, t, a, d in stream if t == "checkpoint" and a == 1 and "reason" in d
    ]
    assert len(stop_checkpoints) == 1
    # Checkpointed where it stopped: nothing is repeated, so nothing is superseded.
    assert outcome["start"] == stop_checkpoints[0]["updates_done"]
    assert all(r["superseded_by"] is None for r in outcome["history"]["steps"])
    assert any(t == "status" and d["status"] == "queued" and a == 1 for _, t, a, d in stream)
    # Handed back (a fresh dispatch entry), not reclaimed after a lease: two entries, none pending.
    stream_key = keys.dispatch_stream("cpu")
    mine = [i for i, f in entries(pool_redis, stream_key) if f["job"] == job["id"]]
    assert len(mine) == 2
    pending = pool_redis.xpending_range(stream_key, keys.DISPATCH_GROUP, "-", "+", 1000)
    assert not {p["message_id"] for p in pending} & set(mine)


@pytest.mark.parametrize("how", ["sigkill"])
def test_poison_job_is_dead_lettered_and_the_workers_keep_serving(
    pool: Stack, pool_redis: redis.Redis, client: WarmstepClient, how: str
) -> None:
    poison = client.submit(
        {**slow_spec(10), "model": {"name": "plugin_poison", "how": how, "after_calls": 0}}
    )
    healthy = client.submit(slow_spec(10, delay_s=0.0))
    assert client.wait(healthy["id"])["status"] == "succeeded"
    final = client.wait(poison["id"])
    assert final["status"] == "failed"
    assert final["error"]["code"] == "attempts_exhausted"
    assert "3 attempts" in final["error"]["message"]
    assert final["attempt"] == 3
    dead = [f for _, f in entries(pool_redis, keys.DEAD_LETTER_STREAM) if f["job"] == poison["id"]]
    assert len(dead) == 1
    assert all(w.poll() is None for w in pool.workers)  # no supervisor went down with the job
    wait_for(lambda: pool.live_workers() == 2 or None, "both workers serving again", timeout_s=60)
    after = client.submit(slow_spec(3, delay_s=0.0))
    assert client.wait(after["id"])["status"] == "succeeded"

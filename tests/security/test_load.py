"""The small version of ``bench/soak.py`` (the full one: 300 clients for 30 s, 200 followers):
concurrent evaluate clients and concurrent followers of one running job, with zero errors.
Nothing here asserts on time."""

from __future__ import annotations

import asyncio

from bench.soak import evaluate_load, follow_load
from tests.processes import Stack


def test_concurrent_evaluate_clients_see_no_error(stack: Stack) -> None:
    load = asyncio.run(evaluate_load(stack.base_url, clients=50, seconds=5.0))
    assert not load.errors
    assert len(load.latencies_s) >= 50


def test_concurrent_followers_each_see_every_step(stack: Stack) -> None:
    follow = asyncio.run(follow_load(stack.base_url, followers=50, updates=60))
    assert not follow.errors
    assert follow.final_status == "succeeded"
    assert dict(follow.step_counts) == {60: 50}

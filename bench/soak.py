"""Bounded loopback load that must hold with zero errors (figures in docs/reliability.md, "Load"):

- ``clients`` concurrent clients POST a 1,000-step cosine evaluate for ``seconds``;
- ``followers`` concurrent SSE followers of one running job, each of which must see every step
  event once, in order, and the terminal status.

``python -m bench.soak`` starts its own Redis, front end and worker (``bench._common.stack``);
``--url`` (and ``--token``) aims it at a running service instead. ``make test`` runs a small
version (tests/security/test_load.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench._common import machine, percentile, stack

EVALUATE = {
    "schedule": {"type": "CosineAnnealingLR", "T_max": 1000},
    "base_lr": 0.1,
    "steps": 1000,
}
TERMINAL = {"succeeded", "failed", "cancelled"}


def job_spec(updates: int) -> dict[str, Any]:
    return {
        "model": {"name": "mlp"},
        "data": {"name": "digits"},
        "optimizer": {"type": "SGD", "lr": 0.01},
        "schedule": {"type": "get_cosine_schedule_with_warmup"},
        "batch_size": 16,
        "max_steps": updates,
        "warmup_ratio": 0.1,
    }


@dataclass
class EvaluateLoad:
    clients: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + sum(self.errors.values())


async def evaluate_load(
    base_url: str, clients: int, seconds: float, headers: dict[str, str] | None = None
) -> EvaluateLoad:
    """``clients`` tasks, each with one request in flight at a time, for ``seconds``."""
    result = EvaluateLoad(clients, seconds)
    body = json.dumps(EVALUATE).encode()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    request_headers = {"Content-Type": "application/json", **(headers or {})}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        stop_at = time.monotonic() + seconds

        async def one_client() -> None:
            while time.monotonic() < stop_at:
                start = time.perf_counter()
                try:
                    answer = await client.post(
                        "/v1/schedules/evaluate", content=body, headers=request_headers
                    )
                except httpx.HTTPError as exc:
                    result.errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                    continue
                if answer.status_code != 200 or len(answer.json()["lr"][0]) != 1000:
                    result.errors[f"HTTP {answer.status_code}"] += 1
                    continue
                result.latencies_s.append(time.perf_counter() - start)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return result


@dataclass
class FollowLoad:
    followers: int
    updates: int
    seconds: float = 0.0
    step_counts: Counter[int] = field(default_factory=Counter)  # steps seen -> followers
    errors: Counter[str] = field(default_factory=Counter)
    final_status: str = ""


async def follow_load(
    base_url: str, followers: int, updates: int, headers: dict[str, str] | None = None
) -> FollowLoad:
    """Submit one job of ``updates`` steps and follow it with ``followers`` SSE clients at once;
    each must see steps 0..updates-1 exactly once, in order, then the terminal status."""
    result = FollowLoad(followers, updates)
    limits = httpx.Limits(max_connections=followers + 4)
    timeout = httpx.Timeout(60, read=300)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=timeout, headers=headers or {}
    ) as client:
        submitted = await client.post("/v1/jobs", json=job_spec(updates))
        submitted.raise_for_status()
        job_id = submitted.json()["id"]
        start = time.perf_counter()
        outcomes = await asyncio.gather(
            *(_follow(client, job_id) for _ in range(followers)), return_exceptions=True
        )
        result.seconds = time.perf_counter() - start
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.errors[f"{type(outcome).__name__}: {outcome}"[:120]] += 1
            continue
        steps, status = outcome
        result.final_status = status
        if steps != list(range(len(steps))) or status not in TERMINAL:
            result.errors["out of order or no terminal status"] += 1
        result.step_counts[len(steps)] += 1
    if result.final_status == "succeeded" and set(result.step_counts) != {updates}:
        result.errors["a follower missed steps"] += 1
    return result


async def _follow(client: httpx.AsyncClient, job_id: str) -> tuple[list[int], str]:
    steps: list[int] = []
    event = ""
    async with client.stream("GET", f"/v1/jobs/{job_id}/events") as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"HTTP {answer.status_code}: {(await answer.aread())[:200]!r}")
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])["data"]
                if event == "step":
                    steps.append(int(data["step"]))
                elif event == "status" and data.get("status") in TERMINAL:
                    return steps, str(data["status"])
    return steps, "stream ended early"


def report(load: EvaluateLoad, follow: FollowLoad) -> str:
    lat = sorted(load.latencies_s) or [0.0]
    return "\n".join(
        [
            f"machine: {machine()}",
            f"evaluate: {load.clients} clients x {load.seconds:g} s: {load.requests} requests, "
            f"{len(load.latencies_s) / load.seconds:.0f} ok/s, p50 "
            f"{percentile(lat, 50) * 1e3:.0f} ms, p99 {percentile(lat, 99) * 1e3:.0f} ms, "
            f"errors {dict(load.errors) or 0}",
            f"follow: {follow.followers} followers of one {follow.updates}-step job: "
            f"{follow.final_status} in {follow.seconds:.1f} s, steps seen per follower "
            f"{dict(follow.step_counts)}, errors {dict(follow.errors) or 0}",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--url", help="a running front end (else one is started)")
    parser.add_argument("--token", help="bearer token, when the service has auth on")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else None

    async def both(url: str) -> str:
        load = await evaluate_load(url, args.clients, args.seconds, headers)
        follow = await follow_load(url, args.followers, args.updates, headers)
        return report(load, follow)

    if args.url:
        print(asyncio.run(both(args.url)))
        return
    with stack(workers=1) as running:
        print(asyncio.run(both(running.http)))


if __name__ == "__main__":
    main()

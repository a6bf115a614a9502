"""gRPC evaluate under load: ``ScheduleService.Evaluate`` (packed doubles, raw bytes and
``points=1000``) and ``StreamEvaluate`` for the same curves as the REST table, against
``grpc.health.v1.Health/Check`` on the same server process; a grpc.aio client keeps 16 calls in
flight. One row repeats one request (the answer cache's case); the others make every request
distinct, so each is evaluated."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator

import grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench._common import Size, Table, percentile, stack
from bench.load import Load
from warmstep_client.v1 import schedules_pb2, schedules_pb2_grpc

CONCURRENCY = 16
MAX_MESSAGE = 256 * 1024 * 1024


def evaluate_request(
    steps: int, points: int = 0, raw: bool = False, num_cycles: float = 0.5
) -> schedules_pb2.EvaluateRequest:
    schedule = struct_pb2.Struct()
    schedule.update(
        {
            "type": "get_cosine_schedule_with_warmup",
            "num_warmup_steps": steps // 10,
            "num_training_steps": steps,
            "num_cycles": num_cycles,
        }
    )
    return schedules_pb2.EvaluateRequest(
        schedule=schedule, base_lr=[0.1], steps=steps, points=points, raw=raw
    )


async def _load(call: Callable[[], Awaitable[object]], seconds: float) -> Load:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                await call()
            except grpc.aio.AioRpcError:
                errors += 1
            latencies.append((time.perf_counter() - start) * 1e3)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return Load(
        len(latencies),
        time.perf_counter() - began,
        percentile(latencies, 50),
        percentile(latencies, 99),
        errors,
        "grpc.aio",
    )


async def _table(address: str, size: Size) -> Table:
    table = Table(
        f"gRPC evaluate: grpc.aio client, {CONCURRENCY} calls in flight, "
        f"{size.load_seconds:g} s per row",
        ["call", "values", "calls/s", "vs Health/Check", "p50 ms", "p99 ms", "errors"],
    )
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        schedules = schedules_pb2_grpc.ScheduleServiceStub(channel)
        check = health_pb2.HealthCheckRequest(service="")
        await _load(lambda: health.Check(check), min(1.0, size.load_seconds))  # warm-up
        constant = await _load(lambda: health.Check(check), size.load_seconds)
        _row(table, "Health/Check (constant)", "-", constant, constant)
        for steps in size.rest_steps:
            full = evaluate_request(steps)
            answer = await schedules.Evaluate(full)
            assert len(answer.lr[0].values) == steps, "Evaluate returned a short curve"
            raw = evaluate_request(steps, raw=True)
            assert len((await schedules.Evaluate(raw)).lr[0].raw) == 8 * steps, "short raw curve"
            sampled = len((await schedules.Evaluate(evaluate_request(steps, 1000))).lr[0].values)
            made = itertools.count(1)

            def distinct(
                points: int = 0,
                raw: bool = False,
                steps: int = steps,
                made: Iterator[int] = made,
            ) -> schedules_pb2.EvaluateRequest:
                """A request no other call of the run makes (num_cycles differs)."""
                return evaluate_request(steps, points, raw, 0.5 + next(made) * 1e-10)

            async def stream() -> None:
                async for _ in schedules.StreamEvaluate(distinct(raw=True)):
                    pass

            for label, call, values in (
                ("Evaluate, same request", lambda r=full: schedules.Evaluate(r), steps),
                ("Evaluate, distinct requests", lambda: schedules.Evaluate(distinct()), steps),
                (
                    "Evaluate raw, distinct requests",
                    lambda: schedules.Evaluate(distinct(raw=True)),
                    steps,
                ),
                (
                    "Evaluate points=1000, distinct requests",
                    lambda: schedules.Evaluate(distinct(1000)),
                    sampled,
                ),
                ("StreamEvaluate raw, distinct requests", stream, steps),
            ):
                load = await _load(call, size.load_seconds)
                _row(table, f"{label}, {steps:,} steps", values, load, constant)
    table.notes.append(
        "client and server share the machine's 2 cores; curves as in the REST "
        "table (get_cosine_schedule_with_warmup); values are packed doubles, or "
        "little-endian float64 bytes in Series.raw for the raw rows (EvaluateRequest.raw); "
        "'same request' rows are answered from the answer cache (up to its entry bound), "
        "'distinct requests' differ in num_cycles so every call is evaluated"
    )
    return table


def _row(table: Table, label: str, values: object, load: Load, constant: Load) -> None:
    table.add(
        label,
        values,
        load.rps,
        f"{load.rps / constant.rps:.0%}",
        load.p50_ms,
        load.p99_ms,
        load.errors,
    )


def run(size: Size) -> list[Table]:
    with stack() as running:
        return [asyncio.run(_table(running.grpc, size))]

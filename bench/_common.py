"""Shared pieces of the benchmarks: sizes, a plain-text table, percentiles, and the warmstep
processes (an embedded Redis, one front end, workers) each benchmark starts for itself."""

from __future__ import annotations

import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from service.embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


@dataclass(frozen=True)
class Size:
    """How big each benchmark runs: ``full`` for the figures, ``tiny`` for the smoke test."""

    name: str
    engine_steps: int
    reference_steps: int
    repeats: int
    rest_steps: tuple[int, ...]
    load_seconds: float
    train_updates: tuple[int, int]  # tiny MLP, tens-of-ms model
    latency_jobs: int
    followers: tuple[int, ...]
    follow_steps: int
    queue_jobs: int
    short_steps: int = 1_000  # engine: the short curve a dashboard asks for


FULL = Size(
    "full",
    1_000_000,
    100_000,
    5,  # engine and reference: the fastest of 5 runs each (this VM's runs differ by 10-40%)
    (1_000, 100_000, 1_000_000),
    3.0,
    (5000, 300),
    20,
    (1, 50, 200),
    200,
    1000,
)
TINY = Size("tiny", 2_000, 200, 1, (1_000,), 0.2, (10, 2), 1, (1, 2), 5, 4, 100)


@dataclass
class Table:
    title: str
    columns: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([cell if isinstance(cell, str) else fmt(cell) for cell in cells])

    def render(self) -> str:
        widths = [max(len(c) for c in col) for col in zip(self.columns, *self.rows, strict=True)]
        line = " | ".join(f"{c:<{w}}" for c, w in zip(self.columns, widths, strict=True))
        out = [
            f"## {self.title}",
            "",
            f"| {line} |",
            "| " + " | ".join("-" * w for w in widths) + " |",
        ]
        out += [
            "| " + " | ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)) + " |"
            for r in self.rows
        ]
        out += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0 or 0.01 <= abs(value) < 1e5:
            return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        return f"{value:.3g}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Python's cyclic garbage collector off, as ``timeit`` times code: a collection of what
    earlier rows left would otherwise land in whichever row runs next. (No collection first:
    that leaves the next call's memory cold, 2-3x slower on this VM.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds (garbage collector off)."""
    times = []
    for _ in range(repeats):
        with no_gc():
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return min(times)


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process ``pid`` has used so far; Linux
    ``/proc``, NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(
    check: Callable[[], T | None],
    what: str,
    timeout_s: float = 60.0,
    alive: Sequence[subprocess.Popen[bytes]] = (),
) -> T:
    """Poll ``check`` until it answers; fail early when one of ``alive`` has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dead = [p.args for p in alive if p.poll() is not None]
        if dead:
            raise RuntimeError(f"waiting for {what}: process exited: {dead}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            value = check()
            if value is not None:
                return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class Stack:
    """A running Redis, front end and workers: ``http`` and ``grpc`` are loopback addresses."""

    redis: EmbeddedRedis
    http: str
    grpc: str
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]
    logs: Path

    def add_worker(self) -> subprocess.Popen[bytes]:
        index = len(self.processes)
        proc = _spawn(["worker"], self.env, self.logs / f"worker{index}.log")
        self.processes.append(proc)
        return proc

    def wait_workers(self, count: int, timeout_s: float = 90.0) -> None:
        def ready() -> bool | None:
            workers = httpx.get(f"{self.http}/v1/workers", timeout=5).json()["workers"]
            return True if len(workers) >= count else None

        wait_for(ready, f"{count} workers", timeout_s, self.processes)


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", *command],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


@contextlib.contextmanager
def stack(workers: int = 0, **settings: Any) -> Iterator[Stack]:
    """Start an embedded Redis, ``warmstep serve`` (one uvicorn + gRPC process) and ``workers``
    worker processes on loopback; stop them all (SIGTERM, then SIGKILL) on exit."""
    with tempfile.TemporaryDirectory(prefix="warmstep-bench-") as tmp:
        logs = Path(tmp)
        redis = EmbeddedRedis(logs / "redis")
        redis.start()
        http_port, grpc_port = free_port(), free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("WARMSTEP_") and k != "REDIS_URL"
        }
        env |= {
            "REDIS_URL": redis.url,
            "WARMSTEP_HTTP_PORT": str(http_port),
            "WARMSTEP_GRPC_PORT": str(grpc_port),
            "WARMSTEP_DATA_DIR": str(logs / "data"),
            "WARMSTEP_LOG_LEVEL": "warning",
            "WARMSTEP_WORKER_DEVICE": "cpu",
        }
        env |= {f"WARMSTEP_{k.upper()}": str(v) for k, v in settings.items()}
        running = Stack(
            redis, f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}", env, [], logs
        )
        try:
            running.processes.append(_spawn(["serve"], env, logs / "serve.log"))
            wait_for(
                lambda: httpx.get(f"{running.http}/healthz", timeout=2).is_success or None,
                "the front end",
                60,
                running.processes,
            )
            for _ in range(workers):
                running.add_worker()
            if workers:
                running.wait_workers(workers)
            yield running
        except BaseException:
            for log in sorted(logs.glob("*.log")):
                sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}\n")
            raise
        finally:
            _stop(running.processes)
            redis.stop()


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def machine() -> str:
    """One line naming the machine the figures come from."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import numpy
    import torch

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"numpy {numpy.__version__}, torch {torch.__version__}"
    )

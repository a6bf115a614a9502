"""Prometheus metrics of the front end: in-process ones (evaluate latency, open event streams)
and a snapshot of Redis read at scrape time (jobs, queue, workers).

The Redis-backed metrics describe the whole deployment, not this process, so every front end
reports the same values: scrape one of them (or aggregate with ``max``, never ``sum``).

Counters and histograms of jobs are computed from the job records themselves (``created_at``,
``started_at``, ``finished_at``, ``attempt``, ``status``): they are exact, survive a front-end
restart and need no extra write on the hot path. A finished record never changes again, so its
contribution is folded in once and remembered (:class:`JobTally`); a scrape reads only the ids
and the records of jobs not yet finished.

    warmstep_jobs_submitted_total                     counter
    warmstep_jobs_finished_total{outcome}             counter   succeeded | failed | cancelled
    warmstep_jobs{status}                             gauge     queued | running
    warmstep_queue_depth{device_class}                gauge     queued jobs per dispatch stream
    warmstep_dispatch_pending{device_class}           gauge     entries delivered, not yet acked
    warmstep_job_redeliveries_total                   counter   sum over jobs of (attempt - 1)
    warmstep_dead_letters                             gauge     entries of the dead-letter stream
    warmstep_job_duration_seconds{outcome}            histogram started -> finished
    warmstep_job_queue_wait_seconds                   histogram created -> first start
    warmstep_workers{device_kind,state}               gauge     idle | busy
    warmstep_worker_heartbeat_age_seconds{device_kind} gauge    oldest live heartbeat
    warmstep_evaluate_request_duration_seconds{status} histogram (in process)
    warmstep_event_stream_subscribers                 gauge     open SSE follows (in process)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import ResponseError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.redis_store import live_workers
from warmstep import keys
from warmstep.lifecycle import TERMINAL, JobStatus

DEVICE_CLASSES = ("cpu", "cuda")
DURATION_BUCKETS_S = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600)
WAIT_BUCKETS_S = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 3600)
EVALUATE_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_EVENTS_PATH = re.compile(r"^/v1/jobs/[^/]+/events$")
_FIELDS = ("status", "device_class", "created_at", "started_at", "finished_at", "attempt")


@dataclass
class _Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        slot = next((i for i, b in enumerate(self.bounds) if value <= b), len(self.bounds))
        self.counts[slot] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, ``+Inf`` last, as the exposition format wants."""
        running, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(float(bound)), float(running)))
        return out


@dataclass
class JobTally:
    """What finished jobs contributed; each id is folded in once."""

    finished_ids: set[str] = field(default_factory=set)
    started_ids: set[str] = field(default_factory=set)
    finished: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in TERMINAL})
    redeliveries: int = 0
    duration: dict[str, _Histogram] = field(
        default_factory=lambda: {s.value: _Histogram(DURATION_BUCKETS_S) for s in TERMINAL}
    )
    wait: _Histogram = field(default_factory=lambda: _Histogram(WAIT_BUCKETS_S))

    def fold(self, job_id: str, record: dict[str, str]) -> None:
        """Count a job's first start (queue wait) and its end (outcome, duration, retries)."""
        started, created = _number(record.get("started_at")), _number(record.get("created_at"))
        if started is not None and created is not None and job_id not in self.started_ids:
            self.started_ids.add(job_id)
            self.wait.observe(max(0.0, started - created))
        status = record.get("status", "")
        if status not in self.finished or job_id in self.finished_ids:
            return
        self.finished_ids.add(job_id)
        self.started_ids.discard(job_id)  # finished ids are remembered in finished_ids instead
        self.finished[status] += 1
        self.redeliveries += max(0, int(record.get("attempt") or 0) - 1)
        finished = _number(record.get("finished_at"))
        if started is not None and finished is not None:
            self.duration[status].observe(max(0.0, finished - started))


def _number(value: str | None) -> float | None:
    return float(value) if value else None


@dataclass(frozen=True)
class Snapshot:
    """Everything the Redis-backed metrics show, read in one scrape."""

    submitted: int
    active: dict[str, int]  # queued / running -> count
    queued_by_class: dict[str, int]
    running_redeliveries: int
    pending_by_class: dict[str, int]
    dead_letters: int
    workers: dict[tuple[str, str], int]  # (device_kind, idle|busy) -> count
    heartbeat_age_s: dict[str, float]  # device_kind -> oldest heartbeat age
    tally: JobTally


async def read_snapshot(redis: aioredis.Redis, tally: JobTally) -> Snapshot:
    ids = [str(i) for i in await redis.zrange(keys.JOBS_INDEX, 0, -1)]
    todo = [i for i in ids if i not in tally.finished_ids]
    pipe = redis.pipeline(transaction=False)
    for job_id in todo:
        pipe.hmget(keys.job_record(job_id), _FIELDS)
    active = {JobStatus.QUEUED.value: 0, JobStatus.RUNNING.value: 0}
    queued_by_class = dict.fromkeys(DEVICE_CLASSES, 0)
    running_redeliveries = 0
    for job_id, values in zip(todo, await pipe.execute(), strict=True):
        record = {k: v for k, v in zip(_FIELDS, values, strict=True) if v is not None}
        if not record:
            continue
        tally.fold(job_id, record)
        status = record.get("status", "")
        if status in active:
            active[status] += 1
            if status == JobStatus.RUNNING.value:
                running_redeliveries += max(0, int(record.get("attempt") or 0) - 1)
        if status == JobStatus.QUEUED.value:
            device = record.get("device_class", "cpu")
            queued_by_class[device] = queued_by_class.get(device, 0) + 1
    workers, ages = await _worker_stats(redis)
    return Snapshot(
        submitted=len(ids),
        active=active,
        queued_by_class=queued_by_class,
        running_redeliveries=running_redeliveries,
        pending_by_class=await _pending(redis),
        dead_letters=int(await redis.xlen(keys.DEAD_LETTER_STREAM)),
        workers=workers,
        heartbeat_age_s=ages,
        tally=tally,
    )


async def _pending(redis: aioredis.Redis) -> dict[str, int]:
    """Dispatch entries handed to a worker and not yet acknowledged, per device class."""
    pending = {}
    for device in DEVICE_CLASSES:
        try:
            summary = await redis.xpending(keys.dispatch_stream(device), keys.DISPATCH_GROUP)
        except ResponseError:  # no stream or no group yet: no worker of that class ever started
            summary = {"pending": 0}
        pending[device] = int(summary["pending"])
    return pending


async def _worker_stats(
    redis: aioredis.Redis,
) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    now = time.time()
    counts: dict[tuple[str, str], int] = {}
    ages: dict[str, float] = {}
    for worker in await live_workers(redis):
        state = "busy" if worker.current_job else "idle"
        counts[(worker.device_kind, state)] = counts.get((worker.device_kind, state), 0) + 1
        age = max(0.0, now - worker.heartbeat_at)
        ages[worker.device_kind] = max(age, ages.get(worker.device_kind, 0.0))
    return counts, ages


class SnapshotCollector(Collector):
    """Exposes one :class:`Snapshot` (a fresh registry holds it for one scrape)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._s = snapshot

    def collect(self) -> Iterable[Metric]:
        s, tally = self._s, self._s.tally
        yield CounterMetricFamily("warmstep_jobs_submitted", "Jobs submitted.", s.submitted)
        finished = CounterMetricFamily(
            "warmstep_jobs_finished", "Jobs that reached a terminal state.", labels=["outcome"]
        )
        for outcome, count in sorted(tally.finished.items()):
            finished.add_metric([outcome], count)
        yield finished
        yield _labelled(
            "warmstep_jobs",
            "Jobs queued or running now.",
            ["status"],
            {(k,): v for k, v in s.active.items()},
        )
        yield _labelled(
            "warmstep_queue_depth",
            "Jobs waiting for a worker, per device class.",
            ["device_class"],
            {(k,): v for k, v in s.queued_by_class.items()},
        )
        yield _labelled(
            "warmstep_dispatch_pending",
            "Dispatch entries delivered to a worker and not yet acknowledged.",
            ["device_class"],
            {(k,): v for k, v in s.pending_by_class.items()},
        )
        yield CounterMetricFamily(
            "warmstep_job_redeliveries",
            "Extra attempts of jobs (a worker died or gave a job back), summed over jobs.",
            tally.redeliveries + s.running_redeliveries,
        )
        yield GaugeMetricFamily(
            "warmstep_dead_letters", "Entries in the dead-letter stream.", s.dead_letters
        )
        yield from self._histograms()
        yield from self._workers()

    def _histograms(self) -> Iterator[Metric]:
        tally = self._s.tally
        duration = HistogramMetricFamily(
            "warmstep_job_duration_seconds",
            "Run time of finished jobs (first start to end).",
            labels=["outcome"],
            unit="",
        )
        for outcome, hist in sorted(tally.duration.items()):
            duration.add_metric([outcome], hist.buckets(), hist.total)
        yield duration
        wait = HistogramMetricFamily(
            "warmstep_job_queue_wait_seconds", "Time from submit to the first start of a job."
        )
        wait.add_metric([], tally.wait.buckets(), tally.wait.total)
        yield wait

    def _workers(self) -> Iterator[Metric]:
        yield _labelled(
            "warmstep_workers",
            "Live workers (heartbeat alive).",
            ["device_kind", "state"],
            dict(self._s.workers),
        )
        yield _labelled(
            "warmstep_worker_heartbeat_age_seconds",
            "Age of the oldest heartbeat among live workers.",
            ["device_kind"],
            {(k,): v for k, v in self._s.heartbeat_age_s.items()},
        )


def _labelled(
    name: str, doc: str, labels: list[str], values: Mapping[Any, float]
) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(name, doc, labels=labels)
    for label_values, value in sorted(values.items()):
        metric.add_metric(list(label_values), float(value))
    return metric


class ProcessMetrics:
    """The in-process metrics of one app (a registry per app, so tests can build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tally = JobTally()
        self.evaluate_seconds = Histogram(
            "warmstep_evaluate_request_duration_seconds",
            "Latency of POST /v1/schedules/evaluate, by HTTP status.",
            ["status"],
            buckets=EVALUATE_BUCKETS_S,
            registry=self.registry,
        )
        self.subscribers = Gauge(
            "warmstep_event_stream_subscribers",
            "Clients following a job's events (SSE) now.",
            registry=self.registry,
        )


class MetricsMiddleware:
    """Pure ASGI middleware (streaming responses pass through untouched): times the evaluate
    requests that reach the framework's route, counts open event streams. (The served app
    answers evaluate POSTs in front of the framework and times them there, into the same
    histogram: :class:`service.rest.evaluate_endpoint.EvaluateEndpoint`.)"""

    def __init__(self, app: ASGIApp, metrics: ProcessMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/v1/schedules/evaluate":
            await self._timed(scope, receive, send)
        elif _EVENTS_PATH.match(path):
            self.metrics.subscribers.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.subscribers.dec()
        else:
            await self.app(scope, receive, send)

    async def _timed(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = "500"

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.evaluate_seconds.labels(status).observe(time.perf_counter() - start)

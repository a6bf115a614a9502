"""REST evaluate under load: 1k-, 100k- and 10^6-step cosine curves as JSON, raw float64
(``Accept: application/octet-stream``) and downsampled (``points=1000``, JSON), against
``GET /healthz`` on the same single uvicorn process (the stack's own limit).

Each row runs twice: with the same body on every request (a dashboard's viewers and refreshes:
answers of up to ``evaluate_cache_entry_bytes`` come from the answer cache) and with a distinct
body on every request (``num_cycles`` differs, so every request parses, validates, evaluates and
encodes: a slider being dragged). The 10^6-step binary answer is also timed alone (one
connection), its latency unloaded.

The load generator shares the machine's cores with the server, so each row also reports the
server process's own CPU time per request (``/proc``): the ratio of those is the throughput share
a server with a core to itself would reach, free of what the load generator takes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from bench._common import Size, Table, process_cpu_s, stack
from bench.load import Load, http_load

CONNECTIONS = 16
JSON_TARGET = 0.70  # 1k-step JSON evaluate vs the constant route


_CYCLES_SLOT = 0.123456789  # replaced by a per-request number in the distinct-body template


def _body(steps: int, points: int | None, num_cycles: float) -> str:
    body: dict[str, object] = {
        "schedule": {
            "type": "get_cosine_schedule_with_warmup",
            "num_warmup_steps": steps // 10,
            "num_training_steps": steps,
            "num_cycles": num_cycles,
        },
        "base_lr": 0.1,
        "steps": steps,
    }
    if points is not None:
        body["points"] = points
    return json.dumps(body)


def evaluate_body(steps: int, points: int | None = None) -> bytes:
    return _body(steps, points, 0.5).encode()


def evaluate_template(steps: int, points: int | None = None) -> str:
    """The body with ``num_cycles`` = 0.5 followed by the request's number (``%010d``)."""
    return _body(steps, points, _CYCLES_SLOT).replace(repr(_CYCLES_SLOT), "0.5%010d")


FORMATS: dict[str, tuple[str, int | None]] = {
    "json": ("application/json", None),
    "binary": ("application/octet-stream", None),
    "downsampled": ("application/json", 1000),
}


def _check(base: str, steps: int, accept: str, points: int | None) -> int:
    """One request before the load: it must succeed; answers the body's size in bytes."""
    response = httpx.post(
        f"{base}/v1/schedules/evaluate",
        content=evaluate_body(steps, points),
        headers={"Accept": accept, "Content-Type": "application/json"},
        timeout=60,
    )
    response.raise_for_status()
    if accept == "application/octet-stream":
        assert len(response.content) == 8 * steps, "binary body is not 8 bytes per step"
    return len(response.content)


@dataclass(frozen=True)
class Measured:
    """A load run and the CPU seconds the server process spent during it."""

    load: Load
    server_cpu_s: float

    @property
    def rps(self) -> float:
        return self.load.rps

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per request."""
        return 1e6 * self.server_cpu_s / max(self.load.requests, 1)


def _measured(pid: int, *load_args: Any, **load_kwargs: Any) -> Measured:
    """:func:`http_load` with these arguments, and the CPU the server ``pid`` spent meanwhile."""
    before = process_cpu_s(pid)
    result = http_load(*load_args, **load_kwargs)
    return Measured(result, process_cpu_s(pid) - before)


def run(size: Size) -> list[Table]:
    table = Table(
        f"REST evaluate: one uvicorn process, {CONNECTIONS} loopback connections, "
        f"{size.load_seconds:g} s per row",
        [
            "request",
            "body bytes",
            "req/s",
            "vs /healthz",
            "server CPU us/req",
            "CPU vs /healthz",
            "p50 ms",
            "p99 ms",
            "errors",
        ],
    )
    seconds = size.load_seconds
    with stack() as running:
        base = running.http
        pid = running.processes[0].pid
        http_load(f"{base}/healthz", seconds=min(1.0, size.load_seconds))  # warm-up
        constant = _measured(
            pid, f"{base}/healthz", connections=CONNECTIONS, seconds=size.load_seconds
        )
        _row(table, "GET /healthz (constant)", 0, constant, constant)
        results: dict[tuple[int, str, str], Measured] = {}
        headers = {"Content-Type": "application/json"}
        url = f"{base}/v1/schedules/evaluate"
        for steps in size.rest_steps:
            for name, (accept, points) in FORMATS.items():
                nbytes = _check(base, steps, accept, points)
                accepting = headers | {"Accept": accept}
                same = _measured(
                    pid, url, "POST", evaluate_body(steps, points), accepting, CONNECTIONS, seconds
                )
                distinct = _measured(
                    pid,
                    url,
                    "POST",
                    None,
                    accepting,
                    CONNECTIONS,
                    seconds,
                    evaluate_template(steps, points),
                )
                results[steps, name, "same"], results[steps, name, "distinct"] = same, distinct
                label = f"evaluate {steps:,} steps {name}"
                _row(table, f"{label}, same body", nbytes, same, constant)
                _row(table, f"{label}, distinct bodies", nbytes, distinct, constant)
        big = max(size.rest_steps)
        alone = _measured(
            pid,
            url,
            "POST",
            None,
            headers | {"Accept": "application/octet-stream"},
            1,
            seconds,
            evaluate_template(big),
        )
        results[big, "binary", "alone"] = alone
        _row(
            table,
            f"evaluate {big:,} steps binary, distinct, 1 connection",
            8 * big,
            alone,
            constant,
        )
    table.notes.append(
        f"load generator: {constant.load.tool} (-t2 -c{CONNECTIONS}) on the same "
        "2 cores as the server; schedule get_cosine_schedule_with_warmup; server CPU: user + "
        "system time of the server process (all its threads) over the row, per request"
    )
    for mode in ("same", "distinct"):
        small = results.get((1000, "json", mode))
        if small is not None:
            share = small.rps / constant.rps
            cpu_share = constant.cpu_us / small.cpu_us
            table.notes.append(
                f"target: 1k-step JSON at >= {JSON_TARGET:.0%} of /healthz, {mode} body: "
                f"{share:.0%} ({'met' if share >= JSON_TARGET else 'MISSED'}); by server CPU "
                f"per request {cpu_share:.0%}"
            )
    for mode, where in (
        ("alone", "alone (1 connection)"),
        ("distinct", f"under {CONNECTIONS} connections"),
    ):
        big_load = results.get((max(size.rest_steps), "binary", mode))
        if big_load is not None:
            table.notes.append(
                f"{max(size.rest_steps):,}-step binary answer (target: tens of ms) {where}: "
                f"p50 {big_load.load.p50_ms:.0f} ms, p99 {big_load.load.p99_ms:.0f} ms"
            )
    return [table]


def _row(table: Table, label: str, nbytes: int, run: Measured, constant: Measured) -> None:
    table.add(
        label,
        nbytes if nbytes else "-",
        run.rps,
        f"{run.rps / constant.rps:.0%}",
        run.cpu_us,
        f"{constant.cpu_us / run.cpu_us:.0%}",
        run.load.p50_ms,
        run.load.p99_ms,
        run.load.errors,
    )

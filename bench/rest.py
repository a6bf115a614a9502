"""REST evaluate under load: 1k-, 100k- and 10^6-step cosine curves as JSON, raw float64
(``Accept: application/octet-stream``) and downsampled (``points=1000``, JSON), against
``GET /healthz`` on the same single uvicorn process (the stack's own limit)."""

from __future__ import annotations

import json

import httpx

from bench._common import Size, Table, stack
from bench.load import Load, http_load

CONNECTIONS = 16
JSON_TARGET = 0.70  # 1k-step JSON evaluate vs the constant route


def evaluate_body(steps: int, points: int | None = None) -> bytes:
    body: dict[str, object] = {
        "schedule": {
            "type": "get_cosine_schedule_with_warmup",
            "num_warmup_steps": steps // 10,
            "num_training_steps": steps,
        },
        "base_lr": 0.1,
        "steps": steps,
    }
    if points is not None:
        body["points"] = points
    return json.dumps(body).encode()


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


def run(size: Size) -> list[Table]:
    table = Table(
        f"REST evaluate: one uvicorn process, {CONNECTIONS} loopback connections, "
        f"{size.load_seconds:g} s per row",
        ["request", "body bytes", "req/s", "vs /healthz", "p50 ms", "p99 ms", "errors"],
    )
    with stack() as running:
        base = running.http
        http_load(f"{base}/healthz", seconds=min(1.0, size.load_seconds))  # warm-up
        constant = http_load(f"{base}/healthz", connections=CONNECTIONS, seconds=size.load_seconds)
        _row(table, "GET /healthz (constant)", 0, constant, constant)
        results: dict[tuple[int, str], Load] = {}
        for steps in size.rest_steps:
            for name, (accept, points) in FORMATS.items():
                nbytes = _check(base, steps, accept, points)
                load = http_load(
                    f"{base}/v1/schedules/evaluate",
                    "POST",
                    evaluate_body(steps, points),
                    {"Content-Type": "application/json", "Accept": accept},
                    CONNECTIONS,
                    size.load_seconds,
                )
                results[steps, name] = load
                _row(table, f"evaluate {steps:,} steps {name}", nbytes, load, constant)
    table.notes.append(
        f"load generator: {constant.tool} (-t2 -c{CONNECTIONS}) on the same "
        "2 cores as the server; schedule get_cosine_schedule_with_warmup"
    )
    small = results.get((1000, "json"))
    if small is not None:
        share = small.rps / constant.rps
        table.notes.append(
            f"target: 1k-step JSON at >= {JSON_TARGET:.0%} of /healthz: "
            f"{share:.0%} ({'met' if share >= JSON_TARGET else 'MISSED'})"
        )
    big = results.get((1_000_000, "binary"))
    if big is not None:
        table.notes.append(
            f"target: 10^6-step binary in tens of ms: p50 {big.p50_ms:.0f} ms "
            f"under {CONNECTIONS} connections"
        )
    return [table]


def _row(table: Table, label: str, nbytes: int, load: Load, constant: Load) -> None:
    table.add(
        label,
        nbytes if nbytes else "-",
        load.rps,
        f"{load.rps / constant.rps:.0%}",
        load.p50_ms,
        load.p99_ms,
        load.errors,
    )

"""REST evaluate under load: 1k-, 100k- and 10^6-step cosine curves as JSON, raw float64
(``Accept: application/octet-stream``) and downsampled (``points=1000``, JSON), against
``GET /healthz`` on the same single uvicorn process (the stack's own limit).

Each row runs twice: with the same body on every request (a dashboard's viewers and refreshes:
answers of up to ``evaluate_cache_entry_bytes`` come from the answer cache) and with a distinct
body on every request (``num_cycles`` differs, so every request parses, validates, evaluates and
encodes: a slider being dragged). The 10^6-step binary answer is also timed alone (one
connection), its latency unloaded."""

from __future__ import annotations

import json

import httpx

from bench._common import Size, Table, stack
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


def run(size: Size) -> list[Table]:
    table = Table(
        f"REST evaluate: one uvicorn process, {CONNECTIONS} loopback connections, "
        f"{size.load_seconds:g} s per row",
        ["request", "body bytes", "req/s", "vs /healthz", "p50 ms", "p99 ms", "errors"],
    )
    seconds = size.load_seconds
    with stack() as running:
        base = running.http
        http_load(f"{base}/healthz", seconds=min(1.0, size.load_seconds))  # warm-up
        constant = http_load(f"{base}/healthz", connections=CONNECTIONS, seconds=size.load_seconds)
        _row(table, "GET /healthz (constant)", 0, constant, constant)
        results: dict[tuple[int, str, str], Load] = {}
        headers = {"Content-Type": "application/json"}
        url = f"{base}/v1/schedules/evaluate"
        for steps in size.rest_steps:
            for name, (accept, points) in FORMATS.items():
                nbytes = _check(base, steps, accept, points)
                accepting = headers | {"Accept": accept}
                same = http_load(
                    url, "POST", evaluate_body(steps, points), accepting, CONNECTIONS, seconds
                )
                distinct = http_load(
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
        alone = http_load(
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
        f"load generator: {constant.tool} (-t2 -c{CONNECTIONS}) on the same "
        "2 cores as the server; schedule get_cosine_schedule_with_warmup"
    )
    for mode in ("same", "distinct"):
        small = results.get((1000, "json", mode))
        if small is not None:
            share = small.rps / constant.rps
            table.notes.append(
                f"target: 1k-step JSON at >= {JSON_TARGET:.0%} of /healthz, {mode} body: "
                f"{share:.0%} ({'met' if share >= JSON_TARGET else 'MISSED'})"
            )
    for mode, where in (
        ("alone", "alone (1 connection)"),
        ("distinct", f"under {CONNECTIONS} connections"),
    ):
        big_load = results.get((max(size.rest_steps), "binary", mode))
        if big_load is not None:
            table.notes.append(
                f"{max(size.rest_steps):,}-step binary answer (target: tens of ms) {where}: "
                f"p50 {big_load.p50_ms:.0f} ms, p99 {big_load.p99_ms:.0f} ms"
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

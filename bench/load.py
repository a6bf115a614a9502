"""Bounded loopback HTTP load: ``wrk`` when installed (Debian ``apt-get install wrk``), else a
small asyncio httpx generator. Both keep ``connections`` requests in flight for ``seconds``.

``body`` is sent as is with every request; a ``template`` (a body with one ``%d``) instead sends a
different body with every request (the ``%d`` counts up, from a different start in each load
thread), so that no two requests of a run are the same."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._common import percentile


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_DISTINCT_LUA = """
local threads, counter = 0, 0
function setup(thread)
  thread:set("first", threads * 1000000000)
  threads = threads + 1
end
function init(args) counter = first end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format(template, counter))
end
"""


def _lua(method: str, body: bytes | None, headers: dict[str, str], template: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append("wrk.body = [==[" + body.decode() + "]==]")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if template is not None:
        lines.append("template = [==[" + template + "]==]" + _DISTINCT_LUA)
    return "\n".join(lines) + "\n"


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(
    url: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    template: str | None = None,
) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(method, body, headers, template))
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{min(2, connections)}",
                f"-c{connections}",
                f"-d{max(seconds, 1):g}s",
                "--latency",
                "--timeout",
                "60s",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        ).stdout
    finally:
        Path(script.name).unlink()
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    if total is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    # The "Latency Distribution" rows: a percentile alone at the start of its line (the thread
    # stats above hold percentages such as "68.99%" too).
    p50 = re.search(r"^\s+50(?:\.0+)?%\s+(\S+)$", out, re.M)
    p99 = re.search(r"^\s+99(?:\.0+)?%\s+(\S+)$", out, re.M)
    errors = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(
        int(x) for m in re.findall(r"Socket errors: (.*)", out) for x in re.findall(r"\d+", m)
    )
    return Load(
        int(total.group(1)),
        _ms(total.group(2) + total.group(3)) / 1e3,
        _ms(p50.group(1)) if p50 else float("nan"),
        _ms(p99.group(1)) if p99 else float("nan"),
        errors,
        "wrk",
    )


async def _generate(
    url: str,
    method: str,
    body: bytes | None,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    template: str | None = None,
) -> Load:
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                content = body if template is None else (template % counter).encode()
                start = time.perf_counter()
                response = await client.request(method, url, content=content, headers=headers)
                await response.aread()
                latencies.append((time.perf_counter() - start) * 1e3)
                errors += not response.is_success

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    return Load(
        len(latencies),
        elapsed,
        percentile(latencies, 50),
        percentile(latencies, 99),
        errors,
        "httpx",
    )


def http_load(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    connections: int = 16,
    seconds: float = 3.0,
    template: str | None = None,
) -> Load:
    headers = headers or {}
    if shutil.which("wrk"):
        return run_wrk(url, method, body, headers, connections, seconds, template)
    return asyncio.run(_generate(url, method, body, headers, connections, seconds, template))

"""A thin REST client: numpy arrays for curves, dicts for jobs, and a ``follow`` iterator that
reconnects and resumes (``Last-Event-ID``) by itself, so a dropped connection or a restarted front
end loses and repeats no event."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Curve:
    lr: npt.NDArray[np.float64]  # (groups, n)
    momentum: npt.NDArray[np.float64] | None
    index: npt.NDArray[np.int64] | None  # step of each value when downsampled
    steps: int


class WarmstepError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(f"{status} {code}: {field + ': ' if field else ''}{message}")
        self.status, self.code, self.message, self.field = status, code, message, field


class WarmstepClient:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WarmstepClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http", "message": response.text, "field": None}
            raise WarmstepError(
                response.status_code, error["code"], error["message"], error.get("field")
            )
        return response

    def evaluate(
        self,
        schedule: dict[str, Any],
        steps: int,
        base_lr: float | list[float] | None = None,
        metrics: list[float] | None = None,
        points: int | None = None,
    ) -> Curve:
        body = {
            "schedule": schedule,
            "steps": steps,
            "base_lr": base_lr,
            "metrics": metrics,
            "points": points,
        }
        response = self._check(
            self._http.post(
                "/v1/schedules/evaluate", json=body, headers={"Accept": "application/octet-stream"}
            )
        )
        groups, n = (int(v) for v in response.headers["X-Warmstep-Shape"].split(","))
        raw = response.content
        block = groups * n * 8
        lr = np.frombuffer(raw[:block], "<f8").reshape(groups, n).copy()
        offset, momentum, index = block, None, None
        if response.headers.get("X-Warmstep-Momentum") == "1":
            momentum = np.frombuffer(raw[offset : offset + block], "<f8").reshape(groups, n).copy()
            offset += block
        if response.headers.get("X-Warmstep-Index") == "1":
            index = np.frombuffer(raw[offset : offset + n * 8], "<i8").copy()
        return Curve(lr, momentum, index, int(response.headers["X-Warmstep-Steps"]))

    def kinds(self, library: str | None = None) -> list[dict[str, Any]]:
        params = {"library": library} if library else None
        kinds: list[dict[str, Any]] = self._check(
            self._http.get("/v1/schedules/kinds", params=params)
        ).json()["kinds"]
        return kinds

    def plan(self, **request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._check(
            self._http.post("/v1/schedules/plan", json=request)
        ).json()
        return answer

    def submit(self, spec: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        job: dict[str, Any] = self._check(
            self._http.post("/v1/jobs", json=spec, headers=headers)
        ).json()
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._check(self._http.get(f"/v1/jobs/{job_id}")).json()
        return job

    def cancel(self, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._check(self._http.post(f"/v1/jobs/{job_id}/cancel")).json()
        return job

    def jobs(
        self, status: str | None = None, label: str | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status:
            params["status"] = status
        if label:
            params["label"] = label
        answer: dict[str, Any] = self._check(self._http.get("/v1/jobs", params=params)).json()
        return answer

    def metrics(self, job_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._check(self._http.get(f"/v1/jobs/{job_id}/metrics")).json()
        return answer

    def artifact(self, job_id: str, name: str = "model") -> bytes:
        return self._check(self._http.get(f"/v1/jobs/{job_id}/artifacts/{name}")).content

    def follow(
        self, job_id: str, after: str | None = None, retry_s: float = 0.5, max_retries: int = 120
    ) -> Iterator[dict[str, Any]]:
        """Every event after ``after`` until the job ends, reconnecting with ``Last-Event-ID``
        whenever the connection drops (front end restart, network); never repeats an event."""
        cursor = after
        failures = 0
        while True:
            headers = {"Last-Event-ID": cursor} if cursor else {}
            try:
                with self._http.stream(
                    "GET",
                    f"/v1/jobs/{job_id}/events",
                    headers=headers,
                    timeout=httpx.Timeout(30.0, read=60.0),
                ) as response:
                    self._check_stream(response)
                    for event in _parse_sse(response.iter_lines()):
                        failures = 0
                        cursor = event["id"]
                        yield event
                        if event["type"] == "status" and event["data"].get("status") in TERMINAL:
                            return
            except (httpx.TransportError, httpx.RemoteProtocolError):
                pass
            failures += 1
            if failures > max_retries:
                raise WarmstepError(503, "unavailable", "gave up reconnecting", None)
            time.sleep(retry_s)

    def _check_stream(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            response.read()
            self._check(response)

    def wait(self, job_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Block until the job ends; answers its final record."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for _ in self.follow(job_id):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout_s} s")
        return self.get(job_id)


def _parse_sse(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    import json

    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield json.loads("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())

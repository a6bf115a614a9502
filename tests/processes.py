"""Helpers for tests that run warmstep's real processes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


def spawn(
    command: list[str], env: dict[str, str], log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """``new_session``: the child leads its own process group, as a command typed in a terminal
    does, so a test can send the group a terminal's Ctrl-C (``os.killpg(pid, SIGINT)``)."""
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", *command],
            env=env,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


def wait_for(check: Callable[[], T | None], what: str, timeout_s: float = 60.0) -> T:
    """Poll until ``check`` returns a value; the timeout only bounds a hang, it asserts nothing
    about speed."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value is not None:
                return value
        except (httpx.HTTPError, OSError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last_error})")


def descendants(pid: int) -> set[int]:
    """All live descendants of ``pid``, read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Stack:
    """A front end and workers as real processes against a real Redis, for end-to-end tests."""

    def __init__(self, redis_url: str, env: dict[str, str], log_dir: Path) -> None:
        from service.embedded_redis import free_port

        self.redis_url = redis_url
        self.http_port, self.grpc_port = free_port(), free_port()
        self.env = {
            **env,
            "REDIS_URL": redis_url,
            "WARMSTEP_HTTP_PORT": str(self.http_port),
            "WARMSTEP_GRPC_PORT": str(self.grpc_port),
            "WARMSTEP_HEARTBEAT_S": "0.5",
            "WARMSTEP_HEARTBEAT_TTL_S": "3",
            "WARMSTEP_LEASE_S": "3",
            "WARMSTEP_LOG_LEVEL": "warning",
        }
        self.log_dir = log_dir
        self.front: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start_front(self) -> None:
        self.front = spawn(["serve"], self.env, self.log_dir / f"front-{time.time_ns()}.log")
        wait_for(lambda: httpx.get(f"{self.base_url}/healthz").json(), "the front end")

    def start_worker(self, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        before = self.live_workers()
        log = self.log_dir / f"worker-{len(self.workers)}-{time.time_ns()}.log"
        worker = spawn(["worker"], {**self.env, **(extra_env or {})}, log)
        self.workers.append(worker)
        wait_for(lambda: self.live_workers() > before or None, "a new live worker")
        return worker

    def live_workers(self) -> int:
        return len(httpx.get(f"{self.base_url}/v1/workers").json()["workers"])

    def stop(self) -> None:
        for process in [*self.workers, *([self.front] if self.front else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *([self.front] if self.front else [])]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

"""The whole dev stack as `make run` starts it: embedded Redis, front end, worker; then Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from service.embedded_redis import free_port
from tests.processes import alive, descendants, spawn, wait_for
from warmstep_client.v1 import workers_pb2, workers_pb2_grpc


def test_dev_stack_starts_serves_and_stops_cleanly(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    http_port, grpc_port = free_port(), free_port()
    env = {**clean_env, "WARMSTEP_HTTP_PORT": str(http_port), "WARMSTEP_GRPC_PORT": str(grpc_port)}
    dev = spawn(["dev"], env, tmp_path / "dev.log", new_session=True)
    base = f"http://127.0.0.1:{http_port}"
    try:
        assert wait_for(lambda: httpx.get(f"{base}/healthz").json(), "healthz") == {"status": "ok"}

        def one_worker() -> dict[str, object] | None:
            body: dict[str, object] = httpx.get(f"{base}/readyz").json()
            return body if body["workers"] == 1 else None

        ready = wait_for(one_worker, "a live worker in /readyz")
        assert ready["status"] == "ready"
        workers = httpx.get(f"{base}/v1/workers").json()["workers"]
        assert len(workers) == 1 and workers[0]["device_kind"] in ("cpu", "cuda")
        assert httpx.get(f"{base}/docs").status_code == 200
        assert "/v1/workers" in httpx.get(f"{base}/openapi.json").json()["paths"]

        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            listed = workers_pb2_grpc.WorkerServiceStub(channel).ListWorkers(
                workers_pb2.ListWorkersRequest()
            )
            assert [w.id for w in listed.workers] == [workers[0]["id"]]

        family = descendants(dev.pid)
        assert len(family) >= 3, "redis-server, front end and worker run as children"
        os.killpg(dev.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole foreground group
        assert dev.wait(timeout=60) == 0
        left = [pid for pid in family if alive(pid)]
        assert left == [], f"children left running: {left}"
        assert (tmp_path / "data" / "redis" / "appendonly.aof").exists() or any(
            (tmp_path / "data" / "redis").glob("appendonly*")
        )
        log = (tmp_path / "dev.log").read_text()
        assert "Redis unreachable" not in log, "Redis stopped before the processes using it"
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait()
        for pid in descendants(dev.pid):
            subprocess.run(["kill", "-9", str(pid)], check=False)

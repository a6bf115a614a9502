"""The worker's liveness: a JSON description under a key with a TTL, refreshed by a thread.

The key's existence is the only truth about liveness: a killed worker's key expires after
``heartbeat_ttl_s`` and the worker leaves ``/v1/workers`` without anyone cleaning up."""

from __future__ import annotations

import logging
import threading
import time

import redis

from warmstep import keys
from warmstep.workers import WorkerInfo

log = logging.getLogger("warmstep.worker")


class Heartbeat:
    def __init__(self, client: redis.Redis, info: WorkerInfo, period_s: float, ttl_s: float):
        self._redis = client
        self._info = info
        self._period_s = period_s
        self._ttl_ms = int(ttl_s * 1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    @property
    def info(self) -> WorkerInfo:
        return self._info

    def set_current_job(self, job_id: str) -> None:
        self._info = self._info.model_copy(update={"current_job": job_id})
        try:
            self.beat()
        except redis.RedisError as exc:  # the thread's next beat carries it
            log.warning("heartbeat failed: %s", exc)

    def beat(self) -> None:
        self._info = self._info.model_copy(update={"heartbeat_at": time.time()})
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(
            keys.worker_heartbeat(self._info.id), self._info.model_dump_json(), px=self._ttl_ms
        )
        pipe.sadd(keys.WORKERS_SET, self._info.id)
        pipe.execute()

    def start(self) -> None:
        self.beat()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.beat()
            except redis.RedisError as exc:  # Redis restarting: keep trying, the TTL decides
                log.warning("heartbeat failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._period_s + 1)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.delete(keys.worker_heartbeat(self._info.id))
            pipe.srem(keys.WORKERS_SET, self._info.id)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not deregister: %s", exc)

"""Per-step events into the job's Redis stream without slowing the loop.

The loop only appends to a buffer (no I/O on the training thread); a flusher thread writes the
buffer every ``flush_s`` through the fenced ``APPEND_EVENTS`` script, many events per call. When
the fence refuses (the job was re-claimed by another attempt, or cancelled), ``fenced`` is set
and the loop stops at its next check."""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import redis

from warmstep import keys, lifecycle

log = logging.getLogger("warmstep.worker")

MAX_EVENTS_PER_CALL = 500


class EventWriter:
    def __init__(self, client: redis.Redis, job_id: str, attempt: int, flush_s: float = 0.1):
        self._redis = client
        self._keys = [keys.job_record(job_id), keys.job_events(job_id)]
        self._attempt = str(attempt)
        self._append = client.register_script(lifecycle.APPEND_EVENTS)
        self._buffer: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._flush_s = flush_s
        self._stop = threading.Event()
        self.fenced = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events", daemon=True)

    def start(self) -> EventWriter:
        self._thread.start()
        return self

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        encoded = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)
        with self._lock:
            self._buffer.append((kind, encoded))

    def flush(self) -> bool:
        """Write what is buffered, in order; False once the fence has refused a write. A Redis
        error leaves the unwritten events buffered for the next round."""
        while not self.fenced.is_set():
            with self._lock:
                chunk = self._buffer[:MAX_EVENTS_PER_CALL]
            if not chunk:
                return True
            args: list[str | bytes] = [self._attempt]
            for kind, data in chunk:
                args += [kind, data]
            if not self._append(keys=self._keys, args=args):
                self.fenced.set()
                return False
            with self._lock:  # only this thread removes, so the chunk is still at the front
                del self._buffer[: len(chunk)]
        return False

    def _run(self) -> None:
        while not self._stop.wait(self._flush_s):
            try:
                self.flush()
            except redis.RedisError as exc:  # keep the buffer's order: retried next round
                log.warning("event flush failed, will retry: %s", exc)

    def close(self) -> bool:
        self._stop.set()
        self._thread.join()
        return self.flush()

"""Checkpoints and artifacts as bytes in Redis, written through the attempt fence, so a job can
resume on any worker and its artifacts download from any front end. Bounded in size."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import redis
import torch

from warmstep import keys, lifecycle
from warmstep.errors import ResourceExhausted


def to_bytes(state: Mapping[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> dict[str, Any]:
    loaded = torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    return dict(loaded)


class BlobStore:
    def __init__(self, binary_client: redis.Redis, job_id: str, attempt: int, max_bytes: int):
        self._redis = binary_client
        self._job = job_id
        self._attempt = str(attempt)
        self._max_bytes = max_bytes
        self._set = binary_client.register_script(lifecycle.FENCED_SET)

    def _write(self, key: str, blob: bytes, field: str = "", value: str = "") -> bool:
        if len(blob) > self._max_bytes:
            raise ResourceExhausted(
                f"{len(blob)} bytes is over the {self._max_bytes}-byte bound on stored state",
                field="model",
            )
        done = self._set(
            keys=[keys.job_record(self._job), key], args=[self._attempt, blob, field, value]
        )
        return bool(done)

    def save_checkpoint(self, state: Mapping[str, Any], step: int) -> bool:
        return self._write(
            keys.job_checkpoint(self._job), to_bytes(state), "checkpoint_step", str(step)
        )

    def load_checkpoint(self) -> dict[str, Any] | None:
        blob = self._redis.get(keys.job_checkpoint(self._job))
        return None if blob is None else from_bytes(bytes(blob))  # type: ignore[arg-type]

    def save_artifact(self, name: str, state: Mapping[str, Any]) -> bool:
        return self._write(keys.job_artifact(self._job, name), to_bytes(state))

    def set_field(self, field: str, value: str) -> bool:
        return self._write(keys.job_record(self._job), b"", field, value)

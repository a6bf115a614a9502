"""All configuration in one place: one pydantic-settings class, read from ``WARMSTEP_*``
environment variables (and ``REDIS_URL``), built once by :func:`get_settings` and passed down.
Inner layers take the values they need as arguments; only the process entry points call
:func:`get_settings`."""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARMSTEP_", extra="ignore")

    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "WARMSTEP_REDIS_URL"),
        description="Redis to use; unset under `warmstep dev` starts an embedded one.",
    )
    host: str = Field("127.0.0.1", description="Interface the REST and gRPC servers bind.")
    http_port: int = Field(8000, ge=0, le=65535, description="REST port (0 picks a free one).")
    grpc_port: int = Field(50051, ge=0, le=65535, description="gRPC port (0 picks a free one).")
    data_dir: Path = Field(Path("data"), description="Embedded Redis AOF, checkpoints, artifacts.")
    heartbeat_s: float = Field(2.0, gt=0, description="Worker heartbeat and lease refresh period.")
    heartbeat_ttl_s: float = Field(10.0, gt=0, description="A worker is gone after this silence.")
    lease_s: float = Field(30.0, gt=0, description="A dispatch entry idle this long is reclaimed.")
    max_attempts: int = Field(
        3, ge=1, le=100, description="Attempts before the dead-letter stream."
    )
    max_steps_per_query: int = Field(10_000_000, ge=1, description="Bound on evaluate `steps`.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Bound on a request body.")
    max_grpc_message_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_state_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Bound on a stored checkpoint or artifact."
    )
    worker_device: str = Field("auto", description="Worker device class: auto, cpu or cuda.")
    log_level: str = Field("info")

    @field_validator("worker_device")
    @classmethod
    def _device_known(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda"):
            raise ValueError("worker_device is one of auto, cpu, cuda")
        return value

    @model_validator(mode="after")
    def _lease_outlives_heartbeat(self) -> Settings:
        if self.heartbeat_ttl_s <= self.heartbeat_s:
            raise ValueError("heartbeat_ttl_s must exceed heartbeat_s (else live workers vanish)")
        if self.lease_s <= self.heartbeat_s:
            raise ValueError("lease_s must exceed heartbeat_s (else healthy jobs are reclaimed)")
        return self


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

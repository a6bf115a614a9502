"""All configuration in one place: one pydantic-settings class, read from ``WARMSTEP_*``
environment variables (and ``REDIS_URL``), built once by :func:`get_settings` and passed down.
Inner layers take the values they need as arguments; only the process entry points call
:func:`get_settings`."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WARMSTEP_", extra="ignore", hide_input_in_errors=True
    )

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
    event_batch_s: float = Field(
        0.1,
        ge=0,
        le=5,
        description="Worker: after writing a job's events to Redis, wait this long before the "
        "next write, so a fast loop's steps go many to a call (the first event after a pause is "
        "written at once). Followers see steps at most this much later; the loop runs faster.",
    )
    heartbeat_ttl_s: float = Field(10.0, gt=0, description="A worker is gone after this silence.")
    lease_s: float = Field(30.0, gt=0, description="A dispatch entry idle this long is reclaimed.")
    cancel_grace_s: float = Field(
        30.0, gt=0, description="A cancel not honoured within this is enforced by a hard kill."
    )
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

    # Security (DESIGN.md "Security"). Tokens are stored hashed: sha256 hex of the token -> tenant.
    auth_tokens: dict[str, str] = Field(
        default_factory=dict,
        description='{"<sha256 hex of a token>": "<tenant>"}; empty (and no file) is auth off.',
    )
    auth_tokens_file: Path | None = Field(
        None, description="A JSON file of the same shape as auth_tokens, merged into it."
    )
    schedule_queries_open: bool = Field(
        False, description="With auth on, answer /v1/schedules/* and ScheduleService tokenless."
    )
    docs_enabled: bool = Field(True, description="Serve /docs, /redoc and /openapi.json.")
    metrics_enabled: bool = Field(True, description="Serve GET /metrics.")
    metrics_open: bool = Field(
        False, description="With auth on, answer GET /metrics without a token."
    )
    max_list_items: int = Field(
        100_000, ge=1, description="Bound on any list in a request (milestones, metrics...)."
    )
    max_string_chars: int = Field(
        10_000, ge=1, description="Bound on any string in a request (expressions, names...)."
    )
    max_json_depth: int = Field(
        32, ge=2, le=256, description="Bound on the nesting of objects and lists in a request."
    )
    max_queued_jobs_per_tenant: int = Field(
        100, ge=1, description="Jobs of one tenant waiting in the queue at once."
    )
    max_streams_per_tenant: int = Field(
        256, ge=1, description="Concurrent job follows (SSE or FollowJob) of one tenant."
    )
    max_streams_total: int = Field(
        768, ge=1, description="Concurrent job follows of all tenants on one front end."
    )
    redis_max_connections: int = Field(
        1024, ge=16, description="Front end's Redis pool; each open follow holds one."
    )
    http_keep_alive_s: int = Field(
        30, ge=1, description="Idle HTTP keep-alive; short ones race busy clients' reuse."
    )
    evaluate_cache_bytes: int = Field(
        64 * 1024 * 1024,
        ge=0,
        description="Memory for recent evaluate answers served again for the same request, for "
        "each transport (REST, gRPC); 0: off.",
    )
    evaluate_cache_entry_bytes: int = Field(
        1024 * 1024, ge=0, description="Larger evaluate answers (body included) are not kept."
    )
    malloc_keep_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description="Front end and worker job processes: freed memory kept for the next curve "
        "or training step instead of returned to the system (warmstep.allocator); 0 leaves the "
        "C library's defaults.",
    )
    max_job_runtime_s: float = Field(
        24 * 3600.0, gt=0, description="Cap on a job's max_runtime_s (and its default)."
    )

    @field_validator("worker_device")
    @classmethod
    def _device_known(cls, value: str) -> str:
        if value not in ("auto", "cpu", "cuda"):
            raise ValueError("worker_device is one of auto, cpu, cuda")
        return value

    @field_validator("auth_tokens")
    @classmethod
    def _tokens_hashed(cls, value: dict[str, str]) -> dict[str, str]:
        return check_token_table(value)

    @model_validator(mode="after")
    def _lease_outlives_heartbeat(self) -> Settings:
        if self.heartbeat_ttl_s <= self.heartbeat_s:
            raise ValueError("heartbeat_ttl_s must exceed heartbeat_s (else live workers vanish)")
        if self.max_streams_total + 64 > self.redis_max_connections:
            raise ValueError("redis_max_connections must exceed max_streams_total by 64 or more")
        if self.lease_s <= self.heartbeat_s:
            raise ValueError("lease_s must exceed heartbeat_s (else healthy jobs are reclaimed)")
        return self


_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_TENANT = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def check_token_table(table: dict[str, str]) -> dict[str, str]:
    """Refuse plain tokens (keys must be sha256 hex digests) and odd tenant names. The messages
    never repeat a key: it may be a token pasted by mistake."""
    for digest, tenant in table.items():
        if not _SHA256_HEX.match(digest):
            raise ValueError(
                "auth token keys are sha256 hex digests of the tokens (64 lowercase hex "
                "characters), never the tokens themselves"
            )
        if not _TENANT.match(tenant):
            raise ValueError("tenant names are 1-100 characters of A-Z a-z 0-9 _ . -")
    return table


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

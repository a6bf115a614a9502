"""What a worker says about itself in its heartbeat key (JSON), and what ``/v1/workers`` shows."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GpuInfo(BaseModel):
    name: str
    memory_bytes: int


class WorkerInfo(BaseModel):
    id: str
    host: str
    pid: int
    device_kind: str = Field(description="Dispatch group consumed: cuda or cpu.")
    gpus: list[GpuInfo] = Field(default_factory=list)
    started_at: float = Field(description="Seconds since the epoch.")
    heartbeat_at: float
    current_job: str = Field("", description="Job running now; empty when idle.")

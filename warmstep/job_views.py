"""What clients see of a job: its record as stored in Redis, and its events."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from warmstep.lifecycle import JobStatus


class JobTotals(BaseModel):
    """The resolved step arithmetic of a job, echoed at submit."""

    train_examples: int
    micro_batches_per_epoch: int
    updates_per_epoch: int
    epochs: int
    total_updates: int
    warmup_steps: int


class JobError(BaseModel):
    code: str
    message: str


class JobPublic(BaseModel):
    id: str
    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    status: JobStatus
    attempt: int = 0
    worker: str = ""
    device_class: str
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    totals: JobTotals | None = Field(
        None, description="Resolved step totals; null until the worker resolves them."
    )
    spec: dict[str, Any]
    error: JobError | None = None
    result: dict[str, Any] | None = None
    cancel_requested: bool = False

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> JobPublic:
        def number(name: str) -> float | None:
            value = fields.get(name)
            return float(value) if value else None

        error = None
        if fields.get("error_code"):
            error = JobError(code=fields["error_code"], message=fields.get("error_message", ""))
        spec = orjson.loads(fields["spec"])
        return cls(
            id=fields["id"],
            name=spec.get("name"),
            labels=spec.get("labels") or {},
            status=JobStatus(fields["status"]),
            attempt=int(fields.get("attempt") or 0),
            worker=fields.get("worker", ""),
            device_class=fields["device_class"],
            created_at=float(fields["created_at"]),
            started_at=number("started_at"),
            finished_at=number("finished_at"),
            totals=JobTotals.model_validate_json(fields["totals"])
            if fields.get("totals")
            else None,
            spec=spec,
            error=error,
            result=orjson.loads(fields["result"]) if fields.get("result") else None,
            cancel_requested=fields.get("cancel_requested") == "1",
        )


EventType = Literal["step", "eval", "status", "log", "checkpoint"]


class JobEvent(BaseModel):
    """One entry of a job's event stream. ``id`` is the Redis stream entry id: the SSE ``id:``
    and the gRPC cursor. ``attempt`` tells which run of the job wrote it."""

    id: str
    type: EventType
    attempt: int
    data: dict[str, Any]

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> JobEvent:
        return cls(
            id=entry_id,
            type=fields["type"],
            attempt=int(fields.get("attempt") or 0),
            data=orjson.loads(fields["data"]),
        )

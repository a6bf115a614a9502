"""The error shape of every route, stated in the OpenAPI document (replacing FastAPI's default
422 ``HTTPValidationError``, which this API never sends), so that clients and schemathesis see
the answers the edge really gives (``service/rest/errors.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {
    401: "Missing or unknown bearer token (auth on)",
    404: "No such job (or another tenant's), kind or artifact",
    409: "Conflict with the job's state",
    413: "Request body over max_body_bytes",
    422: "Invalid input; `field` names it",
    429: "A per-tenant bound was hit (queued jobs, open streams)",
    503: "Redis unreachable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody, "description": _MEANING[s]} for s in statuses}


COMMON = error_responses(401, 413, 422, 503)
JOBS = error_responses(401, 404, 409, 413, 422, 429, 503)

"""Schedule queries over REST: evaluate (JSON, CSV, raw float64, downsampled), kinds, plan."""

from __future__ import annotations

import io

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from service.answer_cache import AnswerCache, CachedAnswer
from service.evaluation import evaluate_bounded
from service.rest.deps import app_settings, query_access, require_query_access
from service.rest.responses import json_bytes, json_response
from warmstep.catalog import kinds_of
from warmstep.errors import InvalidArgument
from warmstep.plan import PlanRequest, plan
from warmstep.queries import EvaluateRequest, Evaluation

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])
_QUERY_ACCESS = [Depends(require_query_access)]

# The evaluate route parses its own body (below); its documentation says what FastAPI would have.
_EVALUATE_OPENAPI: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EvaluateRequest.model_json_schema()}},
    },
    "parameters": [
        {
            "name": "accept",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "application/json (default), text/csv or application/octet-stream "
            "(little-endian float64, shapes in X-Warmstep-* headers)",
        }
    ],
    "security": [{"HTTPBearer": []}],
}

_EVALUATE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "One LR list per param group; momentum where the kind cycles it.",
        "content": {
            "application/json": {
                "example": {"steps": 3, "lr": [[0.1, 0.09, 0.08]], "momentum": None, "index": None}
            },
            "text/csv": {},
            "application/octet-stream": {},
        },
    },
}


@router.post(
    "/evaluate",
    responses=_EVALUATE_RESPONSES,
    summary="LR at every step",
    openapi_extra=_EVALUATE_OPENAPI,
)
async def evaluate_route(request: Request) -> Response:
    """No FastAPI parameters on purpose: solving dependencies and validating the body through
    FastAPI cost ~3x the evaluation of a 1,000-step curve (``python -m bench rest``), so the route
    reads the body itself (one pydantic-core pass from bytes) and checks access inline, with the
    same errors as the dependency and body validation it replaces. A body asked for recently is
    answered from :mod:`service.answer_cache` (after the access check)."""
    settings = app_settings(request)
    query_access(request, settings)
    body = await request.body()
    media = request.headers.get("accept", "").split(",")[0].strip()
    cache: AnswerCache[CachedAnswer] = request.app.state.answer_cache
    cached = cache.get((media, body))
    if cached is not None:
        return cached.response()
    result = await evaluate_bounded(_parse_evaluate(body), settings)
    answer = _encode(result, media)
    cache.put((media, body), answer, len(answer.body))
    return answer.response()


def _encode(result: Evaluation, media: str) -> CachedAnswer:
    if media == "text/csv":
        return CachedAnswer(_csv(result).encode(), "text/csv", ())
    if media == "application/octet-stream":
        return _binary(result)
    payload = {
        "steps": result.steps,
        "lr": result.lr,
        "momentum": result.momentum,
        "index": result.index,
    }
    return CachedAnswer(json_bytes(payload), "application/json", ())


def _parse_evaluate(body: bytes) -> EvaluateRequest:
    try:
        return EvaluateRequest.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc) from None


def _csv(result: Evaluation) -> str:
    groups = result.lr.shape[0]
    columns = [result.index if result.index is not None else np.arange(result.lr.shape[1])]
    header = ["step"] + [f"lr_{g}" for g in range(groups)]
    columns += list(result.lr)
    if result.momentum is not None:
        header += [f"momentum_{g}" for g in range(groups)]
        columns += list(result.momentum)
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    table = np.column_stack([np.asarray(c, np.float64) for c in columns]).astype(object)
    table[:, 0] = table[:, 0].astype(np.int64)
    for row in table:
        out.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")
    return out.getvalue()


def _binary(result: Evaluation) -> CachedAnswer:
    """Little-endian float64: the lr block (groups x n), then the momentum block if present, then
    the int64 step index if downsampled. Shapes in headers."""
    parts = [np.ascontiguousarray(result.lr, "<f8").tobytes()]
    headers = {
        "X-Warmstep-Shape": f"{result.lr.shape[0]},{result.lr.shape[1]}",
        "X-Warmstep-Steps": str(result.steps),
        "X-Warmstep-Momentum": "0",
        "X-Warmstep-Index": "0",
    }
    if result.momentum is not None:
        parts.append(np.ascontiguousarray(result.momentum, "<f8").tobytes())
        headers["X-Warmstep-Momentum"] = "1"
    if result.index is not None:
        parts.append(np.ascontiguousarray(result.index, "<i8").tobytes())
        headers["X-Warmstep-Index"] = "1"
    return CachedAnswer(b"".join(parts), "application/octet-stream", tuple(headers.items()))


@router.get(
    "/kinds",
    summary="The catalog of schedule kinds with JSON Schema parameters",
    dependencies=_QUERY_ACCESS,
)
async def kinds(library: str | None = None) -> Response:
    return json_response({"kinds": kinds_of(library)})


@router.post(
    "/plan",
    summary="Optimizer updates, totals and warmup for a training setup",
    dependencies=_QUERY_ACCESS,
)
async def plan_route(request: PlanRequest) -> Response:
    return json_response(plan(request).model_dump(mode="json"))

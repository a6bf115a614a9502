"""Schedule queries over REST: evaluate (JSON, CSV, raw float64, downsampled), kinds, plan."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from service.answer_cache import AnswerCache, CachedAnswer
from service.rest.deps import app_settings, require_query_access
from service.rest.evaluate_answers import answer_evaluate, query_tenant
from service.rest.responses import json_response
from warmstep.catalog import kinds_of
from warmstep.plan import PlanRequest, plan
from warmstep.queries import EvaluateRequest

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
    """Served by :class:`~service.rest.evaluate_endpoint.EvaluateEndpoint` in front of the
    framework (the route stack cost ~3x the answer's own work, ``python -m bench rest``); this
    route documents it and answers the same way wherever that layer does not take the request.
    No FastAPI parameters: the body is read as bytes (one pydantic-core pass) and access is
    checked inline, with the errors the dependency and body validation would give. A body asked
    for recently is answered from :mod:`service.answer_cache` (after the access check)."""
    settings = app_settings(request)
    query_tenant(settings, request.app.state.tokens, request.headers.get("authorization", ""))
    accept = request.headers.get("accept", "")
    cache: AnswerCache[CachedAnswer] = request.app.state.answer_cache
    answer = await answer_evaluate(settings, cache, accept, await request.body())
    return answer.response()


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

"""Schedule queries over REST: evaluate (JSON, CSV, raw float64, downsampled), kinds, plan."""

from __future__ import annotations

import io

import numpy as np
from fastapi import APIRouter, Header
from fastapi.responses import Response

from service.evaluation import evaluate_bounded
from service.rest.deps import SettingsDep
from service.rest.responses import json_response
from warmstep.catalog import kinds_of
from warmstep.plan import PlanRequest, plan
from warmstep.queries import EvaluateRequest, Evaluation

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])

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


@router.post("/evaluate", responses=_EVALUATE_RESPONSES, summary="LR at every step")
async def evaluate_route(
    request: EvaluateRequest, settings: SettingsDep, accept: str | None = Header(default=None)
) -> Response:
    result = await evaluate_bounded(request, settings)
    media = (accept or "").split(",")[0].strip()
    if media == "text/csv":
        return Response(_csv(result), media_type="text/csv")
    if media == "application/octet-stream":
        return _binary(result)
    return json_response(
        {"steps": result.steps, "lr": result.lr, "momentum": result.momentum, "index": result.index}
    )


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


def _binary(result: Evaluation) -> Response:
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
    return Response(b"".join(parts), media_type="application/octet-stream", headers=headers)


@router.get("/kinds", summary="The catalog of schedule kinds with JSON Schema parameters")
async def kinds(library: str | None = None) -> Response:
    return json_response({"kinds": kinds_of(library)})


@router.post("/plan", summary="Optimizer updates, totals and warmup for a training setup")
async def plan_route(request: PlanRequest) -> Response:
    return json_response(plan(request).model_dump(mode="json"))

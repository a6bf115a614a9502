"""Job outputs: the final model ``state_dict`` (``torch.save`` bytes, loadable with
``torch.load(weights_only=True)``), the latest checkpoint, and the metrics history as JSON or
CSV."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from service.jobs import store
from service.rest.deps import RedisDep, TenantDep
from service.rest.responses import json_response
from warmstep import keys
from warmstep.errors import NotFound

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

ARTIFACTS = {"model": "the final model state_dict", "checkpoint": "the latest checkpoint"}


@router.get("/{job_id}/artifacts", summary="The job's downloadable artifacts")
async def list_artifacts(
    request: Request, redis: RedisDep, tenant: TenantDep, job_id: str
) -> Response:
    await store.get_job(redis, job_id, tenant)
    binary = request.app.state.redis_binary
    present = []
    for name, doc in ARTIFACTS.items():
        if await binary.exists(_artifact_key(job_id, name)):
            present.append({"name": name, "doc": doc, "url": f"/v1/jobs/{job_id}/artifacts/{name}"})
    return json_response({"artifacts": present})


@router.get(
    "/{job_id}/artifacts/{name}",
    summary="Download an artifact (torch.save bytes; torch.load(weights_only=True))",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get_artifact(
    request: Request, redis: RedisDep, tenant: TenantDep, job_id: str, name: str
) -> Response:
    await store.get_job(redis, job_id, tenant)
    if name not in ARTIFACTS:
        raise NotFound(f"no artifact {name!r}; one of {', '.join(ARTIFACTS)}", field="name")
    blob = await request.app.state.redis_binary.get(_artifact_key(job_id, name))
    if blob is None:
        raise NotFound(f"job {job_id} has no {name} yet", field="name")
    return Response(
        blob,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-{name}.pt"'},
    )


def _artifact_key(job_id: str, name: str) -> str:
    return keys.job_checkpoint(job_id) if name == "checkpoint" else keys.job_artifact(job_id, name)


@router.get(
    "/{job_id}/metrics",
    summary="The job's full per-step history as JSON or CSV (Accept: text/csv)",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def metrics_history(
    redis: RedisDep,
    tenant: TenantDep,
    job_id: str,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    await store.get_job(redis, job_id, tenant)
    history = await store.history(redis, job_id)
    if (accept or "").split(",")[0].strip() == "text/csv":
        return Response(_csv(history["steps"]), media_type="text/csv")
    return json_response(history)


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if not rows:
        return ""
    flat = []
    for row in rows:
        record = {k: v for k, v in row.items() if not isinstance(v, list)}
        for name in ("lr", "momentum"):
            values = row.get(name)
            if isinstance(values, list):
                record |= {f"{name}_{g}": v for g, v in enumerate(values)}
        flat.append(record)
    columns = list(dict.fromkeys(k for record in flat for k in record))
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return out.getvalue()

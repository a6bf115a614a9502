"""The built-in dashboard: static files (no build step, uPlot vendored under ``static/vendor``)
served at ``/dashboard/``, plus the one read the pages need that the public API lacks: the
latest step of several jobs at once, for progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import redis.asyncio as aioredis
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from service.rest.deps import RedisDep, TenantDep
from service.rest.responses import json_response
from warmstep import keys

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
# How far back from the newest event to look for the latest step (eval, log and checkpoint
# events come in between; a finished job ends with one status event).
SCAN_EVENTS = 64

router = APIRouter(include_in_schema=False)


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/dashboard/")


@router.get("/dashboard")
@router.get("/dashboard/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/dashboard/api/progress")
async def progress(
    redis: RedisDep, tenant: TenantDep, ids: Annotated[str, Query(max_length=40_000)] = ""
) -> Response:
    """``{"progress": {job_id: {"step", "loss", "lr"} | null}}`` from each job's newest step;
    null also for another tenant's job, as for an unknown id."""
    wanted = [i for i in ids.split(",") if i][:500]
    owned = await _owned(redis, tenant, wanted)
    pipe = redis.pipeline(transaction=False)
    for job_id in owned:
        pipe.xrevrange(keys.job_events(job_id), count=SCAN_EVENTS)
    answer: dict[str, dict[str, object] | None] = dict.fromkeys(wanted)
    for job_id, entries in zip(owned, await pipe.execute(), strict=True):
        answer[job_id] = next(
            (_step(fields["data"]) for _, fields in entries if fields.get("type") == "step"),
            None,
        )
    return json_response({"progress": answer})


async def _owned(redis: aioredis.Redis, tenant: str, ids: list[str]) -> list[str]:
    pipe = redis.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.job_record(job_id), "tenant")
    owners = await pipe.execute()
    return [i for i, owner in zip(ids, owners, strict=True) if owner == tenant]


def _step(raw: str) -> dict[str, object]:
    data = orjson.loads(raw)
    return {"step": data.get("step"), "loss": data.get("loss"), "lr": data.get("lr")}


def install(app: FastAPI) -> None:
    """Mount the static files and the dashboard routes on ``app`` (one call from build_app)."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.include_router(router)

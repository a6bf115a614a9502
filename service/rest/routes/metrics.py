"""``GET /metrics``: Prometheus text format, in-process metrics plus a Redis snapshot."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from service.metrics import MetricsMiddleware, ProcessMetrics, SnapshotCollector, read_snapshot
from service.rest.deps import RedisDep, require_metrics_access

router = APIRouter(tags=["observability"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    include_in_schema=False,
    dependencies=[Depends(require_metrics_access)],  # a token while auth is on, unless open
)
async def metrics(request: Request, redis: RedisDep) -> Response:
    process: ProcessMetrics = request.app.state.metrics
    snapshot = await read_snapshot(redis, process.tally)
    scrape = CollectorRegistry()
    scrape.register(SnapshotCollector(snapshot))
    body = generate_latest(process.registry) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI) -> None:
    """Add the metrics middleware and route to ``app`` (one call from ``build_app``)."""
    app.state.metrics = ProcessMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(router)

"""The front-end process: REST (uvicorn) and gRPC (grpc.aio) served from one asyncio loop.

Both transports share one Redis client and one follow hub (``service.jobs.hub``: one Redis
reader per followed job, whichever transport its followers came by).

uvicorn owns the signal handling: SIGINT/SIGTERM make it finish its requests and return, after
which the gRPC server is stopped with a grace period, the follow hub's readers stopped and the
Redis pool closed."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from service.auth import auth_banner, load_token_table
from service.grpc.server import build_grpc_server, mark_serving
from service.jobs.hub import FollowHub
from service.main import build_app, served
from service.redis_store import connect
from warmstep.allocator import keep_freed_memory
from warmstep.config import Settings
from warmstep.schedules import prepare_compiled_loops_soon

log = logging.getLogger("warmstep.serve")


async def serve(settings: Settings) -> None:
    if not settings.redis_url:
        raise SystemExit("serve needs REDIS_URL (or run `warmstep dev`, which starts a Redis)")
    keep_freed_memory(settings.malloc_keep_bytes)
    prepare_compiled_loops_soon()  # numba's import and the loops' cache load, off the loop
    redis = connect(settings.redis_url, max_connections=settings.redis_max_connections)
    redis_binary = connect(settings.redis_url, decode=False)
    tokens = load_token_table(settings)
    follow_hub = FollowHub(redis)
    app = build_app(settings, redis, redis_binary, tokens, follow_hub)
    grpc_server, health_servicer = build_grpc_server(settings, redis, tokens, follow_hub)
    grpc_port = grpc_server.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
    await grpc_server.start()
    await mark_serving(health_servicer)
    config = uvicorn.Config(
        served(app),
        host=settings.host,
        port=settings.http_port,
        log_level=settings.log_level,
        access_log=False,
        limit_concurrency=2048,
        timeout_keep_alive=settings.http_keep_alive_s,
        timeout_graceful_shutdown=5,
    )
    http = uvicorn.Server(config)
    http_task = asyncio.create_task(http.serve())
    while not http.started and not http_task.done():
        await asyncio.sleep(0.02)
    if http.started:
        http_port = http.servers[0].sockets[0].getsockname()[1]
        print(
            f"warmstep front end: REST http://{settings.host}:{http_port} "
            f"({'docs /docs' if settings.docs_enabled else 'no docs'}), "
            f"gRPC {settings.host}:{grpc_port}",
            flush=True,
        )
        print(f"warmstep front end: {auth_banner(tokens)}", flush=True)
    try:
        await http_task
    finally:
        await grpc_server.stop(grace=3)
        await follow_hub.aclose()
        await redis.aclose()
        await redis_binary.aclose()

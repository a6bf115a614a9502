"""``POST /v1/schedules/evaluate`` answered in front of the framework: a pure ASGI layer.

A 1,000-step evaluate is ~50 µs of parsing, evaluating and encoding, while the framework's
layers around the route (FastAPI's and Starlette's middleware, the router's matching, the
request and response objects, the exception layers) cost ~150 µs more of server CPU per
request (``python -m bench rest``, 1,000-step JSON with distinct bodies: 320-355 µs of server
CPU per request through the route, 180-210 µs here; ``docs/benchmarks.md`` section 2). The
served app (:func:`service.main.served`) is this layer over the FastAPI app: it takes the POSTs
to that path before any of it and answers them with the very same bytes, headers and errors as
the documented route behind it (:mod:`service.rest.routes.schedules`; both call
:mod:`service.rest.evaluate_answers`):

- the body bound first (``Content-Length`` over ``max_body_bytes``, or a chunked body growing
  past it: 413, as :class:`~service.rest.limits.BodySizeLimit`), then the access check (401);
- :class:`~warmstep.errors.WarmstepError` answered as the REST error handlers answer it;
- the latency histogram of the evaluate route (``service/metrics.py``) observed, by status;
  a client gone before its body arrived is counted as 499 and gets no answer;
- any other exception propagates to the server, which logs it and answers 500 (as Starlette's
  server-error layer does for the route).

Other methods and paths pass through to the framework (a GET there answers 405)."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from service.answer_cache import CachedAnswer
from service.rest.errors import error_payload
from service.rest.evaluate_answers import answer_evaluate, query_tenant
from service.rest.limits import BodyTooLarge, declared_too_large, refuse_too_large
from service.rest.responses import json_bytes
from warmstep.config import Settings
from warmstep.errors import WarmstepError

__all__ = ["EVALUATE_PATH", "EvaluateEndpoint"]

EVALUATE_PATH = "/v1/schedules/evaluate"
CLIENT_GONE = 499


class _ClientGone(Exception):
    pass


class EvaluateEndpoint:
    """ASGI middleware over the app: answers ``POST`` :data:`EVALUATE_PATH` itself from the
    app's ``state`` (settings, tokens, answer cache, metrics when installed)."""

    def __init__(self, app: ASGIApp, state: State) -> None:
        self.app = app
        self.state = state
        self._timers: dict[int, Callable[[float], None]] = {}  # by status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or _route(scope) != EVALUATE_PATH:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            status = await self._answer(scope, receive, send)
        finally:
            self._observe(status, time.perf_counter() - start)

    def _observe(self, status: int, seconds: float) -> None:
        timer = self._timers.get(status)
        if timer is None:
            metrics = getattr(self.state, "metrics", None)
            if metrics is None:
                return
            timer = self._timers[status] = metrics.evaluate_seconds.labels(str(status)).observe
        timer(seconds)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        settings: Settings = self.state.settings
        accept, authorization, length = _headers(scope)
        if declared_too_large(length, settings.max_body_bytes):
            await refuse_too_large(send, settings.max_body_bytes)
            return 413
        try:
            query_tenant(settings, self.state.tokens, authorization)
            body = await _read_body(receive, settings.max_body_bytes)
            answer = await answer_evaluate(settings, self.state.answer_cache, accept, body)
        except BodyTooLarge:
            await refuse_too_large(send, settings.max_body_bytes)
            return 413
        except _ClientGone:
            return CLIENT_GONE
        except WarmstepError as exc:
            status, payload = error_payload(exc)
            await _send(send, status, CachedAnswer(json_bytes(payload), "application/json", ()))
            return status
        await _send(send, 200, answer)
        return 200


def _route(scope: Scope) -> str:
    """The path the routes match: without the deployment's ``root_path`` prefix."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _headers(scope: Scope) -> tuple[str, str, bytes | None]:
    """The first ``Accept`` and ``Authorization`` ('' when absent) and the last
    ``Content-Length`` (as :class:`~service.rest.limits.BodySizeLimit` reads it), in one pass
    (ASGI gives the names in lower case)."""
    accept = authorization = None
    length: bytes | None = None
    for key, value in scope["headers"]:
        if key == b"accept":
            accept = value if accept is None else accept
        elif key == b"authorization":
            authorization = value if authorization is None else authorization
        elif key == b"content-length":
            length = value
    return (
        "" if accept is None else accept.decode("latin-1"),
        "" if authorization is None else authorization.decode("latin-1"),
        length,
    )


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, status: int, answer: CachedAnswer) -> None:
    headers = list(answer.raw_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})

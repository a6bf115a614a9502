"""The one mapping from warmstep's errors to HTTP; request-validation errors take the same shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from redis.exceptions import ConnectionError as RedisConnectionError

from service.rest.responses import json_response
from warmstep.errors import ErrorCode, WarmstepError

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_ARGUMENT: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ALREADY_EXISTS: 409,
    ErrorCode.FAILED_PRECONDITION: 409,
    ErrorCode.RESOURCE_EXHAUSTED: 429,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}


def _body(code: ErrorCode, message: str, field: str | None) -> dict[str, object]:
    return {"error": {"code": code.value, "message": message, "field": field}}


def error_payload(exc: WarmstepError) -> tuple[int, dict[str, object]]:
    """The status and JSON body of ``exc``: what its handler answers."""
    return HTTP_STATUS[exc.code], _body(exc.code, exc.message, exc.field)


async def _warmstep_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, WarmstepError)
    status, payload = error_payload(exc)
    return json_response(payload, status)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or None
    return json_response(_body(ErrorCode.INVALID_ARGUMENT, str(first.get("msg")), field), 422)


async def _redis_down(_: Request, exc: Exception) -> Response:
    return json_response(_body(ErrorCode.UNAVAILABLE, f"Redis unreachable: {exc}", None), 503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WarmstepError, _warmstep_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RedisConnectionError, _redis_down)

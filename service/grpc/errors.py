"""The one mapping from warmstep's errors to gRPC status codes, applied by a decorator on every
servicer method (unary and server-streaming). The offending field travels in the message and in
the trailing metadata key ``warmstep-field``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from redis.exceptions import ConnectionError as RedisConnectionError

from warmstep.errors import ErrorCode, Unavailable, WarmstepError

GRPC_STATUS: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.FAILED_PRECONDITION: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}

F = TypeVar("F", bound=Callable[..., Any])


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], exc: WarmstepError) -> None:
    if exc.field:
        context.set_trailing_metadata((("warmstep-field", exc.field),))
    await context.abort(GRPC_STATUS[exc.code], str(exc))


def _as_warmstep(exc: Exception) -> WarmstepError | None:
    if isinstance(exc, WarmstepError):
        return exc
    if isinstance(exc, RedisConnectionError):
        return Unavailable(f"Redis unreachable: {exc}")
    return None


def grpc_errors(method: F) -> F:
    """Turn warmstep errors raised by a servicer method into the mapped gRPC status."""
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: Any) -> AsyncIterator[Any]:
            try:
                async for item in method(self, request, context):
                    yield item
            except (WarmstepError, RedisConnectionError) as exc:
                mapped = _as_warmstep(exc)
                assert mapped is not None
                await abort_with(context, mapped)

        return stream  # type: ignore[return-value]

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: Any) -> Any:
        try:
            return await method(self, request, context)
        except (WarmstepError, RedisConnectionError) as exc:
            mapped = _as_warmstep(exc)
            assert mapped is not None
            await abort_with(context, mapped)

    return unary  # type: ignore[return-value]

"""The gRPC edge's guard: a server interceptor reads the ``authorization`` metadata
(``Bearer <token>``), refuses with UNAUTHENTICATED while auth is on and the token is missing or
unknown, refuses undecodable request bytes with INVALID_ARGUMENT, and otherwise runs the method
with the caller's tenant in :data:`TENANT` (read by the servicers through
:func:`current_tenant`). Health and reflection stay open; ScheduleService is tokenless when
``schedule_queries_open``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import grpc

from service.auth import ANONYMOUS, TokenTable, bearer_token
from service.grpc.errors import GRPC_STATUS
from warmstep.errors import Unauthenticated

TENANT: ContextVar[str] = ContextVar("warmstep_tenant", default=ANONYMOUS)

ALWAYS_OPEN = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
SCHEDULE_SERVICE = "/warmstep.v1.ScheduleService/"

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]
# (behaviour field of RpcMethodHandler, whether it answers a stream)
_BEHAVIOURS = (
    ("unary_unary", False),
    ("stream_unary", False),
    ("unary_stream", True),
    ("stream_stream", True),
)


def current_tenant() -> str:
    """The tenant of the RPC being served (the anonymous tenant while auth is off)."""
    return TENANT.get()


class AuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps every warmstep method: refuses unauthenticated calls, answers a request that is not
    a valid protobuf message with INVALID_ARGUMENT (grpc's own answer would be INTERNAL), and
    runs the method with the caller's tenant in :data:`TENANT`."""

    def __init__(self, tokens: TokenTable, *, schedule_queries_open: bool) -> None:
        self._tokens = tokens
        self._tokenless = (SCHEDULE_SERVICE,) if schedule_queries_open else ()

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(ALWAYS_OPEN):
            return handler
        tenant, refusal = ANONYMOUS, None
        if self._tokens.enabled and not method.startswith(self._tokenless):
            try:
                tenant = self._tokens.tenant_for(bearer_token(_authorization(handler_call_details)))
            except Unauthenticated as exc:
                refusal = exc
        return _guarded(handler, _Guard(tenant, refusal))


def _authorization(details: grpc.HandlerCallDetails) -> str | None:
    metadata = details.invocation_metadata or ()
    for key, value in metadata:
        if key.lower() == "authorization":
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


class _Malformed:
    """Stands for a request whose bytes did not parse."""


MALFORMED = _Malformed()


def _lenient(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception:  # protobuf's DecodeError and friends: the caller's fault
            return MALFORMED

    return parse


@dataclass(frozen=True)
class _Guard:
    tenant: str
    refusal: Unauthenticated | None

    async def check(self, request: Any, context: Any) -> None:
        if self.refusal is not None:
            await context.abort(GRPC_STATUS[self.refusal.code], self.refusal.message)
        if request is MALFORMED:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a valid protobuf message")
        TENANT.set(self.tenant)  # this RPC's own task: the value ends with it


def _guarded(handler: grpc.RpcMethodHandler, guard: _Guard) -> grpc.RpcMethodHandler:
    """``handler`` with its one behaviour (the other three are None) run behind ``guard``."""
    for name, streams in _BEHAVIOURS:
        inner = getattr(handler, name)
        if inner is None:
            continue
        changes: dict[str, Any] = {name: _stream(inner, guard) if streams else _unary(inner, guard)}
        if not handler.request_streaming:
            changes["request_deserializer"] = _lenient(handler.request_deserializer)
        replaced: grpc.RpcMethodHandler = handler._replace(**changes)
        return replaced
    return handler


def _unary(inner: Any, guard: _Guard) -> Any:
    async def unary(request: Any, context: Any) -> Any:
        await guard.check(request, context)
        return await inner(request, context)

    return unary


def _stream(inner: Any, guard: _Guard) -> Any:
    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        await guard.check(request, context)
        async for item in inner(request, context):
            yield item

    return stream

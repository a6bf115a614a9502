"""Request-body bound as a small ASGI middleware: a body over ``max_body_bytes`` answers 413
with the usual error shape, whether the size is declared (``Content-Length``, refused before
reading) or only discovered while streaming (chunked: reading stops at the bound)."""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.rest.responses import json_bytes
from warmstep.errors import ErrorCode


class BodyTooLarge(Exception):
    """A request body read past ``max_body_bytes``."""


def declared_too_large(content_length: bytes | None, max_body_bytes: int) -> bool:
    """Whether a ``Content-Length`` header's value declares a body over ``max_body_bytes``."""
    return (
        content_length is not None
        and content_length.isdigit()
        and int(content_length) > max_body_bytes
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(dict(scope["headers"]).get(b"content-length"), self.max_body_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refused = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # the app's own answer to the aborted read is dropped
                await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if refused:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await refuse_too_large(send, self.max_body_bytes)


async def refuse_too_large(send: Send, max_body_bytes: int) -> None:
    """The 413 answer, with the connection closed (the rest of the body is not read)."""
    body = json_bytes(
        {
            "error": {
                "code": ErrorCode.RESOURCE_EXHAUSTED.value,
                "message": f"request body over {max_body_bytes} bytes "
                "(server setting max_body_bytes)",
                "field": None,
            }
        }
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""The one error hierarchy of warmstep. Every edge maps it once: REST in ``service/rest/errors.py``
to HTTP status codes, gRPC in ``service/grpc/errors.py`` to ``grpc.StatusCode``.

    WarmstepError(code, message, field=None)
      ├── InvalidArgument     bad input; ``field`` names it        422 / INVALID_ARGUMENT
      ├── NotFound            unknown job, kind, artifact          404 / NOT_FOUND
      ├── AlreadyExists       conflicting idempotent submit        409 / ALREADY_EXISTS
      ├── FailedPrecondition  wrong state (cancel a finished job)  409 / FAILED_PRECONDITION
      ├── ResourceExhausted   a bound or quota was hit             429 / RESOURCE_EXHAUSTED
      ├── Unauthenticated     missing or bad token                 401 / UNAUTHENTICATED
      └── Unavailable         Redis or workers unreachable         503 / UNAVAILABLE
"""

from __future__ import annotations

import enum

from pydantic import ValidationError

__all__ = [
    "AlreadyExists",
    "ErrorCode",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "WarmstepError",
]


class ErrorCode(enum.StrEnum):
    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    FAILED_PRECONDITION = "failed_precondition"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class WarmstepError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code.value, "message": self.message, "field": self.field}


class InvalidArgument(WarmstepError):
    code = ErrorCode.INVALID_ARGUMENT

    @classmethod
    def from_validation(
        cls, exc: ValidationError, prefix: str | None = None, unknown: str = "unknown argument"
    ) -> InvalidArgument:
        """The first error of a pydantic validation, naming its field under ``prefix``
        (``schedule`` + ``T_max`` -> ``schedule.T_max``); an extra field says ``unknown``."""
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = unknown
        field = ".".join(part for part in (prefix, loc) if part) or None
        return cls(message, field=field)


class NotFound(WarmstepError):
    code = ErrorCode.NOT_FOUND


class AlreadyExists(WarmstepError):
    code = ErrorCode.ALREADY_EXISTS


class FailedPrecondition(WarmstepError):
    code = ErrorCode.FAILED_PRECONDITION


class ResourceExhausted(WarmstepError):
    code = ErrorCode.RESOURCE_EXHAUSTED


class Unauthenticated(WarmstepError):
    code = ErrorCode.UNAUTHENTICATED


class Unavailable(WarmstepError):
    code = ErrorCode.UNAVAILABLE

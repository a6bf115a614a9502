"""pydantic validation errors become InvalidArgument naming the field, as REST does."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from warmstep.errors import InvalidArgument

T = TypeVar("T")


def validate(build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc) from None

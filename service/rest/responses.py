"""Responses encoded with orjson, which serialises numpy arrays directly (the evaluate route's cost
is encoding, not maths: DESIGN.md's measurement)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def json_bytes(payload: Any) -> bytes:
    return orjson.dumps(payload, option=_OPTIONS)


def json_response(
    payload: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(json_bytes(payload), status_code, headers, media_type="application/json")

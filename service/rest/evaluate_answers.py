"""The answer to one evaluate request over REST, from the request's raw parts: the access check
from the ``Authorization`` header, then from the media type and the body bytes to the encoded
answer (the answer cache, parsing, bounds, the engine, the encoding for JSON, CSV or raw
float64). Errors are raised as :class:`~warmstep.errors.WarmstepError`; the caller maps them
(``service/rest/errors.py``).

Shared by :class:`service.rest.evaluate_endpoint.EvaluateEndpoint`, which answers
``POST /v1/schedules/evaluate`` in front of the framework, and the documented route behind it."""

from __future__ import annotations

import io

import numpy as np
from pydantic import ValidationError

from service.answer_cache import AnswerCache, CachedAnswer
from service.auth import ANONYMOUS, TokenTable, bearer_token
from service.evaluation import evaluate_bounded
from service.rest.responses import json_bytes
from warmstep.config import Settings
from warmstep.errors import InvalidArgument
from warmstep.queries import EvaluateRequest, Evaluation

__all__ = ["answer_evaluate", "encode_answer", "parse_evaluate", "query_tenant"]


def query_tenant(settings: Settings, tokens: TokenTable, authorization: str) -> str:
    """The caller of a schedule query: anyone while ``schedule_queries_open``, else the tenant
    of the bearer token (:class:`~warmstep.errors.Unauthenticated` without a known one)."""
    if settings.schedule_queries_open:
        return ANONYMOUS
    return tokens.tenant_for(bearer_token(authorization))


async def answer_evaluate(
    settings: Settings,
    cache: AnswerCache[CachedAnswer],
    accept: str,
    body: bytes,
) -> CachedAnswer:
    """The encoded answer to ``body`` in the first media type of the ``Accept`` header
    (``text/csv``, ``application/octet-stream``, else JSON): from the cache when it was asked
    for recently, else evaluated and kept. Access is checked by the caller first."""
    media = accept.split(",")[0].strip()
    cached = cache.get((media, body))
    if cached is not None:
        return cached
    result = await evaluate_bounded(parse_evaluate(body), settings)
    answer = encode_answer(result, media)
    cache.put((media, body), answer, len(answer.body))
    return answer


def parse_evaluate(body: bytes) -> EvaluateRequest:
    try:
        return EvaluateRequest.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc) from None


def encode_answer(result: Evaluation, media: str) -> CachedAnswer:
    if media == "text/csv":
        return CachedAnswer(_csv(result).encode(), "text/csv", ())
    if media == "application/octet-stream":
        return _binary(result)
    payload = {
        "steps": result.steps,
        "lr": result.lr,
        "momentum": result.momentum,
        "index": result.index,
    }
    return CachedAnswer(json_bytes(payload), "application/json", ())


def _csv(result: Evaluation) -> str:
    groups = result.lr.shape[0]
    columns = [result.index if result.index is not None else np.arange(result.lr.shape[1])]
    header = ["step"] + [f"lr_{g}" for g in range(groups)]
    columns += list(result.lr)
    if result.momentum is not None:
        header += [f"momentum_{g}" for g in range(groups)]
        columns += list(result.momentum)
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    table = np.column_stack([np.asarray(c, np.float64) for c in columns]).astype(object)
    table[:, 0] = table[:, 0].astype(np.int64)
    for row in table:
        out.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")
    return out.getvalue()


def _binary(result: Evaluation) -> CachedAnswer:
    """Little-endian float64: the lr block (groups x n), then the momentum block if present, then
    the int64 step index if downsampled. Shapes in headers."""
    parts = [np.ascontiguousarray(result.lr, "<f8").tobytes()]
    headers = {
        "X-Warmstep-Shape": f"{result.lr.shape[0]},{result.lr.shape[1]}",
        "X-Warmstep-Steps": str(result.steps),
        "X-Warmstep-Momentum": "0",
        "X-Warmstep-Index": "0",
    }
    if result.momentum is not None:
        parts.append(np.ascontiguousarray(result.momentum, "<f8").tobytes())
        headers["X-Warmstep-Momentum"] = "1"
    if result.index is not None:
        parts.append(np.ascontiguousarray(result.index, "<i8").tobytes())
        headers["X-Warmstep-Index"] = "1"
    return CachedAnswer(b"".join(parts), "application/octet-stream", tuple(headers.items()))

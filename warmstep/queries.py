"""Schedule queries: the request model shared by REST and gRPC, and the function answering it.

``evaluate`` validates the spec once (:func:`warmstep.schedules.resolve_spec`), evaluates the
curve for every param group and, when ``points`` is set, downsamples it so that a chart of a
10M-step run still shows every spike: each of ``points`` buckets keeps the step of its minimum and
of its maximum (for every group and the momentum), so the drawn envelope is exact.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field

from warmstep.errors import InvalidArgument
from warmstep.schedules import EvalContext, ResolvedSchedule, resolve_spec
from warmstep.schedules._core import FloatArray

__all__ = ["EvaluateRequest", "Evaluation", "downsample_index", "evaluate", "resolve_cached"]

IntArray = np.ndarray[Any, np.dtype[np.int64]]

CACHED_SPEC_CHARS = 4096  # longer specs are resolved every time (bounds the cache's memory)


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: dict[str, Any] = Field(
        description="The library's callable and its keyword arguments: "
        '{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 1000}',
        examples=[{"type": "CosineAnnealingLR", "T_max": 1000}],
    )
    base_lr: float | list[float] | None = Field(
        default=None,
        description="Base LR of each param group (a number is one group). Required by kinds "
        "that scale the optimizer's LR (the catalog's needs_base_lr); others take absolute "
        "values from the spec and use base_lr only for the number of groups.",
        examples=[0.1],
    )
    steps: int = Field(ge=1, description="Number of optimizer updates; value i is update i.")
    metrics: list[float] | None = Field(
        default=None, description="Metric-driven kinds: call i receives metrics[i-1]."
    )
    points: int | None = Field(
        default=None, ge=1, description="Downsample to the min and max of this many buckets."
    )


@dataclass(frozen=True)
class Evaluation:
    steps: int
    lr: FloatArray  # (groups, n)
    momentum: FloatArray | None
    index: IntArray | None  # step of each value when downsampled, else None


def evaluate(request: EvaluateRequest, *, max_steps: int) -> Evaluation:
    if request.steps > max_steps:
        raise InvalidArgument(f"at most {max_steps} steps per query", field="steps")
    resolved = resolve_cached(request.schedule)
    context = EvalContext(
        steps=request.steps,
        base_lrs=_base_lrs(request.base_lr, resolved),
        metrics=None if request.metrics is None else np.asarray(request.metrics, np.float64),
    )
    curve = resolved.evaluate(context)
    if request.points is None or 2 * request.points >= request.steps:
        momentum = None if curve.momentum is None else np.ascontiguousarray(curve.momentum)
        return Evaluation(request.steps, np.ascontiguousarray(curve.lr), momentum, None)
    series = curve.lr if curve.momentum is None else np.vstack([curve.lr, curve.momentum])
    index = downsample_index(series, request.points)
    # Fancy indexing may answer a non-C-contiguous view; encoders need contiguous rows.
    momentum = None if curve.momentum is None else np.ascontiguousarray(curve.momentum[:, index])
    return Evaluation(request.steps, np.ascontiguousarray(curve.lr[:, index]), momentum, index)


def resolve_cached(spec: Mapping[str, Any]) -> ResolvedSchedule:
    """:func:`resolve_spec`, remembered for the last few specs: a dashboard asks for the same
    schedule again and again (a slider on ``steps``, ``base_lr`` or ``points``, several viewers),
    and validating the arguments costs more than evaluating a short curve. A resolved schedule is
    immutable, so sharing it is safe; a refused spec is not remembered (it raises each time).
    The key is the spec's canonical JSON, so ``1``, ``1.0``, ``true``, ``NaN`` and ``null`` stay
    distinct, and the schedule is resolved from the key (a copy the caller cannot change)."""
    key = _canonical(spec)
    if key is None or len(key) > CACHED_SPEC_CHARS:
        return resolve_spec(spec)
    return _resolve_key(key)


def _canonical(spec: Mapping[str, Any]) -> bytes | str | None:
    """The spec's JSON with sorted keys: orjson's (~0.2 µs), or the standard library's where
    orjson writes ``null`` (which it also writes for NaN and infinities) or refuses the spec
    (ints past 64 bits, keys that are not strings); None where neither can write it."""
    try:
        fast = orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        fast = None
    if fast is not None and b"null" not in fast:
        return fast
    try:
        return json.dumps(spec, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON-shaped: let resolve_spec name the problem
        return None


@functools.lru_cache(maxsize=256)
def _resolve_key(key: bytes | str) -> ResolvedSchedule:
    return resolve_spec(orjson.loads(key) if isinstance(key, bytes) else json.loads(key))


def _base_lrs(base_lr: float | list[float] | None, resolved: ResolvedSchedule) -> FloatArray:
    if base_lr is None:
        if resolved.kind.needs_base_lr:
            raise InvalidArgument(
                f"{resolved.kind.name} scales the optimizer's LR: give base_lr", field="base_lr"
            )
        return np.ones(1, np.float64)
    if isinstance(base_lr, float):  # the common case, without numpy's reductions
        values, finite = np.array([base_lr]), math.isfinite(base_lr)
    else:
        values = np.atleast_1d(np.asarray(base_lr, np.float64))
        if values.size == 0:
            raise InvalidArgument("at least one param group", field="base_lr")
        finite = bool(np.all(np.isfinite(values)))
    if not finite:
        raise InvalidArgument("base LRs must be finite", field="base_lr")
    return values


def downsample_index(series: FloatArray, points: int) -> IntArray:
    """Steps to keep: per bucket of ``ceil(n / points)`` steps, the argmin and argmax of every row,
    plus the first and last step; sorted and unique (at most ``2 * rows * points + 2``).

    Example: ``n=10, points=2`` makes buckets [0..4], [5..9]; for a falling line the kept steps
    are 0, 4, 5, 9."""
    n = series.shape[1]
    width = -(-n // points)
    buckets = -(-n // width)
    padded_len = buckets * width
    keep = [np.array([0, n - 1], np.int64)]
    starts = np.arange(buckets, dtype=np.int64) * width
    for row in series:
        padded_min = np.full(padded_len, np.inf)
        padded_max = np.full(padded_len, -np.inf)
        finite_row = np.where(np.isnan(row), 0.0, row)
        padded_min[:n] = finite_row
        padded_max[:n] = finite_row
        keep.append(starts + padded_min.reshape(buckets, width).argmin(axis=1))
        keep.append(starts + padded_max.reshape(buckets, width).argmax(axis=1))
    return np.unique(np.concatenate(keep)).astype(np.int64)

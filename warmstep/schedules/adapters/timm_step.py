"""timm 1.0.31 ``StepLRScheduler`` and ``MultiStepLRScheduler`` (shared helpers in ``timm``).

Both default to ``warmup_prefix=True`` and ``decay_rate=1.0`` (no decay at all unless set).
With ``t'`` the time after the prefix shift:

- Step: ``b * decay_rate ** (t' // decay_t)``; ``decay_t`` may be a float (Python floor division).
  Example: b=0.1, decay_t=10, decay_rate=0.5: values 0..9 are 0.1, 10..19 are 0.05.
- MultiStep: ``b * decay_rate ** bisect_right(decay_t, t' + 1)``: it decays at ``t' = m - 1``,
  one step before torch's ``MultiStepLR`` (timm keeps this on purpose). Example: decay_t=[5],
  decay_rate=0.5, b=0.1: values 0..3 are 0.1, from 4 on 0.05.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

import numpy as np
from pydantic import field_validator

from warmstep.schedules._core import Curve, EvalContext, FloatArray, Kind, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.timm import (
    TimmParams,
    integer_power,
    timm_curve,
    whole_floor_divide,
)


class StepLRSchedulerParams(TimmParams):
    decay_t: float
    decay_rate: float = 1.0
    warmup_prefix: bool = True

    @field_validator("decay_t")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("decay_t must not be 0 (timm divides by it: ZeroDivisionError)")
        return value


class MultiStepLRSchedulerParams(TimmParams):
    decay_t: list[int]
    decay_rate: float = 1.0
    warmup_prefix: bool = True

    @field_validator("decay_t")
    @classmethod
    def _sorted(cls, value: list[int]) -> list[int]:
        if any(a > b for a, b in itertools.pairwise(value)):
            raise ValueError(
                "decay_t must be sorted: timm bisects it and gives arbitrary values otherwise"
            )
        return value


def _step(params: StepLRSchedulerParams, context: EvalContext) -> Curve:
    def main(t: FloatArray) -> FloatArray:
        factor = integer_power(params.decay_rate, whole_floor_divide(t, params.decay_t))
        return context.base_lrs[:, None] * factor

    def runs(first: int, count: int) -> tuple[list[int], list[FloatArray | None]] | None:
        """A whole positive ``decay_t``: ``t // decay_t`` steps up at its multiples."""
        period = params.decay_t
        if not (float(period).is_integer() and 0 < period < 2**53):
            return None
        period = int(period)
        low, high = first // period, (first + count - 1) // period
        if high - low >= _MAX_RUNS:
            return None
        exponents = range(low, high + 1)
        starts = [max(k * period - first, 0) for k in exponents]
        return starts, _values(context, params.decay_rate, exponents)

    return timm_curve(params, context, main, params.warmup_prefix, runs=runs)


def _multistep(params: MultiStepLRSchedulerParams, context: EvalContext) -> Curve:
    milestones = np.asarray(params.decay_t, dtype=np.float64)

    def main(t: FloatArray) -> FloatArray:
        passed = np.searchsorted(milestones, t + 1, side="right")  # int64: whole by type
        return context.base_lrs[:, None] * integer_power(params.decay_rate, passed)

    def runs(first: int, count: int) -> tuple[list[int], list[FloatArray | None]] | None:
        """``bisect_right(decay_t, t + 1)`` steps up at ``t = m - 1`` for each milestone m."""
        starts, passed = [0], [bisect.bisect_right(params.decay_t, first + 1)]
        for m in sorted(set(params.decay_t)):
            if first < m - 1 < first + count:
                starts.append(m - 1 - first)
                passed.append(bisect.bisect_right(params.decay_t, m))
        if len(starts) > _MAX_RUNS:
            return None
        return starts, _values(context, params.decay_rate, passed)

    return timm_curve(params, context, main, params.warmup_prefix, runs=runs)


_MAX_RUNS = 4096  # more steps of a staircase than this: the array path (a table lookup)


def _values(context: EvalContext, rate: float, exponents: Sequence[int]) -> list[FloatArray | None]:
    """Per run, each base lr times ``rate ** k`` (Python's power of a float by an int, as timm
    computes it: the C library's ``pow``, whose errors ``math.pow`` raises too)."""
    return [context.base_lrs * math.pow(rate, float(k)) for k in exponents]


_DOC = (
    " warmup_prefix defaults to True and decay_rate to 1.0 (no decay). Value i = lr after "
    "step_update(num_updates=i) or step(epoch=i). Scales each group's base lr."
)

register(
    Kind(
        name="StepLRScheduler",
        library=Library.TIMM,
        params=StepLRSchedulerParams,
        evaluate=_step,
        doc="timm step decay: b * decay_rate^(t // decay_t)." + _DOC,
        needs_base_lr=True,
    )
)
register(
    Kind(
        name="MultiStepLRScheduler",
        library=Library.TIMM,
        params=MultiStepLRSchedulerParams,
        evaluate=_multistep,
        doc="timm multi-step decay: b * decay_rate^bisect_right(decay_t, t + 1), i.e. it decays "
        "at t = m - 1, one step before torch's MultiStepLR." + _DOC,
        needs_base_lr=True,
    )
)

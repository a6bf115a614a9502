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

import itertools

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

    return timm_curve(params, context, main, params.warmup_prefix)


def _multistep(params: MultiStepLRSchedulerParams, context: EvalContext) -> Curve:
    milestones = np.asarray(params.decay_t, dtype=np.float64)

    def main(t: FloatArray) -> FloatArray:
        passed = np.searchsorted(milestones, t + 1, side="right")  # int64: whole by type
        return context.base_lrs[:, None] * integer_power(params.decay_rate, passed)

    return timm_curve(params, context, main, params.warmup_prefix)


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

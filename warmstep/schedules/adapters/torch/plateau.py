"""torch ReduceLROnPlateau, driven by ``context.metrics`` (call i receives ``metrics[i-1]``).

Better means ``a < best*(1-threshold)`` (min, rel), ``a < best - threshold`` (min, abs),
``a > best*(1+threshold)`` (max, rel) or ``a > best + threshold`` (max, abs). A call that is not
better adds one bad epoch; during cooldown the bad count is reset; more than ``patience`` bad
epochs multiply every group lr by ``factor`` (floored at ``min_lr``, skipped when the change is
``<= eps``) and start the cooldown. Example: patience=0, metrics [1, 1, 1] gives b, b, 0.1b, 0.01b.
The loop over metrics is sequential by nature (each decision depends on the previous ones).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
from pydantic import field_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters._plateau_scan import (
    Threshold,
    levels_curve,
    reduced_levels,
    reduction_calls,
)
from warmstep.schedules.adapters.torch._kinds import per_group


class ReduceLROnPlateauParams(KindParams):
    mode: Literal["min", "max"] = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: Literal["rel", "abs"] = "rel"
    cooldown: int = 0
    min_lr: float | list[float] = 0
    eps: float = 1e-8

    @field_validator("factor")
    @classmethod
    def _below_one(cls, value: float) -> float:
        if value >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        return value


def evaluate(p: ReduceLROnPlateauParams, context: EvalContext) -> Curve:
    steps = context.steps
    metrics = context.metrics
    if steps > 1 and (metrics is None or len(metrics) < steps - 1):
        have = 0 if metrics is None else len(metrics)
        raise InvalidArgument(
            f"ReduceLROnPlateau needs {steps - 1} metrics for {steps} steps (call i receives "
            f"metrics[i-1]); got {have}",
            field="metrics",
        )
    min_lrs = [float(v) for v in per_group(p.min_lr, "min_lr", context.path, context.groups)]
    series = np.asarray(metrics if metrics is not None else [], np.float64)[: max(steps - 1, 0)]
    calls = reduction_calls(
        series,
        1,
        Threshold(p.threshold, relative=p.threshold_mode == "rel"),
        maximize=p.mode == "max",
        patience=p.patience,
        cooldown=p.cooldown,
    )
    levels = [
        reduced_levels(base, calls.shape[0], functools.partial(_reduce, p=p, floor=floor))
        for base, floor in zip(context.base_lrs.tolist(), min_lrs, strict=True)
    ]
    return Curve(lr=levels_curve(levels, calls, steps))


def _reduce(old: float, p: ReduceLROnPlateauParams, floor: float) -> float:
    new = max(old * p.factor, floor)
    return new if old - new > p.eps else old


register(
    Kind(
        name="ReduceLROnPlateau",
        library=Library.TORCH,
        params=ReduceLROnPlateauParams,
        evaluate=evaluate,
        doc="torch ReduceLROnPlateau: multiply by factor after patience+1 calls without "
        "improvement; takes the request's metrics (call i receives metrics[i-1]). Needs base_lr.",
        needs_base_lr=True,
        takes_metrics=True,
    )
)

"""timm 1.0.31 ``PlateauLRScheduler`` (deprecated in timm): torch ``ReduceLROnPlateau`` behind a
linear warmup. Metric-driven, hence the one sequential loop of the timm adapters.

Call ``i`` (``step(epoch=i, metric=metrics[i-1])``) with ``i <= warmup_t`` writes the warmup value
``warmup_lr_init + i * (b - warmup_lr_init) / warmup_t`` and ignores the metric. Later calls step
the inner ``ReduceLROnPlateau(patience=patience_t, factor=decay_rate, threshold=threshold,
cooldown=cooldown_t, mode=mode, min_lr=lr_min)`` (relative threshold, eps 1e-8) on the lr the
warmup left: a metric is *better* when ``m > best * (1 + threshold)`` (mode ``'max'``, timm's
default) or ``m < best * (1 - threshold)`` (``'min'``); the ``patience_t + 1``-th consecutive
non-improvement multiplies every group's lr by ``decay_rate`` (clamped at ``lr_min``, skipped when
the change is ``<= 1e-8``), then ``cooldown_t`` calls ignore bad metrics. Example: mode 'max',
patience_t=2, decay_rate=0.5, b=0.1, metrics 0.5, 0.6, 0.6, 0.6, 0.6: values 0.1 (i=0..4), 0.05 at
i=5. ``step_update`` does nothing for this class, so ``t_in_epochs`` is not an argument.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import field_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, FloatArray, Kind, KindParams, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters import _plateau_scan as plateau_scan

_EPS = 1e-8


class PlateauLRSchedulerParams(KindParams):
    decay_rate: float = 0.1
    patience_t: int = 10
    threshold: float = 1e-4
    cooldown_t: int = 0
    warmup_t: int = 0
    warmup_lr_init: float = 0.0
    lr_min: float = 0.0
    mode: Literal["min", "max"] = "max"
    noise_range_t: list[int] | int | None = None
    noise_type: str = "normal"
    noise_pct: float = 0.67
    noise_std: float = 1.0
    noise_seed: int | None = None
    initialize: bool = True

    @field_validator("decay_rate")
    @classmethod
    def _factor(cls, value: float) -> float:
        if value >= 1.0:
            raise ValueError("Factor should be < 1.0. (torch ReduceLROnPlateau)")
        return value

    @field_validator("noise_range_t")
    @classmethod
    def _no_noise(cls, value: list[int] | int | None) -> None:
        if value is not None:
            raise ValueError("not supported: timm draws the noise from torch's Generator")
        return value


def reduction_calls(
    params: PlateauLRSchedulerParams, metrics: FloatArray, first: int
) -> plateau_scan.IntArray:
    """Indices ``i >= first`` of the calls at which the inner ReduceLROnPlateau reduces."""
    return plateau_scan.reduction_calls(
        metrics,
        first,
        plateau_scan.Threshold(params.threshold, relative=True),
        maximize=params.mode == "max",
        patience=params.patience_t,
        cooldown=params.cooldown_t,
    )


def _group_levels(start: float, count: int, params: PlateauLRSchedulerParams) -> list[float]:
    def reduce(old: float) -> float:
        new = max(old * params.decay_rate, params.lr_min)
        return new if old - new > _EPS else old

    return plateau_scan.reduced_levels(start, count, reduce)


def _plateau(params: PlateauLRSchedulerParams, context: EvalContext) -> Curve:
    steps, warmup_t = context.steps, params.warmup_t
    metrics = context.metrics
    needed = max(steps - 1, 0)
    if metrics is None or metrics.shape[0] < needed:
        have = 0 if metrics is None else metrics.shape[0]
        raise InvalidArgument(
            f"PlateauLRScheduler needs {needed} metrics (call i receives metrics[i-1]), got {have}",
            field="metrics",
        )
    base = context.base_lrs
    t = np.arange(steps, dtype=np.float64)
    lr = np.repeat(base[:, None], steps, axis=1)
    after_warmup = base
    if warmup_t:
        slope = (base - params.warmup_lr_init) / warmup_t
        ramp = t <= warmup_t
        lr[:, ramp] = params.warmup_lr_init + t[ramp] * slope[:, None]
        # a negative warmup_t writes warmup_lr_init at construction and never ramps
        after_warmup = params.warmup_lr_init + max(warmup_t, 0) * slope
    first = max(warmup_t + 1, 1)
    calls = reduction_calls(params, metrics[:needed], first)
    if first < steps:
        levels = [_group_levels(float(start), calls.shape[0], params) for start in after_warmup]
        lr[:, first:] = plateau_scan.levels_curve(levels, calls, steps)[:, first:]
    if steps:
        lr[:, 0] = params.warmup_lr_init if warmup_t else base
    return Curve(lr=lr)


register(
    Kind(
        name="PlateauLRScheduler",
        library=Library.TIMM,
        params=PlateauLRSchedulerParams,
        evaluate=_plateau,
        doc="timm ReduceLROnPlateau wrapper (deprecated in timm): linear warmup for calls "
        "i <= warmup_t, then multiply by decay_rate after patience_t+1 non-improving metrics "
        "(default mode 'max'). Needs metrics; call i receives metrics[i-1]. Scales each group's "
        "base lr.",
        needs_base_lr=True,
        takes_metrics=True,
    )
)

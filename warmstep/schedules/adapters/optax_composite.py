"""optax 0.2.8 piecewise, one-cycle, warmup and SGDR schedules and ``join_schedules``, in float32
(building blocks and conventions in ``optax``).

- ``piecewise_constant_schedule``: the scales multiply, cumulatively and in float32, once
  ``count >= boundary`` (optax switches *at* the boundary; keras one step later).
- ``piecewise_interpolate_schedule``: knots ``(0, b1, ...)`` with values the running product of
  ``init_value`` and the scales; linear ``(end - start) * pct + start`` or cosine
  ``end + (start - end) / 2 * (cos(pi pct) + 1)`` inside each interval; the last value after.
- ``linear_onecycle_schedule`` / ``cosine_onecycle_schedule``: that interpolation with knots at
  ``int(pct_start * N)`` (and ``int(pct_final * N)``) and ``N``, built as optax builds its dict
  (coinciding knots keep the later scale).
- ``warmup_*``: ``join`` of a linear warmup and the decay at ``warmup_steps``; in
  ``warmup_cosine_decay_schedule`` ``decay_steps`` includes the warmup and ``alpha = end/peak``.
- ``sgdr_schedule``: warmup-cosine pieces joined back to back at cumulative ``decay_steps``.
- ``join_schedules``: ``schedules[k+1]`` from ``boundaries[k]`` on, its count restarted at 0
  (pairs as Python's ``zip``: extra schedules or boundaries are ignored).
Example: ``piecewise_constant_schedule(0.1, {"5": 0.5})`` is 0.1 (float32) up to count 4 and
float32(0.1) * 0.5 from count 5 on.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import NestedSchedules, register
from warmstep.schedules.adapters.keras import F32, PI32, F32Array, cos32
from warmstep.schedules.adapters.optax import (
    IntArray,
    Schedule,
    cosine_decay,
    exponential,
    join,
    polynomial,
    register_optax,
)


def _check_scales(value: dict[int, float] | None) -> dict[int, float] | None:
    if value is not None and not all(scale >= 0.0 for scale in value.values()):
        raise ValueError("expects non-negative scale factors")
    return value


class PiecewiseConstantScheduleParams(KindParams):
    init_value: float
    boundaries_and_scales: dict[int, float] | None = None
    _scales = field_validator("boundaries_and_scales")(_check_scales)


def piecewise_constant(init_value: float, scales: dict[int, float] | None) -> Schedule:
    def schedule(count: IntArray) -> F32Array:
        value = np.full(count.shape, F32(init_value), dtype=F32)
        for threshold, scale in sorted((scales or {}).items()):
            value = np.where(count >= threshold, F32(scale) * value, value)
        return value

    return schedule


class PiecewiseInterpolateScheduleParams(KindParams):
    interpolate_type: Literal["linear", "cosine"]
    init_value: float
    boundaries_and_scales: dict[int, float] | None = None
    _scales = field_validator("boundaries_and_scales")(_check_scales)


def piecewise_interpolate(
    kind: str, init_value: float, scales: dict[int, float] | None
) -> Schedule:
    pairs = sorted((scales or {}).items())
    bounds = np.array([0] + [b for b, _ in pairs], dtype=np.int64)
    values = np.cumprod(np.array([init_value] + [s for _, s in pairs], dtype=F32))

    def schedule(count: IntArray) -> F32Array:
        out = np.zeros(count.shape, dtype=F32)
        for k in range(bounds.size - 1):
            start, end, low = values[k], values[k + 1], bounds[k]
            pct = (count - low).astype(F32) / F32(max(bounds[k + 1] - low, 1))
            if kind == "linear":
                piece = (end - start) * pct + start
            else:
                piece = end + (start - end) / F32(2.0) * (cos32(PI32 * pct) + F32(1))
            inside = (low <= count) & (count < bounds[k + 1])
            out = out + inside.astype(F32) * piece
        last: F32Array = (bounds[-1] <= count).astype(F32) * values[-1]
        return out + last

    return schedule


class LinearOnecycleScheduleParams(KindParams):
    transition_steps: int
    peak_value: float
    pct_start: float = 0.3
    pct_final: float = 0.85
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    @field_validator("transition_steps")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("A onecycle schedule was set with a non-positive transition_steps")
        return value


class CosineOnecycleScheduleParams(KindParams):
    transition_steps: int
    peak_value: float
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    @field_validator("transition_steps")
    @classmethod
    def _positive(cls, value: int) -> int:
        return LinearOnecycleScheduleParams._positive(value)


def _linear_onecycle(p: LinearOnecycleScheduleParams) -> Schedule:
    n = p.transition_steps
    knots = {int(p.pct_start * n): p.div_factor}
    knots[int(p.pct_final * n)] = 1.0 / p.div_factor
    knots[n] = 1.0 / p.final_div_factor
    return piecewise_interpolate("linear", p.peak_value / p.div_factor, knots)


def _cosine_onecycle(p: CosineOnecycleScheduleParams) -> Schedule:
    n = p.transition_steps
    knots = {int(p.pct_start * n): p.div_factor}
    knots[int(n)] = 1.0 / (p.div_factor * p.final_div_factor)
    return piecewise_interpolate("cosine", p.peak_value / p.div_factor, knots)


class WarmupConstantScheduleParams(KindParams):
    init_value: float
    peak_value: float
    warmup_steps: int


class WarmupCosineDecayScheduleParams(KindParams):
    init_value: float
    peak_value: float
    warmup_steps: int
    decay_steps: int
    end_value: float = 0.0
    exponent: int | float = 1.0

    @model_validator(mode="after")
    def _decay_after_warmup(self) -> WarmupCosineDecayScheduleParams:
        if not self.decay_steps - self.warmup_steps > 0:
            raise ValueError(
                "The cosine_decay_schedule requires positive decay_steps, got "
                f"decay_steps={self.decay_steps - self.warmup_steps} (decay_steps - warmup_steps)"
            )
        return self


def warmup_cosine(p: WarmupCosineDecayScheduleParams) -> Schedule:
    alpha = 0.0 if p.peak_value == 0.0 else p.end_value / p.peak_value
    warmup = polynomial(p.init_value, p.peak_value, 1, p.warmup_steps)
    decay = cosine_decay(p.peak_value, p.decay_steps - p.warmup_steps, alpha, p.exponent)
    return join([warmup, decay], [p.warmup_steps])


class WarmupExponentialDecayScheduleParams(KindParams):
    init_value: float
    peak_value: float
    warmup_steps: int
    transition_steps: int
    decay_rate: float
    transition_begin: int = 0
    staircase: bool = False
    end_value: float | None = None


def _warmup_exponential(p: WarmupExponentialDecayScheduleParams) -> Schedule:
    warmup = polynomial(p.init_value, p.peak_value, 1, p.warmup_steps)
    decay = exponential(
        p.peak_value,
        p.transition_steps,
        p.decay_rate,
        p.transition_begin,
        p.staircase,
        p.end_value,
    )
    return join([warmup, decay], [p.warmup_steps])


class SgdrScheduleParams(KindParams):
    cosine_kwargs: list[WarmupCosineDecayScheduleParams] = Field(min_length=1)


def _sgdr(p: SgdrScheduleParams) -> Schedule:
    boundaries = np.cumsum([piece.decay_steps for piece in p.cosine_kwargs]).tolist()
    return join([warmup_cosine(piece) for piece in p.cosine_kwargs], boundaries[:-1])


_KINDS: list[tuple[str, type[KindParams], Any, str]] = [
    (
        "piecewise_constant_schedule",
        PiecewiseConstantScheduleParams,
        lambda p: piecewise_constant(p.init_value, p.boundaries_and_scales),
        "optax: init_value times every scale whose boundary count has been reached.",
    ),
    (
        "piecewise_interpolate_schedule",
        PiecewiseInterpolateScheduleParams,
        lambda p: piecewise_interpolate(p.interpolate_type, p.init_value, p.boundaries_and_scales),
        "optax: linear or cosine interpolation between cumulative-scale knots.",
    ),
    (
        "linear_onecycle_schedule",
        LinearOnecycleScheduleParams,
        _linear_onecycle,
        "optax: linear one-cycle, knots at int(pct_start*N), int(pct_final*N), N.",
    ),
    (
        "cosine_onecycle_schedule",
        CosineOnecycleScheduleParams,
        _cosine_onecycle,
        "optax: cosine one-cycle, knots at int(pct_start*N) and N; no momentum.",
    ),
    (
        "warmup_constant_schedule",
        WarmupConstantScheduleParams,
        lambda p: polynomial(p.init_value, p.peak_value, 1, p.warmup_steps),
        "optax: linear warmup to peak_value, then constant.",
    ),
    (
        "warmup_cosine_decay_schedule",
        WarmupCosineDecayScheduleParams,
        warmup_cosine,
        "optax: linear warmup then cosine decay to end_value; decay_steps includes the warmup.",
    ),
    (
        "warmup_exponential_decay_schedule",
        WarmupExponentialDecayScheduleParams,
        _warmup_exponential,
        "optax: linear warmup then exponential decay restarted at 0.",
    ),
    (
        "sgdr_schedule",
        SgdrScheduleParams,
        _sgdr,
        "optax: warmup-cosine pieces joined at cumulative decay_steps.",
    ),
]
for _name, _params, _build, _doc in _KINDS:
    register_optax(_name, _params, _build, _doc)


class JoinSchedulesParams(KindParams):
    schedules: NestedSchedules
    boundaries: list[int]

    @model_validator(mode="after")
    def _optax_children(self) -> JoinSchedulesParams:
        if not self.schedules:
            raise ValueError("join_schedules needs at least one schedule")
        for child in self.schedules:
            if child.kind.library is not Library.OPTAX:
                raise ValueError(
                    f"join_schedules joins optax schedules; {child.path} is "
                    f"{child.kind.library.value} {child.kind.name!r}"
                )
        return self


def _join_schedules(params: JoinSchedulesParams, context: EvalContext) -> Curve:
    """Evaluate each child only at the counts it is asked for, ``i - boundary``."""
    steps = context.steps
    lr = params.schedules[0].evaluate(context).lr
    i = np.arange(steps)
    for boundary, child in zip(params.boundaries, params.schedules[1:], strict=False):
        first = max(boundary, 0)
        if first >= steps:
            continue
        values = child.evaluate(context.with_steps(steps - boundary)).lr
        lr = lr.copy()
        lr[:, i >= first] = values[:, first - boundary :]
    return Curve(lr=lr)


register(
    Kind(
        name="join_schedules",
        library=Library.OPTAX,
        params=JoinSchedulesParams,
        evaluate=_join_schedules,
        doc="optax: schedules[k+1] from boundaries[k] on, its count restarted at 0. Children "
        "are optax specs. float32; absolute values (no base lr).",
        needs_base_lr=False,
        nested_fields=("schedules",),
    )
)

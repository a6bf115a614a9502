"""keras 3.15.1 ``keras.optimizers.schedules``, computed in float32 op by op as keras does.

Value i is ``schedule(i)``: the optimizer evaluates ``schedule(iterations)`` and increments
``iterations`` after the update. keras casts the step and every argument to the dtype of
``initial_learning_rate`` (float32) and runs each op in float32; Python-number arguments that keras
leaves as Python numbers (``CosineDecay.alpha``, ``PolynomialDecay``'s ``decay_steps`` in the cycle
ratio) are combined in float64 first and rounded when they meet a tensor, as torch does. Basic
arithmetic in numpy float32 is the same IEEE operation; ``cos``, ``log`` and ``pow`` are taken in
float64 and rounded once to float32 (correctly rounded, which is what the C library's
``cosf``/``logf``/``powf`` that keras's torch backend calls return on these inputs). Every kind
takes absolute values: the request's base lrs only fix the number of groups.
Example: ``ExponentialDecay(0.1, 10, 0.5)`` at step 10 is float32(0.1) * 0.5 = 0.05000000074505806.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import field_validator, model_validator

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register

F32 = np.float32
F32Array = npt.NDArray[np.float32]
PI32 = F32(math.pi)


def cos32(x: F32Array) -> F32Array:
    return np.cos(np.asarray(x, dtype=np.float64)).astype(F32)


def log32(x: F32Array | np.float32) -> F32Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.asarray(x, dtype=np.float64)).astype(F32)


def pow32(base: F32Array | np.float32, exponent: F32Array | np.float32) -> F32Array:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        result = np.power(np.float64(base), np.asarray(exponent, dtype=np.float64))
    return np.asarray(result).astype(F32)


def as_curve(values: F32Array, context: EvalContext) -> Curve:
    row = values.astype(np.float64)
    return Curve(lr=np.broadcast_to(row, (context.groups, row.size)).copy())


def step32(context: EvalContext) -> F32Array:
    """The optimizer's integer iteration count cast to float32 (rounds past 2**24)."""
    return np.arange(context.steps, dtype=np.int64).astype(F32)


class _DecayStepsPositive(KindParams):
    @field_validator("decay_steps", "first_decay_steps", check_fields=False)
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"must be > 0. Received: {value}")
        return value


class ExponentialDecayParams(_DecayStepsPositive):
    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    name: str = "ExponentialDecay"


def _exponential(params: ExponentialDecayParams, context: EvalContext) -> Curve:
    p = step32(context) / F32(params.decay_steps)
    if params.staircase:
        p = np.floor(p)
    return as_curve(F32(params.initial_learning_rate) * pow32(F32(params.decay_rate), p), context)


class PiecewiseConstantDecayParams(KindParams):
    boundaries: list[int]
    values: list[float]
    name: str = "PiecewiseConstant"

    @model_validator(mode="after")
    def _lengths(self) -> PiecewiseConstantDecayParams:
        if len(self.boundaries) != len(self.values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values")
        if not self.boundaries:
            raise ValueError("boundaries must not be empty (keras indexes boundaries[0])")
        return self


def _piecewise(params: PiecewiseConstantDecayParams, context: EvalContext) -> Curve:
    """keras sums ``mask * value`` over its ranges in float32 (one mask is 1 when sorted)."""
    step = np.arange(context.steps, dtype=np.int64)
    bounds, values = params.boundaries, [F32(v) for v in params.values]
    result = np.zeros(context.steps, dtype=F32)
    result += (step <= bounds[0]).astype(F32) * values[0]
    result += (step > bounds[-1]).astype(F32) * values[-1]
    for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1], strict=False):
        result += ((step > low) & (step <= high)).astype(F32) * value
    return as_curve(result, context)


class PolynomialDecayParams(_DecayStepsPositive):
    initial_learning_rate: float
    decay_steps: float
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False
    name: str = "PolynomialDecay"


def _polynomial(params: PolynomialDecayParams, context: EvalContext) -> Curve:
    step = step32(context)
    decay_steps: F32Array = np.full_like(step, F32(params.decay_steps))
    if params.cycle:
        multiplier = np.where(step == 0, F32(1.0), np.ceil(step / decay_steps))
        decay_steps = decay_steps * multiplier
    else:
        step = np.minimum(step, decay_steps)
    p = step / decay_steps
    initial, end = F32(params.initial_learning_rate), F32(params.end_learning_rate)
    return as_curve((initial - end) * pow32(F32(1) - p, F32(params.power)) + end, context)


class InverseTimeDecayParams(_DecayStepsPositive):
    initial_learning_rate: float
    decay_steps: float
    decay_rate: float
    staircase: bool = False
    name: str = "InverseTimeDecay"


def _inverse_time(params: InverseTimeDecayParams, context: EvalContext) -> Curve:
    p = step32(context) / F32(params.decay_steps)
    if params.staircase:
        p = np.floor(p)
    with np.errstate(divide="ignore"):
        value = F32(params.initial_learning_rate) / (F32(1) + F32(params.decay_rate) * p)
    return as_curve(value, context)


register(
    Kind(
        name="ExponentialDecay",
        library=Library.KERAS,
        params=ExponentialDecayParams,
        evaluate=_exponential,
        doc="keras: initial_learning_rate * decay_rate^(step/decay_steps), exponent floored if "
        "staircase; float32. Value i = schedule(i). Absolute values (no base lr).",
        needs_base_lr=False,
    )
)
register(
    Kind(
        name="PiecewiseConstantDecay",
        library=Library.KERAS,
        params=PiecewiseConstantDecayParams,
        evaluate=_piecewise,
        doc="keras: values[0] for step <= boundaries[0], values[i] for b[i-1] < step <= b[i], "
        "values[-1] after: it switches at boundary + 1. float32; absolute values.",
        needs_base_lr=False,
    )
)
register(
    Kind(
        name="PolynomialDecay",
        library=Library.KERAS,
        params=PolynomialDecayParams,
        evaluate=_polynomial,
        doc="keras: (lr0 - end) * (1 - min(step, D)/D)^power + end; cycle=True uses "
        "D * ceil(step/D) (1 at step 0). float32; absolute values.",
        needs_base_lr=False,
    )
)
register(
    Kind(
        name="InverseTimeDecay",
        library=Library.KERAS,
        params=InverseTimeDecayParams,
        evaluate=_inverse_time,
        doc="keras: lr0 / (1 + decay_rate * step/decay_steps), ratio floored if staircase. "
        "float32; absolute values.",
        needs_base_lr=False,
    )
)

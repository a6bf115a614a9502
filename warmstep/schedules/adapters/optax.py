"""optax 0.2.8 schedules (``optax.schedules``), in float32 as jax computes them op by op.

Value i is ``schedule(count)`` with ``count = i`` (int32, 0 at the first update: what
``scale_by_schedule`` and ``inject_hyperparams`` pass). Python-number arguments meet the count in
jax's weak-type rules: arithmetic between Python numbers happens in float64 first (``init_value -
end_value``, ``1 - alpha``, ``peak_value / div_factor``), the result is rounded to float32 when it
meets an array, and every array op is float32. A Python ``int`` exponent (``power=2``) is
``lax.integer_pow`` (repeated multiplication) while a float one (``power=2.0``) is ``lax.pow``;
the spec keeps that difference. Schedules that return a Python number (``constant_schedule``,
degenerate arguments) are given as that number rounded to float32, the dtype the optimizer applies
it in. Values are those of eager calls; under ``jax.jit`` XLA fuses ops and can differ by a few
float32 ulps. All kinds take absolute values: base lrs only fix the number of groups.

This module holds the building blocks and the closed-form kinds; ``optax_composite`` the
warmup / one-cycle / SGDR compositions and ``join_schedules``.
Example: ``linear_schedule(0.1, 0.001, 30)`` at count 10 is
float32(0.099) * (1 - 10/30) + float32(0.001) = 0.06700000166893005.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import field_validator

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.keras import F32, PI32, F32Array, cos32, pow32

IntArray = np.ndarray
Schedule = Callable[[IntArray], F32Array]


def integer_pow32(x: F32Array, y: int) -> F32Array:
    """``lax.integer_pow``: binary exponentiation by float32 multiplications (1/acc if y < 0)."""
    if y == 0:
        return np.ones_like(x)
    n, acc, base = abs(y), None, x
    while n > 0:
        if n & 1:
            acc = base if acc is None else acc * base
        n >>= 1
        if n > 0:
            base = base * base
    assert acc is not None
    if y < 0:
        with np.errstate(divide="ignore"):
            return F32(1) / acc
    return acc


def power32(x: F32Array, exponent: int | float) -> F32Array:
    if isinstance(exponent, int):
        return integer_pow32(x, exponent)
    return pow32(x, F32(exponent))


@dataclass(frozen=True)
class Constant:
    """A schedule of one float32 value at every count (:func:`optax_curve` fills it at once)."""

    value: np.float32

    def __call__(self, count: IntArray) -> F32Array:
        return np.full(count.shape, self.value, dtype=F32)


def constant(value: float) -> Schedule:
    return Constant(F32(value))


def polynomial(
    init_value: float, end_value: float, power: int | float, steps: int, begin: int = 0
) -> Schedule:
    """``(init - end) * (1 - clip(count - begin, 0, steps)/steps)**power + end``."""
    if steps <= 0:
        return constant(init_value)
    begin = max(begin, 0)

    def schedule(count: IntArray) -> F32Array:
        clipped = np.clip(count - begin, 0, steps).astype(F32)
        frac = F32(1) - clipped / F32(steps)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return F32(init_value - end_value) * power32(frac, power) + F32(end_value)

    return schedule


def exponential(
    init_value: float,
    steps: int,
    rate: float,
    begin: int = 0,
    staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """``init * rate**((count - begin)/steps)`` (exponent floored if staircase), ``init`` before
    ``begin``, clipped at ``end_value`` (below for rate < 1, above otherwise)."""
    if steps <= 0 or rate == 0:
        return constant(init_value)
    begin = max(begin, 0)

    def schedule(count: IntArray) -> F32Array:
        shifted = count - begin
        p = shifted.astype(F32) / F32(steps)
        if staircase:
            p = np.floor(p)
        value = np.where(shifted <= 0, F32(init_value), F32(init_value) * pow32(F32(rate), p))
        if end_value is not None:
            clip = np.maximum if rate < 1.0 else np.minimum
            value = clip(value, F32(end_value))
        return value

    return schedule


def cosine_decay(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: int | float = 1.0
) -> Schedule:
    """``init * ((1 - alpha) * (0.5 * (1 + cos(pi * min(count, D) / D)))**exponent + alpha)``."""

    def schedule(count: IntArray) -> F32Array:
        clamped = np.minimum(count.astype(F32), F32(float(decay_steps)))
        cosine = F32(0.5) * (F32(1) + cos32(PI32 * clamped / F32(float(decay_steps))))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            shaped = power32(cosine, exponent)
        return F32(init_value) * (F32(1 - alpha) * shaped + F32(alpha))

    return schedule


def join(schedules: list[Schedule], boundaries: list[int]) -> Schedule:
    """``join_schedules``: past each boundary the next schedule, its count restarted at 0."""

    def schedule(count: IntArray) -> F32Array:
        out = schedules[0](count)
        for boundary, later in zip(boundaries, schedules[1:], strict=False):
            out = np.where(count < boundary, out, later(count - boundary))
        return out

    return schedule


def optax_curve(schedule: Schedule, context: EvalContext) -> Curve:
    if isinstance(schedule, Constant):  # the float32 widened, with no count to look at
        lr = np.full((context.groups, context.steps), np.float64(schedule.value))
        return Curve(lr=lr)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        row = schedule(np.arange(context.steps, dtype=np.int64)).astype(np.float64)
    if context.groups == 1:  # the new row itself: no copy
        return Curve(lr=row.reshape(1, -1))
    return Curve(lr=np.broadcast_to(row, (context.groups, row.size)).copy())


class ConstantScheduleParams(KindParams):
    value: float


class PolynomialScheduleParams(KindParams):
    init_value: float
    end_value: float
    power: int | float
    transition_steps: int
    transition_begin: int = 0


class LinearScheduleParams(KindParams):
    init_value: float
    end_value: float
    transition_steps: int
    transition_begin: int = 0


class ExponentialDecayParams(KindParams):
    init_value: float
    transition_steps: int
    decay_rate: float
    transition_begin: int = 0
    staircase: bool = False
    end_value: float | None = None


class CosineDecayScheduleParams(KindParams):
    init_value: float
    decay_steps: int
    alpha: float = 0.0
    exponent: int | float = 1.0

    @field_validator("decay_steps")
    @classmethod
    def _positive(cls, value: int) -> int:
        if not value > 0:
            raise ValueError(
                f"The cosine_decay_schedule requires positive decay_steps, got decay_steps={value}."
            )
        return value


# Each builder reads the fields of its own kind's params model.
_Builder = Callable[[Any], Schedule]
_BUILDERS: dict[str, _Builder] = {
    "constant_schedule": lambda p: constant(p.value),
    "polynomial_schedule": lambda p: polynomial(
        p.init_value,
        p.end_value,
        p.power,
        p.transition_steps,
        p.transition_begin,
    ),
    "linear_schedule": lambda p: polynomial(
        p.init_value,
        p.end_value,
        1,
        p.transition_steps,
        p.transition_begin,
    ),
    "exponential_decay": lambda p: exponential(
        p.init_value,
        p.transition_steps,
        p.decay_rate,
        p.transition_begin,
        p.staircase,
        p.end_value,
    ),
    "cosine_decay_schedule": lambda p: cosine_decay(
        p.init_value,
        p.decay_steps,
        p.alpha,
        p.exponent,
    ),
}


def register_optax(name: str, params: type[KindParams], build: _Builder, doc: str) -> None:
    """Register an optax kind whose curve is ``build(params)`` evaluated at counts 0..steps-1."""
    register(
        Kind(
            name=name,
            library=Library.OPTAX,
            params=params,
            evaluate=lambda p, context: optax_curve(build(p), context),
            doc=doc + " float32; value i = schedule(i); absolute values (no base lr).",
            needs_base_lr=False,
        )
    )


_DOCS = {
    "constant_schedule": "optax: value at every count.",
    "polynomial_schedule": "optax: (init-end)*(1-c/steps)^power+end, c=clip(count-begin,0,"
    "steps); steps<=0 is constant init; an int power multiplies, a float one calls pow.",
    "linear_schedule": "optax: linear from init_value to end_value over transition_steps "
    "after transition_begin.",
    "exponential_decay": "optax: init*rate^((count-begin)/steps), floored if staircase, "
    "clipped at end_value; init before begin.",
    "cosine_decay_schedule": "optax: init*((1-alpha)*(0.5(1+cos(pi*min(count,D)/D)))^exponent"
    "+alpha).",
}
_PARAMS: dict[str, type[KindParams]] = {
    "constant_schedule": ConstantScheduleParams,
    "polynomial_schedule": PolynomialScheduleParams,
    "linear_schedule": LinearScheduleParams,
    "exponential_decay": ExponentialDecayParams,
    "cosine_decay_schedule": CosineDecayScheduleParams,
}
for _name, _build in _BUILDERS.items():
    register_optax(_name, _PARAMS[_name], _build, _DOCS[_name])

__all__ = ["cosine_decay", "exponential", "join", "polynomial", "register_optax"]

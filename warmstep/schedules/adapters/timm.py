"""timm 1.0.31 ``timm.scheduler``: cosine, tanh and poly cycles (Step, MultiStep, WSD and Plateau
live in ``timm_step``, ``timm_wsd`` and ``timm_plateau``, which share this module's helpers).

timm schedulers are pure functions ``_get_lr(t)`` of a time ``t`` that the training loop passes:
value ``i`` (``i >= 1``) is ``_get_lr(i)``, the lr after ``step_update(num_updates=i)`` when
``t_in_epochs=False`` or after ``step(epoch=i)`` when ``t_in_epochs=True`` (the default). The flag
only says which of the two calls moves the lr; as a function of ``i`` the curve is the same, so
the engine accepts it and ignores it. Value 0 is what the constructor writes: ``warmup_lr_init``
when ``warmup_t`` is non-zero, else the group's base lr ``b``.

Warmup (every class): for ``t < warmup_t``, ``warmup_lr_init + t * (target - warmup_lr_init) /
warmup_t`` with ``target = b`` (``TanhLRScheduler`` without prefix: its own value at
``warmup_t``). ``warmup_prefix=True`` shifts the main curve by ``warmup_t``; otherwise the main
curve runs from ``t = 0`` under the warmup. Cycles, with ``T = t_initial``, ``m = cycle_mul``:
``i = floor(log(1 - t/T*(1-m)) / log(m))``, ``t_i = m**i * T``,
``t_curr = t - (1 - m**i)/(1 - m) * T`` (``m == 1``: ``i = t // T``, ``t_curr = t - T*i``);
``lr_max = b * cycle_decay**i``; from cycle ``i >= cycle_limit`` on the value is ``lr_min``.

Noise (``noise_range_t``) draws from ``torch.Generator().manual_seed(noise_seed + t)``; the engine
has no torch RNG, so a spec that sets it is refused. Arithmetic is float64 in timm's own order:
numpy passes over the times, or, for the cosine, poly and tanh cycles at ``cycle_mul`` 1 (and
``k_decay`` 1), one compiled pass on every core (:mod:`._timm_loops`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from pydantic import ValidationInfo, field_validator, model_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import (
    Curve,
    EvalContext,
    FloatArray,
    Kind,
    KindParams,
    Library,
)
from warmstep.schedules._libm import (
    log_like_python,
    pow_like_python,
    tanh_like_python,
    unary_like_python,
)
from warmstep.schedules._registry import register

__all__ = [
    "MainRuns",
    "TimmParams",
    "cycle_position",
    "integer_power",
    "timm_curve",
    "whole_floor_divide",
]

_SCALAR_POWERS = 4096
_COMPILED_RAMP = 4096  # warmup steps from which the ramp is one compiled pass

IntArray = npt.NDArray[np.int64]
# (first time after the ramp, as main would see it; how many steps) -> None, or the runs of the
# main curve: their first columns (0 first, increasing; a run lasts until the next one starts)
# and each run's (groups,) value where it is constant over the run, None where main computes it
MainRuns = Callable[[int, int], tuple[list[int], list[FloatArray | None]] | None]
# (t after the prefix shift, values of t >= warmup_t) -> (groups, len(t)) lr
MainCurve = Callable[[FloatArray], FloatArray]
# (first time, how many consecutive times, the curve, its first column): main's values
# written straight into the curve (a compiled pass)
MainFill = Callable[[int, int, FloatArray, int], None]


class TimmParams(KindParams):
    """Arguments every timm scheduler shares (besides its own curve's)."""

    warmup_t: int = 0
    warmup_lr_init: float = 0.0
    t_in_epochs: bool = True
    noise_range_t: list[int] | int | None = None
    noise_pct: float = 0.67
    noise_std: float = 1.0
    noise_seed: int | None = 42
    initialize: bool = True

    @field_validator("noise_range_t")
    @classmethod
    def _no_noise(cls, value: list[int] | int | None) -> None:
        if value is not None:
            raise ValueError(
                "not supported: timm draws the noise from torch's Generator "
                "(seeded with noise_seed + t), which the engine does not reproduce"
            )
        return value


def timm_curve(
    params: TimmParams,
    context: EvalContext,
    main: MainCurve,
    warmup_prefix: bool,
    warmup_target: FloatArray | None = None,
    runs: MainRuns | None = None,
    fill: MainFill | None = None,
) -> Curve:
    """Assemble value 0 (the constructor's), the warmup ramp and ``main`` after it.

    ``warmup_target`` (groups,) is where the ramp heads, the base lrs unless given. ``runs``, for
    a main curve that is constant over runs of steps, gives those runs for the times after the
    ramp (see :data:`MainRuns`): constant runs are written as fills (no pass computing them),
    the others by ``main`` over their times; where it returns None, ``main`` covers them all.
    ``fill``, where given, writes what ``main`` would into the curve itself.
    Worked example: b=0.1, warmup_t=5, warmup_lr_init=0: values 0, 0.02, 0.04, 0.06, 0.08, main(5).
    """
    base = context.base_lrs[:, None]
    warmup_t = params.warmup_t
    lr = np.empty((context.groups, context.steps), dtype=np.float64)
    ramp = min(max(warmup_t, 0), context.steps)  # the steps t < warmup_t: a prefix
    if warmup_t and ramp:
        target = base if warmup_target is None else warmup_target[:, None]
        slope = (target - params.warmup_lr_init) / warmup_t
        if ramp >= _COMPILED_RAMP:
            from warmstep.schedules.adapters import _timm_loops as loops  # imports numba

            loops.warmup_ramp(params.warmup_lr_init, np.ascontiguousarray(slope[:, 0]), lr, ramp)
        else:
            lr[:, :ramp] = params.warmup_lr_init + np.arange(ramp, dtype=np.float64) * slope
    count = context.steps - ramp
    first = ramp - warmup_t if warmup_prefix else ramp  # main's time at column `ramp`
    pieces = runs(first, count) if count and runs is not None else None
    starts, values = pieces if pieces is not None else ([0], [None])
    for (start, stop), value in zip(itertools.pairwise([*starts, count]), values, strict=True):
        columns = slice(ramp + start, ramp + stop)
        if value is not None:
            lr[:, columns] = value[:, None]
        elif stop > start and fill is not None:
            fill(first + start, stop - start, lr, ramp + start)
        elif stop > start:
            lr[:, columns] = main(np.arange(first + start, first + stop, dtype=np.float64))
    if context.steps:
        lr[:, 0] = params.warmup_lr_init if warmup_t else context.base_lrs
    return Curve(lr=lr)


def whole_floor_divide(t: FloatArray, divisor: float) -> FloatArray | IntArray:
    """``t // divisor`` for whole-number ``t`` (|t| < 2**53, as every timm time here is: steps
    shifted by an int), as Python computes it. A whole ``divisor`` (timm's ints): int floor
    division, as int64 (a multiply and a shift by one divisor; ~15x the float divmod that
    ``np.floor_divide`` runs on floats, which stays for any other divisor). Example:
    ``whole_floor_divide(np.array([-1.0, 6.0, 7.0]), 7)`` is ``[-1, 0, 1]``."""
    if float(divisor).is_integer() and 0 < abs(divisor) < 2**53:
        return np.floor_divide(t.astype(np.int64), np.int64(divisor))
    return np.asarray(np.floor_divide(t, divisor), np.float64)


def integer_power(base: float, exponents: FloatArray | IntArray) -> FloatArray:
    """``base ** n`` for whole-number ``n`` as Python computes it (libm ``pow``, correctly rounded
    here), one scalar call per distinct exponent; numpy's SIMD ``power`` can differ in the last
    bit. Falls back to numpy past a few thousand distinct exponents. Whole exponents within a
    short range (the usual case) index a table of every power in it, with no sort (int
    exponents: whole by their type, no check)."""
    index = None
    low: float = 0
    high: float = 0
    if exponents.size and exponents.dtype.kind == "i":  # whole by type: no check
        low, high = int(exponents.min()), int(exponents.max())
        if high - low < _SCALAR_POWERS:
            index = exponents - low
    elif exponents.size:
        low, high = float(exponents.min()), float(exponents.max())
        if math.isfinite(low) and math.isfinite(high) and high - low < _SCALAR_POWERS:
            offset = exponents - low
            whole = offset.astype(np.int64)
            index = whole if np.array_equal(whole, offset) else None  # whole numbers only
    if index is not None:
        table = [math.pow(base, low + k) for k in range(int(high - low) + 1)]
        return np.asarray(table, dtype=np.float64)[index]
    distinct, where = np.unique(exponents, return_inverse=True)
    if distinct.size > _SCALAR_POWERS:
        return pow_like_python(base, exponents.astype(np.float64))
    values = np.array([math.pow(base, float(n)) for n in distinct], dtype=np.float64)
    return values[where.reshape(exponents.shape)]


def cycle_position(
    t: FloatArray, t_initial: float, cycle_mul: float, field: str
) -> tuple[FloatArray | IntArray, FloatArray, FloatArray]:
    """Cycle index ``i``, cycle length ``t_i`` and position ``t_curr`` inside it, as timm does."""
    if cycle_mul == 1:
        index = whole_floor_divide(t, t_initial)
        length = np.broadcast_to(float(t_initial), t.shape)
        if not index.any():  # all inside the first cycle: t - t_initial * 0 is t
            return index, length, t
        return index, length, t - t_initial * index
    argument = 1 - t / t_initial * (1 - cycle_mul)
    if cycle_mul <= 0 or np.any(argument <= 0):
        raise InvalidArgument(
            "timm raises 'math domain error': with cycle_mul < 1 the cycles end at "
            f"t = t_initial / (1 - cycle_mul) = {t_initial / (1 - cycle_mul):g}"
            if cycle_mul > 0
            else "timm raises 'math domain error': cycle_mul must be > 0",
            field=field,
        )
    # timm: math.floor(math.log(argument, cycle_mul)), i.e. log(argument) / log(cycle_mul)
    index = np.floor(log_like_python(argument) / math.log(cycle_mul))
    growth = integer_power(cycle_mul, index)
    return index, growth * t_initial, t - (1 - growth) / (1 - cycle_mul) * t_initial


class _CycleParams(TimmParams):
    t_initial: int
    lr_min: float = 0.0
    cycle_mul: float = 1.0
    cycle_decay: float = 1.0
    cycle_limit: int = 1
    warmup_prefix: bool = False

    @field_validator("t_initial", "lr_min")
    @classmethod
    def _timm_asserts(cls, value: float, info: ValidationInfo) -> float:
        if value < 0 or (value == 0 and info.field_name == "t_initial"):
            raise ValueError(f"timm asserts {info.field_name} {'>' if value == 0 else '>='} 0")
        return value


def _cycled(
    params: _CycleParams,
    context: EvalContext,
    term: Callable[[FloatArray, FloatArray], FloatArray],
    half: bool,
) -> MainCurve:
    """Main curve ``lr_min + (lr_max - lr_min) * term(t_curr, t_i)`` per cycle (``half``: timm's
    ``lr_min + 0.5 * (lr_max - lr_min) * term``, multiplied in that order), ``lr_min`` from cycle
    ``cycle_limit`` on. ``term`` only sees the cycles inside the limit."""

    def span(index: FloatArray | IntArray) -> FloatArray:
        lr_max = context.base_lrs[:, None] * _decay(params.cycle_decay, index)
        return 0.5 * (lr_max - params.lr_min) if half else lr_max - params.lr_min

    def main(t: FloatArray) -> FloatArray:
        index, t_i, t_curr = cycle_position(
            t, params.t_initial, params.cycle_mul, f"{context.path}.cycle_mul"
        )
        live = index < params.cycle_limit
        if live.all():  # the usual case: no masking
            return params.lr_min + span(index) * term(t_curr, t_i)
        lr = np.full((context.groups, t.size), params.lr_min, dtype=np.float64)
        if live.any():
            lr[:, live] = params.lr_min + span(index[live]) * term(t_curr[live], t_i[live])
        return lr

    return main


def _decay(cycle_decay: float, index: FloatArray | IntArray) -> FloatArray:
    """``cycle_decay ** i`` per value; 1.0 (timm's default) is 1.0 at every power, one number."""
    if cycle_decay == 1.0:
        return np.ones(1)
    return integer_power(cycle_decay, index)


def _power_or_same(x: FloatArray, k: float) -> FloatArray:
    """``x ** k`` as Python computes it; ``x`` itself for k = 1 (``x ** 1.0`` is ``x``)."""
    return x if k == 1.0 else pow_like_python(x, k)


class CosineLRSchedulerParams(_CycleParams):
    k_decay: float = 1.0


def _cosine(params: CosineLRSchedulerParams, context: EvalContext) -> Curve:
    k = params.k_decay

    def term(t_curr: FloatArray, t_i: FloatArray) -> FloatArray:
        angle = np.pi * _power_or_same(t_curr, k) / _power_or_same(t_i, k)
        return 1 + unary_like_python("cos", angle)  # the C library's cos on every core

    main = _cycled(params, context, term, half=True)
    fill = _cosine_fill(params, context) if params.cycle_mul == 1 and k == 1 else None
    return timm_curve(params, context, main, params.warmup_prefix, fill=fill)


def _compiled_fill(
    params: _CycleParams, context: EvalContext, shape: str, arguments: tuple[float, float]
) -> MainFill:
    """The curve at timm's defaults (``cycle_mul`` 1, ``k_decay`` 1) in one compiled pass
    (:mod:`._timm_loops`, ``shape`` one of its shapes, with its ``arguments``): each live
    cycle's span computed here as ``main`` does."""
    period = params.t_initial

    def fill(first: int, count: int, lr: FloatArray, column: int) -> None:
        from warmstep.schedules.adapters import _timm_loops as loops  # imports numba

        first_cycle = first // period
        last_live = min((first + count - 1) // period, params.cycle_limit - 1)
        index = np.arange(first_cycle, max(last_live + 1, first_cycle), dtype=np.int64)
        lr_max = context.base_lrs[:, None] * _decay(params.cycle_decay, index)
        span = lr_max - params.lr_min
        if shape != "poly":  # timm: lr_min + 0.5 * (lr_max - lr_min) * term
            span = 0.5 * span
        spans = np.ascontiguousarray(np.broadcast_to(span, (context.groups, index.size)))
        loops.cycles(
            first,
            count,
            period,
            shape,
            arguments,
            params.lr_min,
            (first_cycle, spans),
            params.cycle_limit,
            lr,
            column,
        )

    return fill


def _cosine_fill(params: CosineLRSchedulerParams, context: EvalContext) -> MainFill:
    return _compiled_fill(params, context, "cosine", (0.0, 0.0))


class TanhLRSchedulerParams(_CycleParams):
    lb: float = -7.0
    ub: float = 3.0

    @model_validator(mode="after")
    def _tanh_asserts(self) -> TanhLRSchedulerParams:
        checks = [
            (self.lb < self.ub, "lb < ub"),
            (self.cycle_limit >= 0, "cycle_limit >= 0"),
            (self.warmup_t >= 0, "warmup_t >= 0"),
            (self.warmup_lr_init >= 0, "warmup_lr_init >= 0"),
        ]
        for ok, what in checks:
            if not ok:
                raise ValueError(f"timm asserts {what}")
        return self


def _tanh(params: TanhLRSchedulerParams, context: EvalContext) -> Curve:
    lb, ub = params.lb, params.ub

    def term(t_curr: FloatArray, t_i: FloatArray) -> FloatArray:
        tr = t_curr / t_i
        return 1 - tanh_like_python(lb * (1.0 - tr) + ub * tr)

    main = _cycled(params, context, term, half=True)
    target = None
    if params.warmup_t and not params.warmup_prefix:
        target = main(np.array([float(params.warmup_t)]))[:, 0]
    fill = _tanh_fill(params, context) if params.cycle_mul == 1 else None
    return timm_curve(params, context, main, params.warmup_prefix, target, fill=fill)


def _tanh_fill(params: TanhLRSchedulerParams, context: EvalContext) -> MainFill:
    return _compiled_fill(params, context, "tanh", (params.lb, params.ub))


class PolyLRSchedulerParams(_CycleParams):
    power: float = 0.5
    k_decay: float = 1.0


def _poly(params: PolyLRSchedulerParams, context: EvalContext) -> Curve:
    k, power = params.k_decay, params.power

    def term(t_curr: FloatArray, t_i: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = _power_or_same(t_curr, k) / _power_or_same(t_i, k)
            return pow_like_python(1 - ratio, power)

    main = _cycled(params, context, term, half=False)
    fill = _poly_fill(params, context) if params.cycle_mul == 1 and k == 1 else None
    return timm_curve(params, context, main, params.warmup_prefix, fill=fill)


def _poly_fill(params: PolyLRSchedulerParams, context: EvalContext) -> MainFill:
    return _compiled_fill(params, context, "poly", (params.power, 0.0))


_CYCLE_DOC = (
    " Value i = lr after step_update(num_updates=i) (t_in_epochs=False) or step(epoch=i); "
    "value 0 = warmup_lr_init if warmup_t else base lr. Scales each group's base lr. "
    "After cycle_limit cycles the value is lr_min. noise_range_t is not supported."
)

register(
    Kind(
        name="CosineLRScheduler",
        library=Library.TIMM,
        params=CosineLRSchedulerParams,
        evaluate=_cosine,
        doc="timm cosine with warmup, restarts and k-decay: lr_min + 0.5*(lr_max-lr_min)*"
        "(1+cos(pi*t_curr^k/t_i^k))." + _CYCLE_DOC,
        needs_base_lr=True,
    )
)
register(
    Kind(
        name="TanhLRScheduler",
        library=Library.TIMM,
        params=TanhLRSchedulerParams,
        evaluate=_tanh,
        doc="timm tanh decay: lr_min + 0.5*(lr_max-lr_min)*(1-tanh(lb*(1-tr)+ub*tr)), "
        "tr=t_curr/t_i; without warmup_prefix the warmup ramps to the curve's value at "
        "warmup_t." + _CYCLE_DOC,
        needs_base_lr=True,
    )
)
register(
    Kind(
        name="PolyLRScheduler",
        library=Library.TIMM,
        params=PolyLRSchedulerParams,
        evaluate=_poly,
        doc="timm polynomial decay: lr_min + (lr_max-lr_min)*(1-t_curr^k/t_i^k)^power."
        + _CYCLE_DOC,
        needs_base_lr=True,
    )
)

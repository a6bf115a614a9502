"""MXNet 1.9.1 ``mxnet.lr_scheduler`` kinds: Factor, MultiFactor, Poly and Cosine schedulers.

MXNet schedulers are stateful callables ``sched(num_update)``; the optimizer increments
``num_update`` before asking, so **value i = sched(i + 1)**, called with n = 1, 2, … in order
(their state makes the value depend on the calls before). ``base_lr`` is an absolute learning
rate taken from the spec (default 0.01 as in MXNet): the request's base_lrs only fix the number
of param groups, all of which get the same curve. If a training script also passes
``learning_rate`` to the optimizer, MXNet overwrites the scheduler's ``base_lr`` with it after
construction (the warmup target keeps the constructor's value): put that value in ``base_lr``.

Warmup (every kind): for n < warmup_steps the value is ``warmup_begin_lr + (base_lr -
warmup_begin_lr) * n / warmup_steps`` ('linear') or ``warmup_begin_lr`` ('constant'); the
schedule proper takes over at n = warmup_steps.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, StrictInt, ValidationInfo, field_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import (
    Curve,
    EvalContext,
    Evaluate,
    FloatArray,
    Kind,
    KindParams,
    Library,
)
from warmstep.schedules._libm import pow_like_python
from warmstep.schedules._registry import register

__all__ = ["CosineScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler"]


class _Warmup(KindParams):
    """``LRScheduler(base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear')``."""

    base_lr: float = 0.01
    warmup_steps: StrictInt = Field(default=0, ge=0)
    warmup_begin_lr: float = 0.0
    warmup_mode: Literal["linear", "constant"] = "linear"

    @field_validator("warmup_begin_lr")
    @classmethod
    def _not_above_base(cls, begin: float, info: ValidationInfo) -> float:
        if begin > info.data.get("base_lr", math.inf):
            raise ValueError("Base lr has to be higher than warmup_begin_lr")
        return begin

    def with_warmup(self, n: FloatArray, after: FloatArray) -> FloatArray:
        """``after`` where n ≥ warmup_steps, the warmup value before."""
        if self.warmup_steps == 0:
            return after
        if self.warmup_mode == "constant":
            warming = np.full(n.shape, self.warmup_begin_lr)
        else:
            rise = (self.base_lr - self.warmup_begin_lr) * n / float(self.warmup_steps)
            warming = self.warmup_begin_lr + rise
        return np.where(n < self.warmup_steps, warming, after)


def _num_updates(context: EvalContext) -> FloatArray:
    return np.arange(1, context.steps + 1, dtype=np.float64)


def _decayed(base_lr: float, factor: float, count: int) -> FloatArray:
    """``[base_lr, base_lr·factor, (base_lr·factor)·factor, …]``: MXNet's ``base_lr *= factor``."""
    factors = np.full(count + 1, factor)
    factors[0] = base_lr
    return np.cumprod(factors)


class FactorScheduler(_Warmup):
    """``FactorScheduler(step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_*)``:
    ``base_lr · factor^floor((n - 1) / step)`` (each product rounded in turn, floored at
    ``stop_factor_lr``), so it changes at n = step + 1, 2·step + 1, …, warmup steps included.

    step=2, factor=0.5, base_lr=1: n = 1, 2, 3, 4, 5 give 1, 1, 0.5, 0.5, 0.25 (values 0-4)."""

    step: int = Field(ge=1)
    factor: float = Field(default=1.0, le=1.0)
    stop_factor_lr: float = 1e-8


def _factor_table(params: FactorScheduler, count: int) -> FloatArray:
    lrs = _decayed(params.base_lr, params.factor, count)
    floor = params.stop_factor_lr
    if params.base_lr >= 0 and params.factor >= 0 and floor >= 0:
        # Non-negative and non-increasing: once floored it stays at stop_factor_lr.
        below = np.nonzero(lrs[1:] < floor)[0]
        if below.size:
            lrs[below[0] + 1 :] = floor
        return lrs
    value = params.base_lr  # signs alternate or the floor is negative: MXNet's loop as written
    for k in range(1, count + 1):
        value *= params.factor
        value = floor if value < floor else value
        lrs[k] = value
    return lrs


def _evaluate_factor(params: FactorScheduler, context: EvalContext) -> Curve:
    n = _num_updates(context)
    decays = np.floor_divide(n - 1, params.step).astype(np.intp)
    table = _factor_table(params, int(decays[-1]) if decays.size else 0)
    return _curve(context, params.with_warmup(n, table[decays]))


class MultiFactorScheduler(_Warmup):
    """``MultiFactorScheduler(step, factor=1, base_lr=0.01, warmup_*)``: multiply by ``factor``
    once n > step[k], i.e. at n = step[k] + 1 (value index step[k]).

    step=[2, 4], factor=0.1, base_lr=1: n = 1…5 give 1, 1, 0.1, 0.1, 0.01 (values 0-4)."""

    step: list[int] = Field(min_length=1)
    factor: float = Field(default=1.0, le=1.0)

    @field_validator("step")
    @classmethod
    def _increasing(cls, step: list[int]) -> list[int]:
        for k, value in enumerate(step):
            if k and value <= step[k - 1]:
                raise ValueError("Schedule step must be an increasing integer list")
            if value < 1:
                raise ValueError("Schedule step must be greater or equal than 1 round")
        return step


def _evaluate_multifactor(params: MultiFactorScheduler, context: EvalContext) -> Curve:
    n = _num_updates(context)
    table = _decayed(params.base_lr, params.factor, len(params.step))
    decays = np.searchsorted(np.asarray(params.step, dtype=np.float64), n, side="left")
    return _curve(context, params.with_warmup(n, table[decays]))


class _Annealing(_Warmup):
    max_update: StrictInt = Field(ge=1)
    final_lr: float = 0.0


def _held(params: _Annealing, context: EvalContext, computed: FloatArray) -> FloatArray:
    """The values for n ≥ warmup_steps, ``computed`` at n clamped to max_update: MXNet only
    recomputes while n ≤ max_update and otherwise keeps its last value, which is base_lr itself
    when max_update < warmup_steps (nothing was ever computed)."""
    max_steps = params.max_update - params.warmup_steps
    if max_steps < 0:
        return np.full(computed.shape, params.base_lr)
    if max_steps == 0 and context.steps >= params.max_update:
        raise InvalidArgument(
            f"MXNet divides by max_update - warmup_steps = 0 at num_update {params.max_update} "
            "(ZeroDivisionError)",
            field=f"{context.path}.max_update",
        )
    return computed


def _progress(params: _Annealing, n: FloatArray) -> tuple[FloatArray, float]:
    """``(min(n, max_update) - W, max_update - W)`` as floats."""
    progress = np.minimum(n, params.max_update) - params.warmup_steps
    return progress, float(params.max_update - params.warmup_steps)


class PolyScheduler(_Annealing):
    """``PolyScheduler(max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_*)``: for
    warmup_steps ≤ n ≤ max_update
    ``final_lr + (base_lr - final_lr) · (1 - (n - W) / (max_update - W)) ** pwr``, then it keeps
    the value of n = max_update. max_update=4, pwr=2, base_lr=1: 0.5625, 0.25, 0.0625, 0, 0, …"""

    pwr: float = 2.0


def _evaluate_poly(params: PolyScheduler, context: EvalContext) -> Curve:
    n = _num_updates(context)
    progress, max_steps = _progress(params, n)
    if params.pwr < 0 and max_steps > 0 and context.steps >= params.max_update:
        raise InvalidArgument(
            f"MXNet raises 0.0 ** {params.pwr} at num_update {params.max_update}",
            field=f"{context.path}.pwr",
        )
    with np.errstate(all="ignore"):
        base = 1.0 - progress / max_steps
        # MXNet's pow() is Python's; without a decay span (max_update <= W) nothing computed
        # here is kept (see _held), and numpy's power gives it without Python's errors
        decay = pow_like_python(base, params.pwr) if max_steps > 0 else np.power(base, params.pwr)
        lr = params.final_lr + (params.base_lr - params.final_lr) * decay
    return _curve(context, params.with_warmup(n, _held(params, context, lr)))


class CosineScheduler(_Annealing):
    """``CosineScheduler(max_update, base_lr=0.01, final_lr=0, warmup_*)``: for
    warmup_steps ≤ n ≤ max_update
    ``final_lr + (base_lr - final_lr) · (1 + cos(π (n - W) / (max_update - W))) / 2``, then it
    keeps the value of n = max_update. max_update=4, base_lr=1: 0.854, 0.5, 0.146, 0, 0, …"""


def _evaluate_cosine(params: CosineScheduler, context: EvalContext) -> Curve:
    n = _num_updates(context)
    progress, max_steps = _progress(params, n)
    with np.errstate(all="ignore"):
        cosine = 1.0 + np.cos(math.pi * progress / max_steps)
        lr = params.final_lr + (params.base_lr - params.final_lr) * cosine / 2.0
    return _curve(context, params.with_warmup(n, _held(params, context, lr)))


def _curve(context: EvalContext, lr: FloatArray) -> Curve:
    return Curve(lr=np.broadcast_to(lr, (context.groups, lr.shape[0])).copy())


def _register(name: str, params: type[KindParams], evaluate: Evaluate) -> None:
    doc = " ".join((params.__doc__ or "").split())
    register(Kind(name, Library.MXNET, params, evaluate, doc, needs_base_lr=False))


_register("FactorScheduler", FactorScheduler, _evaluate_factor)
_register("MultiFactorScheduler", MultiFactorScheduler, _evaluate_multifactor)
_register("PolyScheduler", PolyScheduler, _evaluate_poly)
_register("CosineScheduler", CosineScheduler, _evaluate_cosine)

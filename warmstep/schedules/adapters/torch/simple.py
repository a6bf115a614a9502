"""torch's multiplicative ("chainable") schedulers: StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR.

Each ``step()`` multiplies the current lr by a factor of the epoch ``e`` (``lr *= f(e)``), so a
run is ``b * f(1) * f(2) * ...`` multiplied left to right (bit-exact via a running product).
``SequentialLR``'s milestone call ``_update_lr(0)`` uses the closed form at epoch 0 instead.
Example: ``StepLR(step_size=2, gamma=0.5)`` with b=1 gives 1, 1, 0.5, 0.5, 0.25, ...
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

import numpy as np
from pydantic import field_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import FloatArray, KindParams
from warmstep.schedules._libm import pow_like_python
from warmstep.schedules.adapters.torch._chain import (
    INITIAL,
    UPDATE0,
    Calls,
    Leaf,
    Optimizer,
    Segment,
)
from warmstep.schedules.adapters.torch._fast import Multipliers
from warmstep.schedules.adapters.torch._kinds import column, torch_kind
from warmstep.schedules.adapters.torch._ops import MUL, SET, Ops, make_ops, select_ops


def multiply(factors: np.ndarray, groups: int) -> Ops:
    """``lr *= factor`` per call (the same factor for every group)."""
    return make_ops(MUL, np.broadcast_to(np.asarray(factors, np.float64), (groups, len(factors))))


def closed_form_or(calls: Calls, leaf: Leaf, value_at_zero: float, chainable: Ops) -> Ops:
    """The chainable writes, except ``_update_lr(0)`` calls, which write ``b * value_at_zero``."""
    at_zero = calls.kind == UPDATE0
    if not at_zero.any():  # step() alone, the constructor's included: nothing to build
        return chainable
    closed = make_ops(SET, column(leaf.base_lrs * value_at_zero, calls.size))
    return select_ops(at_zero, closed, chainable)


def _zero_division(leaf: Leaf, arg: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"torch raises ZeroDivisionError: {why}", field=f"{leaf.path}.{arg}")


class StepLRParams(KindParams):
    step_size: int
    gamma: float = 0.1
    last_epoch: Literal[-1] = -1


class StepLeaf(Leaf):
    """``lr *= gamma`` when ``e > 0`` and ``e % step_size == 0``; closed form
    ``b*gamma**(e//step_size)``."""

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * 1.0  # torch: epoch 0 returns the group lrs

    def __init__(self, p: StepLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        e, size = calls.epoch, self.p.step_size
        needs_modulo = (calls.kind != UPDATE0) & (e != 0)
        if size == 0 and np.any(needs_modulo | (calls.kind == UPDATE0)):
            raise _zero_division(self, "step_size", "epoch % step_size with step_size=0")
        with np.errstate(divide="ignore", invalid="ignore"):
            decay = needs_modulo & (np.mod(e, size if size else 1) == 0)
        chain = multiply(np.where(decay, self.p.gamma, 1.0), opt.lr.shape[0])
        return closed_form_or(calls, self, self.p.gamma**0, chain)

    def standalone(self, total: int) -> Multipliers | None:
        size = self.p.step_size
        if size <= 0:
            return None
        decays = np.arange(size - 1, total, size, dtype=np.int64)
        return Multipliers(decays, np.full((1, decays.size), self.p.gamma))


class MultiStepLRParams(KindParams):
    milestones: list[int]
    gamma: float = 0.1
    last_epoch: Literal[-1] = -1


class MultiStepLeaf(Leaf):
    """``lr *= gamma ** count(e)`` at each milestone (a repeated milestone counts several times,
    milestone 0 applies at construction); closed form ``b*gamma**bisect_right(sorted, e)``."""

    def __init__(self, p: MultiStepLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p
        self.counts = Counter(p.milestones)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        factor = np.ones(calls.size)
        for milestone, count in self.counts.items():
            factor[calls.epoch == milestone] = self.p.gamma**count
        at_zero = self.p.gamma ** sum(1 for m in self.p.milestones if m <= 0)
        return closed_form_or(calls, self, at_zero, multiply(factor, opt.lr.shape[0]))

    def standalone(self, total: int) -> Multipliers | None:
        hit = sorted(m for m in self.counts if 1 <= m <= total)
        factors = [self.p.gamma ** self.counts[m] for m in hit]
        return Multipliers(np.asarray(hit, np.int64) - 1, np.asarray([factors], np.float64))


class ConstantLRParams(KindParams):
    factor: float = 1.0 / 3
    total_iters: int = 5
    last_epoch: Literal[-1] = -1

    @field_validator("factor")
    @classmethod
    def _in_unit_interval(cls, value: float) -> float:
        if value > 1.0 or value < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        return value


class ConstantLeaf(Leaf):
    """``lr *= factor`` at e=0 and ``lr *= 1/factor`` at e=total_iters (e=0 wins when
    total_iters=0, so the factor then stays); closed form ``b*(factor + (e>=T)*(1-factor))``."""

    def __init__(self, p: ConstantLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * self.p.factor  # torch: epoch 0 returns the group lrs times factor

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        e, f, total = calls.epoch, self.p.factor, self.p.total_iters
        restore = (calls.kind != UPDATE0) & (e != 0) & (e == total)
        if f == 0 and np.any(restore):
            raise _zero_division(self, "factor", f"1.0 / factor with factor=0 at epoch {total}")
        factor = np.where(e == 0, f, np.where(restore, 1.0 / (f or 1.0), 1.0))
        at_zero = f + (total <= 0) * (1 - f)
        return closed_form_or(calls, self, at_zero, multiply(factor, opt.lr.shape[0]))

    def standalone(self, total: int) -> Multipliers | None:
        restore = 1 <= self.p.total_iters <= total
        if restore and self.p.factor == 0:
            return None
        calls = [self.p.total_iters - 1] if restore else []
        factors = [[1.0 / self.p.factor]] if restore else [[]]
        return Multipliers(np.asarray(calls, np.int64), np.asarray(factors, np.float64))


class LinearLRParams(KindParams):
    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5
    last_epoch: Literal[-1] = -1

    @field_validator("start_factor")
    @classmethod
    def _start(cls, value: float) -> float:
        if value > 1.0 or value <= 0:
            raise ValueError(
                "Starting multiplicative factor expected to be greater than 0 and less or "
                "equal to 1."
            )
        return value

    @field_validator("end_factor")
    @classmethod
    def _end(cls, value: float) -> float:
        if value > 1.0 or value < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        return value


class LinearLeaf(Leaf):
    """e=0: ``lr *= start``; 0<e<=T: ``lr *= 1 + (end-start)/(T*start + (e-1)*(end-start))``;
    closed form ``b*(start + (end-start)*min(T,e)/T)``."""

    def __init__(self, p: LinearLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * self.p.start_factor  # torch: epoch 0, the group lrs times start_factor

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        s, end, total = self.p.start_factor, self.p.end_factor, self.p.total_iters
        e = calls.epoch
        denominator = total * s + (e - 1) * (end - s)
        ramp = (e != 0) & (calls.kind != INITIAL) & (e <= total) & (calls.kind != UPDATE0)
        if np.any(ramp & (denominator == 0)):
            raise _zero_division(self, "total_iters", "the LinearLR ramp divides by zero")
        with np.errstate(divide="ignore", invalid="ignore"):
            step_factor = 1.0 + (end - s) / np.where(ramp, denominator, 1.0)
        factor = np.where(e == 0, s, np.where(ramp, step_factor, 1.0))
        if total == 0 and np.any(calls.kind == UPDATE0):
            raise _zero_division(self, "total_iters", "the closed form divides by total_iters=0")
        at_zero = s + (end - s) * min(total, 0) / (total or 1)
        return closed_form_or(calls, self, at_zero, multiply(factor, opt.lr.shape[0]))

    def standalone(self, total: int) -> Multipliers | None:
        from warmstep.schedules.adapters.torch._fold_loop import linear_ramp

        s, end = self.p.start_factor, self.p.end_factor
        count = max(min(self.p.total_iters, total), 0)
        factors = np.empty((1, count), np.float64)
        if not linear_ramp(self.p.total_iters * s, end - s, factors[0]):
            return None  # a zero denominator: ops() names torch's error
        return Multipliers(np.arange(count, dtype=np.int64), factors)


class ExponentialLRParams(KindParams):
    gamma: float
    last_epoch: Literal[-1] = -1


class ExponentialLeaf(Leaf):
    """``lr *= gamma`` on every step after construction; closed form ``b*gamma**e``."""

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * 1.0  # torch: epoch 0 returns the group lrs

    def __init__(self, p: ExponentialLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        factor = np.where(calls.kind == INITIAL, 1.0, self.p.gamma)
        return closed_form_or(calls, self, self.p.gamma**0, multiply(factor, opt.lr.shape[0]))

    def standalone(self, total: int) -> Multipliers | None:
        # One value at every call: a read-only view, written once into expand's table.
        return Multipliers(None, np.broadcast_to(np.float64(self.p.gamma), (1, total)))


class PolynomialLRParams(KindParams):
    total_iters: int = 5
    power: float = 1.0
    last_epoch: Literal[-1] = -1


class PolynomialLeaf(Leaf):
    """e<=T: ``lr *= ((1 - e/T) / (1 - (e-1)/T)) ** power``; closed form
    ``b*(1 - min(T,e)/T)**power``: reaches exactly 0 at T and stays there."""

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * 1.0  # torch: epoch 0 returns the group lrs

    def __init__(self, p: PolynomialLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        total, e = self.p.total_iters, calls.epoch
        active = (calls.kind != INITIAL) & (calls.kind != UPDATE0) & (e <= total)
        if total == 0 and np.any(active | (calls.kind == UPDATE0)):
            raise _zero_division(self, "total_iters", "epoch / total_iters with total_iters=0")
        t = total or 1
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (1.0 - e / t) / (1.0 - (e - 1) / t)
        base = np.where(active, ratio, 1.0)
        if self.p.power < 0 and np.any(base == 0):
            raise _zero_division(self, "power", "0.0 cannot be raised to a negative power")
        factor = np.where(active, pow_like_python(base, self.p.power), 1.0)
        at_zero = (1.0 - min(total, 0) / t) ** self.p.power
        return closed_form_or(calls, self, at_zero, multiply(factor, opt.lr.shape[0]))

    def standalone(self, total: int) -> Multipliers | None:
        t = self.p.total_iters
        count = max(min(t, total), 0)  # epochs 1 .. count change the lr
        if t == 0 or (self.p.power < 0 and 1 <= t <= total):  # 0.0 ** power at e = t
            return None
        from warmstep.schedules.adapters.torch._polynomial_loop import polynomial_factors

        factors = polynomial_factors(t, self.p.power, count)
        every_call = count == total  # factors for calls 0, 1, ... total-1, in order
        calls = None if every_call else np.arange(count, dtype=np.int64)
        return Multipliers(calls, factors[None, :])

    def segment(self, steps: int) -> Segment | None:
        """The factors on every core, each slice multiplied in as soon as it is ready."""
        t, power = self.p.total_iters, self.p.power
        if t == 0 or (power < 0 and 1 <= t <= steps - 1):  # ops() names the error
            return None
        from warmstep.schedules.adapters.torch._polynomial_loop import polynomial_curve

        return lambda lr0, out: polynomial_curve(lr0, t, power, out)


_DOC = " Needs base_lr (the optimizer lr of each group)."

torch_kind("StepLR", StepLRParams, StepLeaf, "torch StepLR: b*gamma**(e//step_size)." + _DOC)
torch_kind(
    "MultiStepLR",
    MultiStepLRParams,
    MultiStepLeaf,
    "torch MultiStepLR: b*gamma**(milestones passed); repeats stack, 0 applies at once." + _DOC,
)
torch_kind(
    "ConstantLR",
    ConstantLRParams,
    ConstantLeaf,
    "torch ConstantLR: b*factor until total_iters, then b." + _DOC,
)
torch_kind(
    "LinearLR",
    LinearLRParams,
    LinearLeaf,
    "torch LinearLR: b*start_factor rising linearly to b*end_factor at total_iters." + _DOC,
)
torch_kind(
    "ExponentialLR",
    ExponentialLRParams,
    ExponentialLeaf,
    "torch ExponentialLR: b*gamma**e." + _DOC,
)
torch_kind(
    "PolynomialLR",
    PolynomialLRParams,
    PolynomialLeaf,
    "torch PolynomialLR: b*(1-min(e,T)/T)**power." + _DOC,
)

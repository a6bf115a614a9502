"""torch's cosine schedulers: CosineAnnealingLR (recursive) and CosineAnnealingWarmRestarts.

CosineAnnealingLR's ``step()`` updates the current lr,
``lr <- (1+cos(pi*e/T)) / (1+cos(pi*(e-1)/T)) * (lr - eta_min) + eta_min``, except at
``e = T+1 (mod 2T)``, where it adds ``(b-eta_min)*(1-cos(pi/T))/2``. Its curve is therefore
periodic (period 2T, back at b at 2T), close to the closed form
``eta_min + (b-eta_min)*(1+cos(pi*e/T))/2``. Example: b=1, T=2 gives 1, 0.5, 0, 0.5, 1 ...
With ``eta_min = 0`` the recursion is a pure product and is reproduced bit for bit.

CosineAnnealingWarmRestarts overwrites: ``eta_min + (b-eta_min)*(1+cos(pi*T_cur/T_i))/2``, with
``T_cur`` counting up to ``T_i`` and ``T_i`` multiplied by ``T_mult`` at each restart.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import field_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import FloatArray, KindParams
from warmstep.schedules._parallel import cos_inplace
from warmstep.schedules.adapters.torch._chain import (
    INITIAL,
    STEP,
    UPDATE0,
    Calls,
    Leaf,
    Optimizer,
    Segment,
)
from warmstep.schedules.adapters.torch._kinds import column, torch_kind
from warmstep.schedules.adapters.torch._ops import (
    ADD,
    AFFINE,
    MUL,
    SET,
    IntArray,
    Ops,
    make_ops,
    select_ops,
)


class CosineAnnealingLRParams(KindParams):
    T_max: int
    eta_min: float = 0.0
    last_epoch: Literal[-1] = -1


class CosineLeaf(Leaf):
    def __init__(self, p: CosineAnnealingLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        return lr * 1.0  # torch: the initial step returns the group lrs

    def milestone_values(self) -> FloatArray | None:
        if self.p.T_max == 0:  # ops() names torch's ZeroDivisionError
            return None
        return _closed_at_zero(self.base_lrs, self.p.eta_min)  # as ops() writes it

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        t_max, eta, e, n = self.p.T_max, self.p.eta_min, calls.epoch, calls.size
        moving = calls.kind != INITIAL
        if t_max == 0 and np.any(moving):
            raise InvalidArgument(
                "torch raises ZeroDivisionError: CosineAnnealingLR divides by T_max=0",
                field=f"{self.path}.T_max",
            )
        if not np.any(moving):  # the constructor's step (last_epoch 0): the lr as it is
            return make_ops(MUL, np.ones((self.base_lrs.shape[0], n)))
        t = t_max or 1
        b = self.base_lrs[:, None]
        bump = (b - eta) * (1 - math.cos(math.pi / t)) / 2
        closed_value = _closed_at_zero(self.base_lrs, eta)
        if np.all(calls.kind == STEP):
            return _stepping(e, t, eta, bump)
        if calls.kind[0] == UPDATE0 and np.all(calls.kind[1:] == STEP):  # a SequentialLR child
            return _stepping(e, t, eta, bump, first=closed_value)
        restart = np.mod(e - 1 - t, 2 * t) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (1 + np.cos(math.pi * e / t)) / np.where(
                restart, 1.0, 1 + np.cos(math.pi * (e - 1) / t)
            )
        recursive = select_ops(
            restart,
            make_ops(ADD, np.broadcast_to(bump, (b.shape[0], n))),
            make_ops(AFFINE, np.broadcast_to(ratio, (b.shape[0], n)), eta),
        )
        unchanged = make_ops(MUL, np.ones((b.shape[0], n)))
        closed = make_ops(SET, column(closed_value, n))
        return select_ops(calls.kind == UPDATE0, closed, select_ops(moving, recursive, unchanged))

    def segment(self, steps: int) -> Segment | None:
        if self.p.T_max == 0:  # ops() names torch's ZeroDivisionError
            return None
        from warmstep.schedules.adapters.torch import _fold_loop

        t, eta = self.p.T_max, self.p.eta_min
        bump = (self.base_lrs - eta) * (1 - math.cos(math.pi / t)) / 2
        return lambda lr0, out: _fold_loop.cosine_annealing(lr0, t, eta, bump, out)


def _closed_at_zero(base_lrs: FloatArray, eta: float) -> FloatArray:
    """torch's cosine at angle 0, ``eta_min + (b - eta_min) * (1 + cos(0)) / 2`` per group (its
    closed form at epoch 0, CosineAnnealingWarmRestarts' step at ``T_cur`` 0)."""
    return np.asarray(eta + (base_lrs - eta) * (1 + math.cos(0.0)) / 2, np.float64)


def _stepping(
    epoch: IntArray, t: int, eta: float, bump: FloatArray, first: FloatArray | None = None
) -> Ops:
    """The writes of ``step()`` calls whose epochs count up by one (``Leaf.advance``), with
    torch's ratios (:func:`._fold_loop.cosine_ratios`). ``first``: the first call is
    ``_update_lr(0)`` instead, setting these per-group values."""
    from warmstep.schedules.adapters.torch._fold_loop import cosine_ratios

    n = epoch.shape[0]
    ratio = cosine_ratios(int(epoch[0]) if n else 0, t, n)
    groups = bump.shape[0]
    a = ratio[None, :] if groups == 1 else np.repeat(ratio[None, :], groups, axis=0)
    kind = np.full(n, AFFINE, np.int64)
    if n:  # at e = t+1 (mod 2t) torch adds instead
        restarts = np.arange((t + 1 - int(epoch[0])) % (2 * t), n, 2 * t)
        kind[restarts] = ADD
        a[:, restarts] = bump
    if first is not None and n:
        kind[0] = SET
        a[:, 0] = first
    return make_ops(kind, a, eta)


class CosineAnnealingWarmRestartsParams(KindParams):
    T_0: int
    T_mult: int = 1
    eta_min: float = 0.0
    last_epoch: Literal[-1] = -1

    @field_validator("T_0")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {value}")
        return value

    @field_validator("T_mult")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {value}")
        return value


class WarmRestartsLeaf(Leaf):
    """State: ``position`` = epochs since the last reset, mapped to (T_cur, T_i) by cycle."""

    def __init__(self, p: CosineAnnealingWarmRestartsParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p
        self.position = 0

    def constructor_lr(self, lr: FloatArray) -> FloatArray:
        """torch's step() at epoch 0: T_cur 0, so ``cos(pi * 0 / T_0)``, as ops() writes it."""
        self.position = 0
        return _closed_at_zero(self.base_lrs, self.p.eta_min)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        if calls.size and np.all(calls.kind == STEP) and int(calls.prev_epoch[0]) >= 0:
            # step() alone, past the first: positions count up by one from the last
            from warmstep.schedules.adapters.torch._cycle_loops import warm_restarts

            lr = np.empty((self.base_lrs.shape[0], calls.size), np.float64)
            warm_restarts(
                self.position + 1, self.p.T_0, self.p.T_mult, self.base_lrs, self.p.eta_min, lr
            )
            self.position += calls.size
            return make_ops(SET, lr)
        cosine = cos_inplace(self._angles_of(self._positions(calls)))
        cosine += 1
        b, eta = self.base_lrs[:, None], self.p.eta_min
        lr = cosine[None, :] * (b - eta)  # torch: eta + (b - eta) * (1 + cos(...)) / 2
        lr /= 2
        lr += eta
        return make_ops(SET, lr)

    def segment(self, steps: int) -> Segment | None:
        """From position 0 (construction, or a milestone's ``step(0)``): the lr given, then
        ``step()`` overwriting it at positions 1, 2, ... (no write depends on the lr)."""
        eta = self.p.eta_min

        def run(lr0: FloatArray, out: FloatArray) -> None:
            if steps:
                out[:, 0] = lr0
            if steps > 1:  # one compiled pass, the cos calls over a buffer (numba)
                from warmstep.schedules.adapters.torch._cycle_loops import warm_restarts

                warm_restarts(1, self.p.T_0, self.p.T_mult, self.base_lrs, eta, out[:, 1:])

        return run

    def _positions(self, calls: Calls) -> IntArray:
        stepping = calls.kind != UPDATE0
        # step() with last_epoch < 0 restarts at epoch 0 (T_cur=0, T_i=T_0); others count +1.
        reset = stepping & (calls.prev_epoch < 0)
        counted = np.cumsum(stepping & ~reset)
        index = np.arange(calls.size)
        last_reset = np.maximum.accumulate(np.where(reset, index, -1))
        position = np.where(
            last_reset >= 0, counted - counted[np.maximum(last_reset, 0)], self.position + counted
        )
        if calls.size:
            self.position = int(position[-1])
        return np.asarray(position, np.int64)

    def _angles_of(self, position: IntArray) -> FloatArray:
        """``pi * T_cur / T_i`` at each position."""
        t_cur, t_i = self._cycle(position)
        return np.asarray(math.pi * t_cur / t_i, np.float64)

    def _cycle(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0, mult = self.p.T_0, self.p.T_mult
        if mult == 1:
            return np.mod(position, t0), np.full(position.shape, t0)
        lengths = [t0]
        starts = [0]
        top = int(position.max()) if position.size else 0
        while starts[-1] + lengths[-1] <= top:
            starts.append(starts[-1] + lengths[-1])
            lengths.append(lengths[-1] * mult)
        which = np.searchsorted(np.asarray(starts), position, side="right") - 1
        return position - np.asarray(starts)[which], np.asarray(lengths, np.int64)[which]


_DOC = " Needs base_lr."
torch_kind(
    "CosineAnnealingLR",
    CosineAnnealingLRParams,
    CosineLeaf,
    "torch CosineAnnealingLR: eta_min+(b-eta_min)*(1+cos(pi*e/T_max))/2, recursive, periodic "
    "past T_max (period 2*T_max)." + _DOC,
)
torch_kind(
    "CosineAnnealingWarmRestarts",
    CosineAnnealingWarmRestartsParams,
    WarmRestartsLeaf,
    "torch CosineAnnealingWarmRestarts: cosine from b to eta_min over T_i steps, restarting, "
    "T_i = T_0*T_mult**k." + _DOC,
)

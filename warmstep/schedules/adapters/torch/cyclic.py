"""torch CyclicLR and OneCycleLR: absolute lrs (the optimizer lr is ignored) and momentum cycling.

CyclicLR: ``total = up + down``, ``cycle = floor(1 + e/total)``, ``x = 1 + e/total - cycle``,
``s = x/ratio`` (rising) or ``(x-1)/(ratio-1)`` (falling), ``lr = base_lr + (max_lr-base_lr)*s*
scale``, momentum ``max_m - (max_m-base_m)*s*scale``. Example: base 0.1, max 1, up=down=2 gives
0.1, 0.55, 1, 0.55, 0.1 ...

OneCycleLR: phases ending at ``pct_start*N-1`` and ``N-1`` (three-phase adds ``2*pct_start*N-2``),
``initial = max_lr/div_factor``, ``min = initial/final_div_factor``, cosine or linear annealing
``end + (start-end)/2*(cos(pi*pct)+1)`` within a phase; at most N steps (value N extrapolates).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import ValidationInfo, model_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, FloatArray, KindParams
from warmstep.schedules._libm import pow_like_python
from warmstep.schedules._parallel import cos_inplace
from warmstep.schedules.adapters.torch._chain import STEP, Calls, Leaf, Optimizer
from warmstep.schedules.adapters.torch._kinds import invalid, per_group, torch_kind
from warmstep.schedules.adapters.torch._ops import SET, Ops, make_ops


class CyclicLRParams(KindParams):
    base_lr: float | list[float]
    max_lr: float | list[float]
    step_size_up: int = 2000
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    scale_fn: str | None = None
    scale_mode: Literal["cycle", "iterations"] = "cycle"
    cycle_momentum: bool = True
    base_momentum: float | list[float] = 0.8
    max_momentum: float | list[float] = 0.9
    last_epoch: Literal[-1] = -1

    @model_validator(mode="after")
    def _mode_known(self, info: ValidationInfo) -> CyclicLRParams:
        if self.mode not in ("triangular", "triangular2", "exp_range") and self.scale_fn is None:
            raise invalid(info, "mode", "mode is invalid and scale_fn is None")
        up = float(self.step_size_up)
        down = float(self.step_size_down) if self.step_size_down is not None else up
        if up + down == 0 or up == 0:
            raise invalid(
                info, "step_size_up", "torch raises ZeroDivisionError: step_size_up must not be 0"
            )
        return self


class CyclicLeaf(Leaf):
    def __init__(self, p: CyclicLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p
        self.own_base = per_group(p.base_lr, "base_lr", path, groups)
        self.max_lrs = per_group(p.max_lr, "max_lr", path, groups)
        self.base_m = per_group(p.base_momentum, "base_momentum", path, groups)
        self.max_m = per_group(p.max_momentum, "max_momentum", path, groups)
        up = float(p.step_size_up)
        self.total = up + (float(p.step_size_down) if p.step_size_down is not None else up)
        self.ratio = up / self.total
        self.scale_mode = (
            p.scale_mode if p.scale_fn else ("iterations" if p.mode == "exp_range" else "cycle")
        )
        self.custom = None
        if p.scale_fn is not None:
            from warmstep.expressions import compile_expression

            self.custom = compile_expression(p.scale_fn, "x", field=f"{path}.scale_fn")

    def construct(self, opt: Optimizer) -> None:
        # torch writes base_lr into the groups (and max_momentum) before LRScheduler.__init__.
        opt.lr = self.own_base.copy()
        if self.p.cycle_momentum:
            opt.momentum = self.max_m.copy()
        super().construct(opt)
        self.base_lrs = self.own_base

    def _scale(self, z: np.ndarray) -> FloatArray | None:
        """``scale_fn`` of each call's cycle or epoch; None for 'triangular' (1.0: ``h * 1.0``
        is ``h``, so the multiplication is skipped)."""
        if self.custom is not None:
            return np.asarray(self.custom(z), np.float64)
        if self.p.mode == "triangular":
            return None
        if self.p.mode == "triangular2":
            if np.any(z - 1 >= 1024):
                raise InvalidArgument(
                    "torch raises OverflowError: 2.0 ** (cycle - 1) past cycle 1024",
                    field=f"{self.path}.mode",
                )
            return np.asarray(1 / np.ldexp(1.0, z - 1), np.float64)
        try:
            return pow_like_python(self.p.gamma, z.astype(np.float64))
        except OverflowError:
            raise InvalidArgument(
                "torch raises OverflowError: gamma ** step overflows", field=f"{self.path}.gamma"
            ) from None

    def whole(self, steps: int) -> Curve | None:
        """'triangular' and 'triangular2' in one compiled pass (:mod:`._cycle_loops`)."""
        if self.custom is not None or self.p.mode == "exp_range" or steps == 0:
            return None
        from warmstep.schedules.adapters.torch import _cycle_loops  # imports numba

        halving = self.p.mode == "triangular2"
        if halving:  # raises where torch's 2.0 ** (cycle - 1) overflows
            self._scale(np.array([math.floor(1.0 + (steps - 1) / self.total)], np.int64))
        momenta = (self.base_m, self.max_m) if self.p.cycle_momentum else None
        lr, momentum = _cycle_loops.cyclic(
            steps, self.total, self.ratio, halving, self.own_base, self.max_lrs, momenta
        )
        return Curve(lr=lr, momentum=momentum)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        # torch's get_lr, a pass at a time: cycle = floor(1 + e/T), x = 1 + e/T - cycle, the
        # scale factor x/r rising or (x-1)/(r-1) falling, lr = b + (m - b)*factor*scale(...)
        e = calls.epoch
        x = e / self.total
        x += 1.0
        cycle = np.floor(x)
        x -= cycle
        factor = x / self.ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(x - 1, self.ratio - 1, out=factor, where=x > self.ratio)
        scale = self._scale(cycle.astype(np.int64) if self.scale_mode == "cycle" else e)
        base = self.base_lrs[:, None]
        lr = _height(self.max_lrs[:, None] - base, factor, scale)
        lr += base
        momentum = None
        if self.p.cycle_momentum:
            top = self.max_m[:, None]
            momentum = _height(top - self.base_m[:, None], factor, scale)
            np.subtract(top, momentum, out=momentum)
        return make_ops(SET, lr, momentum=momentum)


def _height(span: FloatArray, factor: FloatArray, scale: FloatArray | None) -> FloatArray:
    """``span * factor * scale`` per group, left to right: shape ``(groups, n)``."""
    height = span * factor[None, :]
    if scale is not None:
        height *= scale[None, :]
    return height


class OneCycleLRParams(KindParams):
    max_lr: float | list[float]
    total_steps: int | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    pct_start: float = 0.3
    anneal_strategy: Literal["cos", "linear"] = "cos"
    cycle_momentum: bool = True
    base_momentum: float | list[float] = 0.85
    max_momentum: float | list[float] = 0.95
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    last_epoch: Literal[-1] = -1

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> OneCycleLRParams:
        if self.total_steps is not None:
            if self.total_steps <= 0:
                raise invalid(
                    info,
                    "total_steps",
                    f"Expected positive integer total_steps, but got {self.total_steps}",
                )
        elif self.epochs is not None and self.steps_per_epoch is not None:
            if self.epochs <= 0:
                raise invalid(
                    info, "epochs", f"Expected positive integer epochs, but got {self.epochs}"
                )
            if self.steps_per_epoch <= 0:
                raise invalid(
                    info,
                    "steps_per_epoch",
                    f"Expected positive integer steps_per_epoch, but got {self.steps_per_epoch}",
                )
        else:
            raise invalid(
                info,
                "total_steps",
                "You must define either total_steps OR (epochs AND steps_per_epoch)",
            )
        if self.pct_start < 0 or self.pct_start > 1:
            raise invalid(
                info,
                "pct_start",
                f"Expected float between 0 and 1 pct_start, but got {self.pct_start}",
            )
        return self

    @property
    def total(self) -> int:
        if self.total_steps is not None:
            return self.total_steps
        assert self.epochs is not None and self.steps_per_epoch is not None
        return self.epochs * self.steps_per_epoch


# (end_step, start lr field, end lr field, start momentum field, end momentum field)
Phase = tuple[float, str, str, str, str]


def one_cycle_phases(p: OneCycleLRParams) -> list[Phase]:
    n = p.total
    first = (float(p.pct_start * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum")
    if p.three_phase:
        return [
            first,
            (
                float(2 * p.pct_start * n) - 2,
                "max_lr",
                "initial_lr",
                "base_momentum",
                "max_momentum",
            ),
            (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
        ]
    return [first, (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]


class OneCycleLeaf(Leaf):
    def __init__(self, p: OneCycleLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p
        self.max_lrs = per_group(p.max_lr, "max_lr", path, groups)
        self.max_m = per_group(p.max_momentum, "max_momentum", path, groups)
        self.base_m = per_group(p.base_momentum, "base_momentum", path, groups)
        self.phases = one_cycle_phases(p)

    def _fields(self) -> dict[str, FloatArray]:
        """What the constructor writes into the param groups."""
        initial = self.max_lrs / self.p.div_factor
        fields = {
            "initial_lr": initial,
            "max_lr": self.max_lrs.copy(),
            "min_lr": initial / self.p.final_div_factor,
        }
        if self.p.cycle_momentum:
            fields.update(max_momentum=self.max_m.copy(), base_momentum=self.base_m.copy())
        return fields

    def construct(self, opt: Optimizer) -> None:
        opt.fields.update(self._fields())
        if self.p.cycle_momentum:
            opt.momentum = self.max_m.copy()
        super().construct(opt)

    def _too_far(self, epoch: int) -> InvalidArgument:
        return InvalidArgument(
            f"torch raises ValueError: Tried to step {epoch} times. The specified "
            f"number of total steps is {self.p.total}",
            field=f"{self.path}.total_steps",
        )

    def _zero_length(self) -> InvalidArgument:
        return InvalidArgument(
            "torch raises ZeroDivisionError: a OneCycleLR phase has zero length "
            "(pct_start * total_steps is 1, or the phases coincide)",
            field=f"{self.path}.pct_start",
        )

    def whole(self, steps: int) -> Curve | None:
        """Every phase in one compiled pass over the epochs (:mod:`._cycle_loops`)."""
        if steps - 1 > self.p.total:
            raise self._too_far(self.p.total + 1)
        from warmstep.schedules.adapters.torch import _cycle_loops  # imports numba

        fields, groups = self._fields(), self.max_lrs.shape[0]
        lr = np.empty((groups, steps), np.float64)
        momentum = np.empty((groups, steps), np.float64) if self.p.cycle_momentum else None
        start, lo, passes = 0.0, 0, []
        for i, (end, lr_a, lr_b, m_a, m_b) in enumerate(self.phases):
            # the epochs e <= end not taken by an earlier phase; the last phase takes the rest
            reached = min(steps, math.floor(end) + 1) if end >= 0 else 0
            hi = steps if i == len(self.phases) - 1 else max(lo, reached)
            if hi > lo and end - start == 0:
                raise self._zero_length()
            momenta = (fields[m_a], fields[m_b]) if momentum is not None else None
            lrs = (fields[lr_a], fields[lr_b])
            passes.append(_cycle_loops.PhasePass(lo, hi, start, end, lrs, momenta))
            start, lo = end, hi
        _cycle_loops.one_cycle(passes, self.p.anneal_strategy == "cos", lr, momentum)
        return Curve(lr=lr, momentum=momentum)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        e = calls.epoch
        too_far = e > self.p.total
        if np.any(too_far):
            raise self._too_far(int(e[too_far][0]))
        groups = opt.lr.shape[0]
        lr = np.empty((groups, calls.size))
        momentum = np.empty((groups, calls.size)) if self.p.cycle_momentum else None
        start, done = 0.0, np.zeros(calls.size, bool)
        stepping = bool(np.all(calls.kind == STEP))  # epochs count up by one: phases are slices
        lo = 0
        for i, (end, lr_a, lr_b, m_a, m_b) in enumerate(self.phases):
            last = i == len(self.phases) - 1
            here: slice | npt.NDArray[np.bool_]
            if stepping:
                hi = calls.size if last else max(lo, int(np.searchsorted(e, end, side="right")))
                here, lo, any_here = slice(lo, hi), hi, hi > lo
            else:
                here = ~done & ((e <= end) | last)
                done |= here
                any_here = bool(np.any(here))
            if any_here and end - start == 0:
                raise self._zero_length()
            pct = np.asarray((e[here] - start) / (end - start or 1.0), np.float64)
            if self.p.anneal_strategy == "cos":  # one cosine for the lr and the momentum
                pct *= math.pi
                shape = cos_inplace(pct)
                shape += 1
            else:
                shape = pct
            lr[:, here] = self._anneal(opt.fields[lr_a], opt.fields[lr_b], shape)
            if momentum is not None:
                momentum[:, here] = self._anneal(opt.fields[m_a], opt.fields[m_b], shape)
            start = end
        return make_ops(SET, lr, momentum=momentum)

    def _anneal(self, start: FloatArray, end: FloatArray, shape: FloatArray) -> FloatArray:
        """torch's annealing from ``start`` to ``end``; ``shape`` is ``cos(pi*pct) + 1``
        ('cos') or ``pct`` ('linear')."""
        a, b = start[:, None], end[:, None]
        if self.p.anneal_strategy == "cos":
            return np.asarray(b + (a - b) / 2.0 * shape[None, :])
        return np.asarray((b - a) * shape[None, :] + a)


torch_kind(
    "CyclicLR",
    CyclicLRParams,
    CyclicLeaf,
    "torch CyclicLR: triangular cycles between base_lr and max_lr (absolute; base_lr of the "
    "request only fixes the number of groups); cycles momentum inversely.",
    needs_base_lr=False,
    cycles_momentum=True,
)
torch_kind(
    "OneCycleLR",
    OneCycleLRParams,
    OneCycleLeaf,
    "torch OneCycleLR: max_lr/div_factor up to max_lr then down to initial/final_div_factor "
    "(absolute lrs); cycles momentum; at most total_steps steps.",
    needs_base_lr=False,
    cycles_momentum=True,
)

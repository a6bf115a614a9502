"""torch.optim.swa_utils.SWALR: anneal from the current lr to ``swa_lr`` over ``anneal_epochs``.

With ``t = clip(k / max(1, anneal_epochs), 0, 1)`` at the k-th call (k = ``_step_count - 1``) and
``alpha = (1 - cos(pi*t))/2`` ('cos') or ``t`` ('linear'), torch back-solves the pre-anneal lr
from the current one, ``lr0 = (lr - alpha_prev*swa_lr)/(1 - alpha_prev)``, and writes
``swa_lr*alpha + lr0*(1 - alpha)``. Example: b=1, swa_lr=0.5, anneal_epochs=2, linear:
1, 0.75, 0.5, 0.5 ... ``anneal_epochs=0`` writes swa_lr already at construction.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import field_validator

from warmstep.schedules._core import FloatArray, KindParams
from warmstep.schedules._libm import cos_like_python
from warmstep.schedules.adapters.torch._chain import Calls, Leaf, Optimizer, Segment
from warmstep.schedules.adapters.torch._kinds import per_group, torch_kind
from warmstep.schedules.adapters.torch._ops import SWA, Ops, make_ops


class SWALRParams(KindParams):
    swa_lr: float | list[float]
    anneal_epochs: int = 10
    anneal_strategy: Literal["cos", "linear"] = "cos"
    last_epoch: Literal[-1] = -1

    @field_validator("anneal_epochs")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {value}")
        return value


class SWALeaf(Leaf):
    def __init__(self, p: SWALRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.p = p
        self.swa_lrs = per_group(p.swa_lr, "swa_lr", path, groups)
        self.fields: dict[str, FloatArray] = {}

    def construct(self, opt: Optimizer) -> None:
        opt.fields["swa_lr"] = self.swa_lrs.copy()
        self.fields = opt.fields  # the groups' swa_lr: the last SWALR constructed sets it
        super().construct(opt)

    def _alpha(self, step: np.ndarray) -> FloatArray:
        t = np.clip(step / max(1, self.p.anneal_epochs), 0, 1)
        if self.p.anneal_strategy == "linear":
            return np.asarray(t, np.float64)
        # (1 - cos(pi*t))/2 is exactly 0 at t=0 and 1 at t=1 (cos(pi) rounds to -1): the cosine
        # is needed only inside the anneal.
        alpha = (t >= 1).astype(np.float64)
        inside = np.flatnonzero((t > 0) & (t < 1))
        alpha[inside] = (1 - cos_like_python(math.pi * t[inside])) / 2
        return alpha

    def _steps(self, step_count: np.ndarray) -> np.ndarray:
        """torch's ``step = _step_count - 1`` of each call (at least 1 when
        ``anneal_epochs=0``)."""
        step = np.asarray(step_count, np.int64) - 1
        return np.maximum(1, step) if self.p.anneal_epochs == 0 else step

    def _weights(self, step: np.ndarray) -> tuple[FloatArray, FloatArray]:
        """``_alpha(step - 1)`` and ``_alpha(step)`` for non-decreasing steps, each weight
        computed once (a call's weight is the next call's previous one)."""
        if not step.size:
            return np.empty(0, np.float64), np.empty(0, np.float64)
        low = int(step[0]) - 1
        table = self._alpha(np.arange(low, int(step[-1]) + 1, dtype=np.int64))
        if table.shape[0] == step.shape[0] + 1:  # counting up by one
            return table[:-1], table[1:]
        return table[step - 1 - low], table[step - low]

    def segment(self, steps: int) -> Segment | None:
        """The next ``steps - 1`` ``step()`` calls from the lr given: the anneal's writes folded
        as torch applies them, then ``swa_lr`` itself once the previous weight is 1 (torch's
        ``swa_lr*1 + swa_lr*(1 - 1)``). The calls' step counts continue from this leaf's; the
        ``swa_lr`` is the groups' when the calls run (another SWALR may have set it since)."""

        def run(lr0: FloatArray, out: FloatArray) -> None:
            from warmstep.schedules.adapters.torch._fold_loop import fold_writes

            calls = max(steps - 1, 0)
            if steps:
                out[:, 0] = lr0
            # alpha_prev reaches 1 once step - 1 >= span, and stays there: the steps (the
            # calls' _step_count - 1, counting up from this leaf's) past span + 2 are settled
            span = max(1, self.p.anneal_epochs)
            step = self._steps(self.step_count + 1 + np.arange(min(calls, span + 2)))
            annealing = int(np.count_nonzero(step - 1 < span))
            alpha_prev, alpha = self._weights(step[:annealing])
            kinds = np.full(annealing, SWA, np.int64)
            swa_lrs = self.fields["swa_lr"]
            for g in range(lr0.shape[0]):
                swa_lr = np.full(annealing, swa_lrs[g])
                out[g, 1 : annealing + 1] = fold_writes(lr0[g], kinds, alpha_prev, alpha, swa_lr)
                out[g, annealing + 1 :] = swa_lrs[g]

        return run

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        alpha_prev, alpha = self._weights(self._steps(calls.step_count))
        groups = opt.lr.shape[0]
        shape = (groups, calls.size)
        return make_ops(
            SWA,
            np.broadcast_to(alpha_prev, shape),
            np.broadcast_to(alpha, shape),
            np.broadcast_to(opt.fields["swa_lr"][:, None], shape),
        )


torch_kind(
    "SWALR",
    SWALRParams,
    SWALeaf,
    "torch.optim.swa_utils.SWALR: anneal from the group lr to swa_lr over anneal_epochs "
    "('cos' or 'linear'), then hold swa_lr. Needs base_lr.",
)

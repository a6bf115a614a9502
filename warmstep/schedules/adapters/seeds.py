"""Kinds named by the project's seed documents that no single library ships.

``WarmupMultiFactorScheduler(factor, warmup_epochs, milestones, warmup_lr=0.001,
warmup_strategy='linear')`` (seed 001; the seed calls ``scheduler.step(epoch)`` at the start of
each epoch, so value i is the lr used by epoch or step i). The seed states the intent, not the
boundaries; warmstep defines them as follows, for base lr ``b`` of each group::

    i < warmup_epochs:   linear    warmup_lr + (b - warmup_lr) · i / warmup_epochs
                         constant  warmup_lr
    i ≥ warmup_epochs:   b · factor ** k,  k = number of milestones m with m ≤ i

so epoch m is the first to use the reduced lr (as torch's MultiStepLR), the warmup reaches b at
exactly i = warmup_epochs, and a milestone inside the warmup counts from the end of the warmup.
b=0.01, factor=0.1, warmup_epochs=5, milestones=[30, 60], warmup_lr=0.001: 0.001, 0.0028,
0.0046, 0.0064, 0.0082, then 0.01 for i = 5…29, 0.001 for 30…59, 0.0001 from 60.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register

__all__ = ["WarmupMultiFactorSchedulerParams"]


class WarmupMultiFactorSchedulerParams(KindParams):
    """See the module docstring: warmup from warmup_lr to the base lr over warmup_epochs
    (linear or constant), then ``b · factor^k`` after k milestones (milestone m applies from
    index m). ``factor ** k`` is Python's float power."""

    factor: float
    warmup_epochs: int = Field(ge=0)
    milestones: list[int]
    warmup_lr: float = 0.001
    warmup_strategy: Literal["linear", "constant"] = "linear"

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, milestones: list[int]) -> list[int]:
        if any(m < 0 for m in milestones):
            raise ValueError("milestones must be non-negative")
        if any(b <= a for a, b in itertools.pairwise(milestones)):
            raise ValueError("milestones must be strictly increasing")
        return milestones


def _evaluate(p: WarmupMultiFactorSchedulerParams, context: EvalContext) -> Curve:
    i = np.arange(context.steps, dtype=np.int64)
    k = np.searchsorted(np.asarray(p.milestones, dtype=np.int64), i, side="right")
    powers = np.array([p.factor**n for n in range(len(p.milestones) + 1)], dtype=np.float64)
    b = context.base_lrs[:, None]
    decayed = b * powers[k][None, :]
    if p.warmup_epochs == 0:
        return Curve(lr=decayed)
    if p.warmup_strategy == "linear":
        warm = p.warmup_lr + (b - p.warmup_lr) * i.astype(np.float64) / p.warmup_epochs
    else:
        warm = np.full_like(decayed, p.warmup_lr)
    return Curve(lr=np.where(i < p.warmup_epochs, warm, decayed))


SEED_KINDS = [
    register(
        Kind(
            name="WarmupMultiFactorScheduler",
            library=Library.WARMSTEP,
            params=WarmupMultiFactorSchedulerParams,
            evaluate=_evaluate,
            doc="Warmup (linear or constant) from warmup_lr to the base lr over warmup_epochs, "
            "then b·factor^k after k milestones (milestone m applies from index m). Value i = "
            "the lr of epoch/step i (the seed calls step(epoch) before each epoch). Scales each "
            "group's base lr; warmup_lr is absolute.",
            needs_base_lr=True,
        )
    )
]

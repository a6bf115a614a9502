"""pytorch-transformers 1.2.0 ``pytorch_transformers.optimization`` schedules (legacy).

They are ``LambdaLR`` subclasses (value i = ``b_g · λ(i)``, the lr after i ``step()`` calls)
with the formulas that transformers 2.x renamed to ``get_*_with_warmup``; the only textual
difference, ``max(1.0, …)`` instead of ``max(1, …)`` in some guards, gives the same floats. So
each kind evaluates the transformers kind with ``warmup_steps`` → ``num_warmup_steps``,
``t_total`` → ``num_training_steps``, ``cycles`` → ``num_cycles``. ``optimizer`` is implied and
``last_epoch`` is not an argument.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters import transformers as hf

__all__ = ["PYTORCH_TRANSFORMERS_KINDS"]


class ConstantLRScheduleParams(KindParams):
    """``ConstantLRSchedule(optimizer)``: λ = 1.0. b=0.1: 0.1, 0.1, …"""


class WarmupConstantScheduleParams(KindParams):
    """``WarmupConstantSchedule(optimizer, warmup_steps)``: λ = s / max(1, W) for s < W, else 1.
    W=4, b=1: 0, 0.25, 0.5, 0.75, 1, 1, …"""

    warmup_steps: int


class WarmupLinearScheduleParams(WarmupConstantScheduleParams):
    """``WarmupLinearSchedule(optimizer, warmup_steps, t_total)``: warmup, then
    ``max(0, (t_total - s) / max(1, t_total - W))``. W=2, t_total=6, b=1: 0, 0.5, 1, 0.75, 0.5,
    0.25, 0, 0, …"""

    t_total: int


class WarmupCosineScheduleParams(WarmupLinearScheduleParams):
    """``WarmupCosineSchedule(optimizer, warmup_steps, t_total, cycles=.5)``: warmup, then
    ``max(0, 0.5·(1 + cos(π·cycles·2·p)))``, p = (s - W) / max(1, t_total - W), not clamped
    past t_total. W=0, t_total=4, b=1: 1, 0.854, 0.5, 0.146, 0, 0.146, …"""

    cycles: float = 0.5


class WarmupCosineWithHardRestartsScheduleParams(WarmupLinearScheduleParams):
    """``WarmupCosineWithHardRestartsSchedule(optimizer, warmup_steps, t_total, cycles=1.)``:
    warmup, then 0 for p ≥ 1, else ``max(0, 0.5·(1 + cos(π·((cycles·p) mod 1))))``.
    W=0, t_total=4, cycles=2, b=1: 1, 0.5, 1, 0.5, 0, 0, …"""

    cycles: float = 1.0


def _constant(p: ConstantLRScheduleParams, context: EvalContext) -> Curve:
    return Curve(lr=context.base_lrs[:, None] * np.ones((1, context.steps)))


def _warmup_constant(p: WarmupConstantScheduleParams, context: EvalContext) -> Curve:
    return hf.evaluate_constant_warmup(
        hf.ConstantWarmupParams(num_warmup_steps=p.warmup_steps), context
    )


def _warmup_linear(p: WarmupLinearScheduleParams, context: EvalContext) -> Curve:
    params = hf.LinearParams(num_warmup_steps=p.warmup_steps, num_training_steps=p.t_total)
    return hf.evaluate_linear(params, context)


def _warmup_cosine(p: WarmupCosineScheduleParams, context: EvalContext) -> Curve:
    params = hf.CosineParams(
        num_warmup_steps=p.warmup_steps, num_training_steps=p.t_total, num_cycles=p.cycles
    )
    return hf.evaluate_cosine(params, context)


def _warmup_hard_restarts(
    p: WarmupCosineWithHardRestartsScheduleParams, context: EvalContext
) -> Curve:
    params = hf.HardRestartsParams(
        num_warmup_steps=p.warmup_steps, num_training_steps=p.t_total, num_cycles=p.cycles
    )
    return hf.evaluate_hard_restarts(params, context)


_KINDS: dict[str, tuple[type[KindParams], Callable[..., Curve]]] = {
    "ConstantLRSchedule": (ConstantLRScheduleParams, _constant),
    "WarmupConstantSchedule": (WarmupConstantScheduleParams, _warmup_constant),
    "WarmupLinearSchedule": (WarmupLinearScheduleParams, _warmup_linear),
    "WarmupCosineSchedule": (WarmupCosineScheduleParams, _warmup_cosine),
    "WarmupCosineWithHardRestartsSchedule": (
        WarmupCosineWithHardRestartsScheduleParams,
        _warmup_hard_restarts,
    ),
}

PYTORCH_TRANSFORMERS_KINDS = [
    register(
        Kind(
            name=name,
            library=Library.PYTORCH_TRANSFORMERS,
            params=params,
            evaluate=evaluate,
            doc=" ".join((params.__doc__ or "").split())
            + " Value i = b·λ(i) (LambdaLR after i step() calls); scales each group's base lr.",
            needs_base_lr=True,
        )
    )
    for name, (params, evaluate) in _KINDS.items()
]

"""maskrcnn-benchmark's ``WarmupMultiStepLR`` (``maskrcnn_benchmark/solver/lr_scheduler.py``).

The same formula as detectron2's deprecated class of the same name, with other defaults
(``warmup_factor=1/3, warmup_iters=500``), so a spec names its library:
``{"type": "WarmupMultiStepLR", "library": "maskrcnn_benchmark", "milestones": [...]}``.
"""

from __future__ import annotations

from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.detectron2 import (
    SortedMilestones,
    WarmupMethod,
    milestone_warmup_curve,
)

__all__ = ["WarmupMultiStepLR"]


class WarmupMultiStepLR(KindParams):
    """maskrcnn-benchmark ``WarmupMultiStepLR``:
    ``lr[g, i] = base_lr[g] * warmup(i) * gamma ** bisect_right(milestones, i)``, with
    ``warmup(i) = 1`` from i = warmup_iters on, else ``warmup_factor`` ('constant') or
    ``warmup_factor * (1 - i / warmup_iters) + i / warmup_iters`` ('linear').

    Defaults: milestones=[4], warmup_iters=2 (factor 1/3): ``b * [1/3, 2/3, 1, 1, 0.1, …]``."""

    milestones: SortedMilestones
    gamma: float = 0.1
    warmup_factor: float = 1.0 / 3
    warmup_iters: int = 500
    warmup_method: WarmupMethod = "linear"


def _evaluate(params: WarmupMultiStepLR, context: EvalContext) -> Curve:
    return milestone_warmup_curve(
        context,
        params.milestones,
        params.gamma,
        params.warmup_factor,
        params.warmup_iters,
        params.warmup_method,
    )


register(
    Kind(
        name="WarmupMultiStepLR",
        library=Library.MASKRCNN_BENCHMARK,
        params=WarmupMultiStepLR,
        evaluate=_evaluate,
        doc="maskrcnn-benchmark WarmupMultiStepLR: base_lr * warmup(i) * gamma ** "
        "bisect_right(milestones, i); defaults warmup_factor=1/3, warmup_iters=500.",
        needs_base_lr=True,
    )
)

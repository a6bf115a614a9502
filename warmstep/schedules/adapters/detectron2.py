"""detectron2 schedules (``detectron2/solver/lr_scheduler.py``, GitHub main).

- ``LRMultiplier(multiplier, max_iter)``: the torch LRScheduler through which detectron2 trains
  with an fvcore ParamScheduler: ``lr[g, i] = base_lr[g] * multiplier(i / max_iter)``.
  (Every fvcore kind also takes ``max_iter`` directly as a shorthand for the same thing.)
- ``WarmupParamScheduler(scheduler, warmup_factor, warmup_length, warmup_method='linear',
  rescale_interval=False)``: an fvcore ParamScheduler (nest it in ``LRMultiplier`` or give it
  ``max_iter``) prepending a warmup to ``scheduler``. It is
  ``CompositeParamScheduler([warmup, scheduler], lengths=[warmup_length, 1 - warmup_length],
  interval_scaling=['rescaled', 'rescaled' if rescale_interval else 'fixed'])`` where the warmup
  is ``Linear(warmup_factor * scheduler(0), end)`` or ``Constant(warmup_factor * scheduler(0))``
  and ``end = scheduler(0)`` if rescale_interval else ``scheduler(warmup_length)``. With 'fixed'
  the main scheduler keeps global progress, so the warmup overlaps its start.
- ``WarmupMultiStepLR`` and ``WarmupCosineLR``: the deprecated torch LRScheduler classes kept at
  the end of that file, with their defaults (``warmup_factor=0.001, warmup_iters=1000,
  warmup_method='linear'``). These names are also ``cfg.SOLVER.LR_SCHEDULER_NAME`` values of
  ``build_lr_scheduler``, which now builds ``LRMultiplier(WarmupParamScheduler(
  MultiStepParamScheduler | CosineParamScheduler, ...))`` instead (different boundaries: fvcore's
  ``int((where + 1e-6) * N)``): here the names mean the deprecated classes; spell the config path
  with ``LRMultiplier`` for the other. maskrcnn-benchmark has its own ``WarmupMultiStepLR``
  (``library: "maskrcnn_benchmark"``), so this name needs ``library: "detectron2"``.

Warmup factor at iteration i (i = the torch ``last_epoch``): 1 if i ≥ warmup_iters, else
``warmup_factor`` ('constant') or ``warmup_factor * (1 - i / warmup_iters) + i / warmup_iters``
('linear').
"""

from __future__ import annotations

import bisect
import math
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, field_validator

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
from warmstep.schedules._libm import cos_like_python
from warmstep.schedules._registry import NestedSchedule, register
from warmstep.schedules.adapters._param_scheduler import (
    ParamSchedulerParams,
    Span,
    WhereError,
    checked_lengths,
    composite_at,
    composite_spans,
    evaluate_param_scheduler,
    lr_multiplier_curve,
    param_scheduler_child,
    raise_if,
    range_error,
)

__all__ = [
    "LRMultiplier",
    "SortedMilestones",
    "WarmupCosineLR",
    "WarmupMultiStepLR",
    "WarmupParamScheduler",
    "milestone_warmup_curve",
    "warmup_factors",
]

WarmupMethod = Literal["linear", "constant"]
_MOST_FILLS = 64  # milestones after the warmup beyond which every step is computed


class LRMultiplier(KindParams):
    """detectron2 ``LRMultiplier``: ``lr[g, i] = base_lr[g] * multiplier(i / max_iter)``.

    multiplier=CosineParamScheduler(1, 0), max_iter=4: ``b * [1, 0.854, 0.5, 0.146, 0]``.
    (``last_iter`` is not offered: resuming is asking for a later step of the same curve.)
    """

    multiplier: NestedSchedule
    max_iter: int = Field(ge=1)

    @field_validator("multiplier")
    @classmethod
    def _check_multiplier(cls, multiplier: NestedSchedule) -> NestedSchedule:
        param_scheduler_child(multiplier, "LRMultiplier.multiplier")
        return multiplier


def _evaluate_lr_multiplier(params: LRMultiplier, context: EvalContext) -> Curve:
    scheduler = param_scheduler_child(params.multiplier, "multiplier")
    return lr_multiplier_curve(scheduler, params.max_iter, context, params.multiplier.path)


class WarmupParamScheduler(ParamSchedulerParams):
    """detectron2 ``WarmupParamScheduler``: a warmup over the first ``warmup_length`` of progress.

    scheduler=CosineParamScheduler(1, 0), warmup_factor=0.001, warmup_length=0.01, max_iter=1000:
    step 0 gives 0.001, steps 0-9 rise linearly to cos-value at where 0.01 (0.99975...), then the
    cosine at its global progress (rescale_interval=False).
    """

    scheduler: NestedSchedule
    warmup_factor: float
    warmup_length: float
    warmup_method: WarmupMethod = "linear"
    rescale_interval: bool = False

    @field_validator("scheduler")
    @classmethod
    def _check_scheduler(cls, scheduler: NestedSchedule) -> NestedSchedule:
        param_scheduler_child(scheduler, "WarmupParamScheduler.scheduler")
        return scheduler

    @field_validator("warmup_length")
    @classmethod
    def _check_length(cls, warmup_length: float) -> float:
        checked_lengths([warmup_length, 1.0 - warmup_length])
        return warmup_length

    def at(self, where: FloatArray, path: str) -> FloatArray:
        inner = param_scheduler_child(self.scheduler, "scheduler")
        child_path = self.scheduler.path
        _, start_value, end = self._warmup_shape(path)

        def warmup(local: FloatArray) -> FloatArray:
            if self.warmup_method == "constant":
                raise_if(local >= 1.0, range_error(local))
                return np.full(local.shape, start_value)
            return end * local + start_value * (1.0 - local)

        parts = [warmup, lambda w: inner.at(w, child_path)]
        return composite_at(where, parts, self._lengths(), self._scaling())

    def spans(self, max_iter: int, steps: int, path: str) -> list[Span] | None:
        inner = param_scheduler_child(self.scheduler, "scheduler")
        forms = [self._warmup_shape(path), inner.part_form()]
        return composite_spans(forms, self._lengths(), self._scaling(), max_iter, steps)

    def _warmup_shape(self, path: str) -> tuple[str, float, float]:
        """The warmup part as a shape of the compiled pass: linear from ``warmup_factor *
        scheduler(0)`` to ``scheduler(warmup_length)`` (``scheduler(0)`` when rescaled), or that
        start held constant; detectron2 computes both ends when built."""
        inner = param_scheduler_child(self.scheduler, "scheduler")
        child_path = self.scheduler.path
        points = [0.0] if self.rescale_interval else [0.0, self.warmup_length]
        try:
            ends = inner.at(np.array(points), child_path).tolist()
        except WhereError as exc:
            raise InvalidArgument(
                f"WarmupParamScheduler evaluates scheduler(warmup_length) when built: {exc.reason}",
                field=f"{path}.warmup_length",
            ) from None
        start, end = ends[0], ends[-1]
        start_value = self.warmup_factor * start
        if self.warmup_method == "constant":
            return "constant", start_value, 0.0
        return "linear", start_value, end

    def _lengths(self) -> list[float]:
        return checked_lengths([self.warmup_length, 1.0 - self.warmup_length])

    def _scaling(self) -> list[str]:
        return ["rescaled", "rescaled" if self.rescale_interval else "fixed"]


def warmup_factors(
    method: WarmupMethod, iters: FloatArray, warmup_iters: int, warmup_factor: float
) -> FloatArray:
    """detectron2 ``_get_warmup_factor_at_iter`` (and maskrcnn-benchmark's inline copy) per i."""
    if method == "constant":
        warming: FloatArray = np.full(iters.shape, warmup_factor)
    else:
        alpha = iters / warmup_iters if warmup_iters > 0 else np.zeros(iters.shape)
        warming = warmup_factor * (1.0 - alpha) + alpha
    return np.where(iters >= warmup_iters, 1.0, warming)


def milestone_warmup_curve(
    context: EvalContext,
    milestones: list[int],
    gamma: float,
    warmup_factor: float,
    warmup_iters: int,
    warmup_method: WarmupMethod,
) -> Curve:
    """``base_lr * warmup(i) * gamma ** bisect_right(milestones, i)`` (closed form of get_lr):
    the warmup's steps elementwise; after it the factor is 1 (``base_lr * 1.0`` is
    ``base_lr``), so each run of steps between two milestones is one value, a fill."""
    steps = context.steps
    # Python's float ** int for the few distinct powers (numpy's SIMD pow can differ by an ulp).
    powers = np.array([gamma**k for k in range(len(milestones) + 1)])
    warm = min(max(warmup_iters, 0), steps)  # the steps before warmup_iters
    edges = sorted({m for m in milestones if warm < m < steps})
    if len(edges) > _MOST_FILLS:
        warm = steps  # many short runs: every step elementwise
    lr = np.empty((context.base_lrs.shape[0], steps), np.float64)
    iters = np.arange(warm, dtype=np.float64)
    factors = warmup_factors(warmup_method, iters, warmup_iters, warmup_factor)
    decays = powers[np.searchsorted(np.asarray(milestones, dtype=np.float64), iters, "right")]
    lr[:, :warm] = context.base_lrs[:, None] * factors[None, :] * decays[None, :]
    if warm < steps:
        starts = [warm, *edges]
        for start, end in zip(starts, [*edges, steps], strict=True):
            decay = powers[bisect.bisect_right(milestones, start)]
            lr[:, start:end] = (context.base_lrs * decay)[:, None]
    return Curve(lr=lr)


def _sorted_milestones(milestones: list[int]) -> list[int]:
    if milestones != sorted(milestones):
        raise ValueError(f"Milestones should be a list of increasing integers. Got {milestones}")
    return milestones


SortedMilestones = Annotated[list[int], AfterValidator(_sorted_milestones)]


class WarmupMultiStepLR(KindParams):
    """detectron2's deprecated ``WarmupMultiStepLR``:
    ``lr[g, i] = base_lr[g] * warmup(i) * gamma ** bisect_right(milestones, i)``.

    milestones=[3], gamma=0.1, warmup_factor=0.5, warmup_iters=2: ``b * [0.5, 0.75, 1, 0.1, …]``.
    Milestones must be sorted (repeats allowed, each repeat decays once more)."""

    milestones: SortedMilestones
    gamma: float = 0.1
    warmup_factor: float = 0.001
    warmup_iters: int = 1000
    warmup_method: WarmupMethod = "linear"


def _evaluate_multistep(params: WarmupMultiStepLR, context: EvalContext) -> Curve:
    return milestone_warmup_curve(
        context,
        params.milestones,
        params.gamma,
        params.warmup_factor,
        params.warmup_iters,
        params.warmup_method,
    )


class WarmupCosineLR(KindParams):
    """detectron2's deprecated ``WarmupCosineLR``:
    ``lr[g, i] = base_lr[g] * warmup(i) * 0.5 * (1 + cos(π i / max_iters))``.

    The cosine starts at step 0 and is multiplied by the warmup factor (not shifted after it);
    past max_iters it rises again (periodic). max_iters=4, warmup_iters=0:
    ``b * [1, 0.854, 0.5, 0.146, 0, 0.146, …]``."""

    max_iters: int
    warmup_factor: float = 0.001
    warmup_iters: int = 1000
    warmup_method: WarmupMethod = "linear"

    @field_validator("max_iters")
    @classmethod
    def _nonzero(cls, max_iters: int) -> int:
        if max_iters == 0:
            raise ValueError("float division by zero (detectron2 divides by max_iters)")
        return max_iters


def _evaluate_cosine(params: WarmupCosineLR, context: EvalContext) -> Curve:
    """``((base_lr * warmup(i)) * 0.5) * (1 + cos(pi * i / max_iters))`` in get_lr's order: the
    warmup's steps elementwise, the rest (``base_lr * 1.0`` is ``base_lr``) in one compiled
    pass (:mod:`._detectron2_loops`)."""
    from warmstep.schedules.adapters._detectron2_loops import cosine_after_warmup  # numba

    steps = context.steps
    warm = min(max(params.warmup_iters, 0), steps)  # the steps before warmup_iters
    iters = np.arange(warm, dtype=np.float64)
    factors = warmup_factors(params.warmup_method, iters, params.warmup_iters, params.warmup_factor)
    cosine = 1.0 + cos_like_python(math.pi * iters / params.max_iters)
    lr = np.empty((context.base_lrs.shape[0], steps), np.float64)
    lr[:, :warm] = context.base_lrs[:, None] * factors[None, :] * 0.5 * cosine[None, :]
    cosine_after_warmup(warm, params.max_iters, context.base_lrs, lr)
    return Curve(lr=lr)


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


def _register(name: str, params: type[KindParams], evaluate: Evaluate, nested: str = "") -> None:
    register(
        Kind(
            name=name,
            library=Library.DETECTRON2,
            params=params,
            evaluate=evaluate,
            doc=_first_paragraph(params.__doc__),
            needs_base_lr=True,
            nested_fields=(nested,) if nested else (),
        )
    )


_register("LRMultiplier", LRMultiplier, _evaluate_lr_multiplier, nested="multiplier")
_register("WarmupParamScheduler", WarmupParamScheduler, evaluate_param_scheduler, "scheduler")
_register("WarmupMultiStepLR", WarmupMultiStepLR, _evaluate_multistep)
_register("WarmupCosineLR", WarmupCosineLR, _evaluate_cosine)

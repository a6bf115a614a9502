"""fairseq (0.12.x, dataclass configs) ``inverse_sqrt`` and ``tri_stage`` lr schedulers.

Index: fairseq's trainer calls ``lr_scheduler.step_update(0)`` right after building the
scheduler and ``step_update(num_updates)`` after every update, so **value i = the lr set by
``step_update(i)``**, the lr that update i uses (0-based). (For these two kinds
``step_update(0)`` equals the constructor's initial lr whenever there is a warmup.)

``lr`` is fairseq's ``optimization.lr`` (a one-element list; a plain float is accepted): an
absolute lr that every param group gets. When it is omitted each group uses its own base lr as
``lr``. fairseq computes with Python floats; so does this module, vectorised, with powers and
exponentials rounded exactly as Python's ``math`` does.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, FloatArray, Kind, KindParams, Library
from warmstep.schedules._libm import exp_like_python, pow_like_python
from warmstep.schedules._registry import register

__all__ = ["InverseSqrtParams", "TriStageParams", "rsqrt_like_python"]


def rsqrt_like_python(n: FloatArray) -> FloatArray:
    """``n ** -0.5`` elementwise as Python computes it (the C library's ``pow``)."""
    n = np.asarray(n, np.float64)
    return pow_like_python(n, -0.5)


class _FairseqLr(KindParams):
    lr: float | list[float] | None = None

    def peak(self, context: EvalContext, scheduler: str) -> FloatArray:
        """Per-group ``lr`` as a column ``(groups, 1)``."""
        if self.lr is None:
            return context.base_lrs[:, None].astype(np.float64)
        values = self.lr if isinstance(self.lr, list) else [self.lr]
        if len(values) != 1:
            raise InvalidArgument(
                f"Cannot use a fixed learning rate schedule with {scheduler}. "
                "Consider --lr-scheduler=fixed instead.",
                field=f"{context.path}.lr",
            )
        return np.full((context.groups, 1), float(values[0]))


class InverseSqrtParams(_FairseqLr):
    """``--lr-scheduler inverse_sqrt`` (``warmup_updates=4000, warmup_init_lr=-1``, ``lr``).
    warmup_init_lr < 0 means 0 (or ``lr`` when warmup_updates is 0, which then divides by zero in
    fairseq's constructor). n < W: ``warmup_init_lr + n·(lr - warmup_init_lr)/W``; else
    ``lr·sqrt(W) · n^-0.5`` (= lr at n = W). W=4, lr=1: 0, 0.25, 0.5, 0.75, 1, 0.894, …"""

    warmup_updates: int = Field(default=4000, ge=0)
    warmup_init_lr: float = -1


def _inverse_sqrt(p: InverseSqrtParams, context: EvalContext) -> Curve:
    peak = p.peak(context, "inverse_sqrt")
    w = p.warmup_updates
    if w == 0:
        raise InvalidArgument(
            "fairseq divides by warmup_updates = 0 in the constructor (ZeroDivisionError)",
            field=f"{context.path}.warmup_updates",
        )
    init = np.full_like(peak, p.warmup_init_lr) if p.warmup_init_lr >= 0 else np.zeros_like(peak)
    lr_step = (peak - init) / w
    decay_factor = peak * (w**0.5)
    n = np.arange(context.steps, dtype=np.float64)
    decay = rsqrt_like_python(np.maximum(n, w))
    lr = np.where(n < w, init + n * lr_step, decay_factor * decay)
    return Curve(lr=np.ascontiguousarray(lr))


class TriStageParams(_FairseqLr):
    """``--lr-scheduler tri_stage`` (``warmup_steps=0, hold_steps=0, decay_steps=0,
    phase_ratio=None, init_lr_scale=0.01, final_lr_scale=0.01, max_update``, ``lr``). With
    phase_ratio the lengths are ``int(max_update·ratio_k)`` (max_update > 0, ratios summing to
    exactly 1). n < W: ``init + (lr - init)/W · n`` (init = lr·init_lr_scale); n < W+H: lr;
    n ≤ W+H+D: ``lr·exp(-(-ln(final_lr_scale)/D) · (n-W-H))``; after: lr·final_lr_scale.
    decay_steps = 0 divides by zero in fairseq's constructor.
    W=2, H=1, D=2, scales 0.5/0.25, lr=1: 0.5, 0.75, 1, 1, 0.5, 0.25, 0.25, …"""

    warmup_steps: int = 0
    hold_steps: int = 0
    decay_steps: int = 0
    phase_ratio: tuple[float, float, float] | None = None
    init_lr_scale: float = 0.01
    final_lr_scale: float = 0.01
    max_update: float = 0

    def stages(self, path: str) -> tuple[int, int, int]:
        if self.phase_ratio is None:
            stages = (self.warmup_steps, self.hold_steps, self.decay_steps)
        elif not self.max_update > 0:
            raise InvalidArgument("fairseq asserts max_update > 0", field=f"{path}.max_update")
        elif sum(self.phase_ratio) != 1:
            raise InvalidArgument("phase ratios must add up to 1", field=f"{path}.phase_ratio")
        else:
            w, h, d = (int(self.max_update * r) for r in self.phase_ratio)
            stages = (w, h, d)
        if sum(stages) <= 0:
            raise InvalidArgument(
                "please specify steps or phase_ratio", field=f"{path}.decay_steps"
            )
        return stages


def _decay_factor(p: TriStageParams, decay_steps: int, path: str) -> float:
    if not p.final_lr_scale > 0:
        raise InvalidArgument(
            "fairseq computes log(final_lr_scale): math domain error",
            field=f"{path}.final_lr_scale",
        )
    if decay_steps == 0:
        raise InvalidArgument(
            "fairseq divides by decay_steps = 0 in the constructor (ZeroDivisionError)",
            field=f"{path}.decay_steps",
        )
    return -math.log(p.final_lr_scale) / decay_steps


def _tri_stage(p: TriStageParams, context: EvalContext) -> Curve:
    peak = p.peak(context, "tri-stage lr")
    w, h, d = p.stages(context.path)
    rate = _decay_factor(p, d, context.path)
    init, final = p.init_lr_scale * peak, p.final_lr_scale * peak
    warmup_rate = (peak - init) / w if w != 0 else np.zeros_like(peak)
    n = np.arange(context.steps, dtype=np.float64)
    in_decay = np.clip(n - w - h, 0, d)
    # exp of each distinct count of decay steps (0 .. d) only, then looked up per step
    distinct = np.arange(min(max(context.steps - w - h, 1), d + 1), dtype=np.float64)
    looked_up = np.minimum(in_decay, distinct.size - 1).astype(np.int64)
    decay = peak * exp_like_python(-rate * distinct)[looked_up][None, :]
    lr = np.select(
        [n < w, n < w + h, n <= w + h + d],
        [init + warmup_rate * n, np.broadcast_to(peak, decay.shape), decay],
        default=np.broadcast_to(final, decay.shape),
    )
    return Curve(lr=np.ascontiguousarray(lr, dtype=np.float64))


_SUFFIX = (
    " Value i = lr after step_update(i) (fairseq's trainer calls step_update(0) after building "
    "the scheduler). lr is absolute (one value for every group); omitted, each group's base lr."
)

FAIRSEQ_KINDS = [
    register(
        Kind(
            name=name,
            library=Library.FAIRSEQ,
            params=params,
            evaluate=evaluate,
            doc=" ".join((params.__doc__ or "").split()) + _SUFFIX,
            needs_base_lr=False,
        )
    )
    for name, params, evaluate in (
        ("inverse_sqrt", InverseSqrtParams, _inverse_sqrt),
        ("tri_stage", TriStageParams, _tri_stage),
    )
]

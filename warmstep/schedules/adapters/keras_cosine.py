"""keras 3.15.1 ``CosineDecay`` and ``CosineDecayRestarts`` in float32 (helpers in ``keras``).

CosineDecay without ``warmup_target``: ``s = min(step, D)``,
``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / D)) + alpha)``; ``warmup_steps`` is ignored.
With a target: ``s = min(step, D + W)``; for ``s < W`` the line ``(target - lr0) * s/W + lr0``,
after it the cosine of ``s - W`` scaled by ``target`` (``decay_steps`` excludes the warmup).
``alpha`` stays a Python float in keras: ``(1 - alpha)`` is formed in float64, then rounded.

CosineDecayRestarts: ``f = step / first_decay_steps``; ``t_mul == 1``: ``i = floor(f)``,
``f -= i``; else ``i = floor(log(1 - f*(1 - t_mul)) / log(t_mul))``,
``f = (f - (1 - t_mul**i)/(1 - t_mul)) / t_mul**i``; value
``lr0 * ((1 - alpha) * (0.5 * m_mul**i * (1 + cos(pi f))) + alpha)``, all float32.
Example: CosineDecay(0.1, 50) at step 25 is 0.05000000447034836.
"""

from __future__ import annotations

import numpy as np

from warmstep.schedules._core import Curve, EvalContext, Kind, Library
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.keras import (
    F32,
    PI32,
    F32Array,
    _DecayStepsPositive,
    as_curve,
    cos32,
    log32,
    pow32,
    step32,
)


class CosineDecayParams(_DecayStepsPositive):
    initial_learning_rate: float
    decay_steps: float
    alpha: float = 0.0
    name: str = "CosineDecay"
    warmup_target: float | None = None
    warmup_steps: float = 0


def _decayed(step: F32Array, decay_steps: F32, start: F32, alpha: float) -> F32Array:
    cosine = F32(0.5) * (F32(1.0) + cos32(PI32 * (step / decay_steps)))
    return start * (F32(1 - alpha) * cosine + F32(alpha))


def _cosine(params: CosineDecayParams, context: EvalContext) -> Curve:
    initial, decay_steps = F32(params.initial_learning_rate), F32(params.decay_steps)
    step = step32(context)
    if params.warmup_target is None:
        return as_curve(
            _decayed(np.minimum(step, decay_steps), decay_steps, initial, params.alpha), context
        )
    target, warmup = F32(params.warmup_target), F32(params.warmup_steps)
    step = np.minimum(step, decay_steps + warmup)
    with np.errstate(invalid="ignore", divide="ignore"):
        ramp = (target - initial) * (step / warmup) + initial
    decay = _decayed(step - warmup, decay_steps, target, params.alpha)
    return as_curve(np.where(step < warmup, ramp, decay), context)


class CosineDecayRestartsParams(_DecayStepsPositive):
    initial_learning_rate: float
    first_decay_steps: float
    t_mul: float = 2.0
    m_mul: float = 1.0
    alpha: float = 0.0
    name: str = "SGDRDecay"


def _restarts(params: CosineDecayRestartsParams, context: EvalContext) -> Curve:
    t_mul, m_mul, alpha = F32(params.t_mul), F32(params.m_mul), F32(params.alpha)
    fraction: F32Array = step32(context) / F32(params.first_decay_steps)
    restart: F32Array
    if t_mul == F32(1.0):
        restart = np.floor(fraction)
        fraction = fraction - restart
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            restart = np.floor(log32(F32(1.0) - fraction * (F32(1.0) - t_mul)) / log32(t_mul))
            growth = pow32(t_mul, restart)
            shifted = fraction - (F32(1.0) - growth) / (F32(1.0) - t_mul)
            fraction = np.asarray(shifted / growth, dtype=F32)
    cosine = F32(0.5) * pow32(m_mul, restart) * (F32(1.0) + cos32(PI32 * fraction))
    decayed = (F32(1) - alpha) * cosine + alpha
    return as_curve(F32(params.initial_learning_rate) * decayed, context)


register(
    Kind(
        name="CosineDecay",
        library=Library.KERAS,
        params=CosineDecayParams,
        evaluate=_cosine,
        doc="keras cosine decay, clamped at decay_steps; with warmup_target a linear warmup "
        "over warmup_steps first (warmup_steps is ignored without a target). float32; value "
        "i = schedule(i); absolute values.",
        needs_base_lr=False,
    )
)
register(
    Kind(
        name="CosineDecayRestarts",
        library=Library.KERAS,
        params=CosineDecayRestartsParams,
        evaluate=_restarts,
        doc="keras SGDR: cosine restarts with period first_decay_steps * t_mul^i and peak "
        "m_mul^i; float32; absolute values.",
        needs_base_lr=False,
    )
)

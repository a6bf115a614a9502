"""timm 1.0.31 ``WSDLRScheduler``: warmup, stable, decay (shared helpers in ``timm``).

The warmup is always a prefix. With ``t_s = t - warmup_t`` (time since warmup):

- stable: ``max(b * stable(t_s), lr_min)``; ``stable`` is 1 (``'constant'``) or
  ``(1 + t_s / stable_timescale) ** -p`` (``'rsqrt'``: p = 0.5; ``'power'``: p = stable_power),
  ``stable_timescale`` defaulting to ``warmup_t``;
- decay, once ``t_d = t_s - (t_initial - decay_t) > 0``: with ``f = min(t_d / decay_t, 1)``,
  ``lr_min + (stable_lr - lr_min) * d(f)``, ``d`` one of ``'linear'`` ``1 - f``, ``'1-sqrt'``
  ``1 - sqrt(f)``, ``'cosine'`` ``0.5 * (1 + cos(pi f))``, ``'power'`` ``1 - f ** decay_power``,
  ``'exp'`` ``(r ** f - r) / (1 - r)`` with ``r = decay_ratio``.

Example: b=0.1, t_initial=40, decay_t=10, no warmup, '1-sqrt': 0.1 up to t=30, then
0.1 * (1 - sqrt(0.1)) = 0.0683772... at t=31, lr_min = 0 from t=40 on. A callable ``decay_fn``
cannot be given in JSON; the five named functions can.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import model_validator

from warmstep.schedules._core import Curve, EvalContext, FloatArray, Kind, Library
from warmstep.schedules._libm import cos_like_python, pow_like_python
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.timm import TimmParams, timm_curve


class WSDLRSchedulerParams(TimmParams):
    t_initial: int
    decay_t: int
    lr_min: float = 0.0
    stable_fn: Literal["constant", "rsqrt", "power"] = "constant"
    stable_timescale: float | None = None
    stable_power: float = 0.5
    decay_fn: Literal["linear", "1-sqrt", "cosine", "power", "exp"] = "1-sqrt"
    decay_power: float = 0.5
    decay_ratio: float = 0.1

    @model_validator(mode="after")
    def _timm_checks(self) -> WSDLRSchedulerParams:
        timescale = self.warmup_t if self.stable_timescale is None else self.stable_timescale
        checks = [
            (self.t_initial > 0, f"Invalid t_initial ({self.t_initial}), must be > 0."),
            (
                0 < self.decay_t <= self.t_initial,
                f"Invalid decay_t ({self.decay_t}), must be "
                f"in (0, t_initial] w/ t_initial={self.t_initial}.",
            ),
            (self.lr_min >= 0, f"Invalid lr_min ({self.lr_min}), must be >= 0."),
            (
                0.0 < self.decay_ratio < 1.0,
                f"Invalid decay_ratio ({self.decay_ratio}), must be in (0, 1).",
            ),
            (self.decay_power > 0, f"Invalid decay_power ({self.decay_power}), must be > 0."),
            (self.stable_power > 0, f"Invalid stable_power ({self.stable_power}), must be > 0."),
            (
                self.stable_fn == "constant" or timescale > 0,
                f"stable_fn={self.stable_fn} "
                "requires a positive stable_timescale, it defaults to warmup_t "
                f"({self.warmup_t}), set it explicitly when there is no warmup.",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self


def _stable(params: WSDLRSchedulerParams, t_s: FloatArray) -> FloatArray:
    if params.stable_fn == "constant":
        return np.ones_like(t_s)
    timescale = params.warmup_t if params.stable_timescale is None else params.stable_timescale
    power = 0.5 if params.stable_fn == "rsqrt" else params.stable_power
    base = 1.0 + t_s / timescale
    return pow_like_python(base, -power)


def _decay(params: WSDLRSchedulerParams, frac: FloatArray) -> FloatArray:
    match params.decay_fn:
        case "linear":
            return 1.0 - frac
        case "1-sqrt":
            return 1.0 - np.sqrt(frac)
        case "cosine":
            return 0.5 * (1.0 + cos_like_python(np.pi * frac))
        case "power":
            return 1.0 - pow_like_python(frac, params.decay_power)
    ratio = params.decay_ratio
    return (pow_like_python(ratio, frac) - ratio) / (1.0 - ratio)


def _wsd(params: WSDLRSchedulerParams, context: EvalContext) -> Curve:
    def main(t_s: FloatArray) -> FloatArray:
        stable = np.maximum(context.base_lrs[:, None] * _stable(params, t_s), params.lr_min)
        t_decay = t_s - (params.t_initial - params.decay_t)
        decaying = t_decay > 0
        frac = np.minimum(t_decay[decaying] / params.decay_t, 1.0)
        stable[:, decaying] = params.lr_min + (stable[:, decaying] - params.lr_min) * _decay(
            params, frac
        )
        return stable

    def runs(first: int, count: int) -> tuple[list[int], list[FloatArray | None]] | None:
        """A constant stable phase: the value there, the decay computed over its ``decay_t``
        steps, then the value the decay ends on (``frac`` is 1.0 from ``t_initial`` on); each
        constant one is ``main`` at one of its times, so the very same floats."""
        if params.stable_fn != "constant":
            return None
        decaying, final = params.t_initial - params.decay_t + 1, params.t_initial
        starts, values = [], []
        for start, stop in ((first, decaying), (decaying, final), (final, first + count)):
            low, high = max(start, first), min(stop, first + count)
            if high > low:
                starts.append(low - first)
                constant = start != decaying
                values.append(main(np.array([float(low)]))[:, 0] if constant else None)
        return starts, values

    return timm_curve(params, context, main, warmup_prefix=True, runs=runs)


register(
    Kind(
        name="WSDLRScheduler",
        library=Library.TIMM,
        params=WSDLRSchedulerParams,
        evaluate=_wsd,
        doc="timm warmup-stable-decay: linear warmup prefix, stable phase (constant, rsqrt or "
        "power), decay over the last decay_t of t_initial to lr_min (linear, 1-sqrt, cosine, "
        "power, exp), lr_min after. Value i = lr after step_update(num_updates=i) or "
        "step(epoch=i). Scales each group's base lr.",
        needs_base_lr=True,
    )
)

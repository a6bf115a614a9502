"""transformers' metric-driven ``get_greedy_schedule`` (``GreedyLR``).
(``get_reduce_on_plateau_schedule`` returns torch's ReduceLROnPlateau: the torch adapter's.)

It is truly sequential (each decision depends on every metric before it), so it replays the
library's ``step(metric)`` one call per metric, in a compiled loop that performs the library's
float operations (:func:`evaluate_greedy`; :func:`replay_greedy` is the same in Python).
Value 0 is the base lr (the constructor changes nothing); value i is the lr after
``step(metrics[0]) … step(metrics[i-1])``.
Registered by :mod:`warmstep.schedules.adapters.transformers`.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, FloatArray, KindParams

__all__ = ["GreedyParams", "evaluate_greedy", "replay_greedy"]

Mode = Literal["min", "max"]
ThresholdMode = Literal["rel", "abs"]


class GreedyParams(KindParams):
    """``GreedyLR(mode='min', factor=0.95, patience=10, threshold=1e-6, threshold_mode='abs',
    cooldown=0, warmup=0, min_lr=1e-3, max_lr=1.0, eps=1e-8, verbose=False, smooth=False,
    window_size=50, reset_start=500)``: a cooldown or warmup call only counts down (and zeroes the
    good/bad counts); otherwise more than ``patience`` good calls give ``min(lr/factor, max_lr)``
    (then ``warmup`` idle calls), more than ``patience`` bad calls ``max(lr·factor, min_lr)``
    (then ``cooldown`` idle calls). A change smaller than ``eps`` is skipped. After
    ``reset_start`` reductions with every group at min_lr it resets to the initial lrs. ``smooth``
    compares the running mean of the last ``window_size`` metrics. ``verbose`` only prints."""

    mode: Mode = "min"
    factor: float = Field(default=0.95, lt=1.0)
    patience: int = 10
    threshold: float = 1e-6
    threshold_mode: ThresholdMode = "abs"
    cooldown: int = 0
    warmup: int = 0
    min_lr: float | list[float] = 1e-3
    max_lr: float | list[float] = 1.0
    eps: float = 1e-8
    verbose: bool = False
    smooth: bool = False
    window_size: int = 50
    reset_start: int = 500


def _is_better(mode: Mode, threshold_mode: ThresholdMode, th: float, a: float, best: float) -> bool:
    if mode == "min":
        return a < best * (1.0 - th) if threshold_mode == "rel" else a < best - th
    return a > best * (th + 1.0) if threshold_mode == "rel" else a > best + th


def _per_group(value: float | list[float], name: str, context: EvalContext) -> list[float]:
    if isinstance(value, list):
        if len(value) != context.groups:
            raise InvalidArgument(
                f"expected {context.groups} {name}s, got {len(value)}",
                field=f"{context.path}.{name}",
            )
        return [float(v) for v in value]
    return [float(value)] * context.groups


def _metrics(context: EvalContext) -> FloatArray:
    needed = max(context.steps - 1, 0)
    metrics = context.metrics
    if needed and (metrics is None or metrics.shape[0] < needed):
        have = 0 if metrics is None else int(metrics.shape[0])
        raise InvalidArgument(
            f"this schedule is driven by a metric: {context.steps} values need {needed} "
            f"metrics (call i receives metrics[i-1]), got {have}",
            field="metrics",
        )
    return np.asarray([] if metrics is None else metrics[:needed], np.float64)


def _curve(history: list[list[float]], context: EvalContext) -> Curve:
    lr: FloatArray = np.asarray(history, dtype=np.float64).T.reshape(context.groups, -1)
    return Curve(lr=lr[:, : context.steps])


class _Greedy:
    """GreedyLR's state; ``step`` is its ``step(metric)`` without the printing."""

    def __init__(self, params: GreedyParams, context: EvalContext) -> None:
        self.p = params
        self.min_lrs = _per_group(params.min_lr, "min_lr", context)
        self.max_lrs = _per_group(params.max_lr, "max_lr", context)
        self.init_lrs = [float(b) for b in context.base_lrs]
        self.lrs = list(self.init_lrs)
        self.reset_start = params.reset_start
        self._reset_counts()

    def _reset_counts(self) -> None:
        self.best = math.inf if self.p.mode == "min" else -math.inf
        self.bad = self.good = self.cooldown_counter = self.warmup_counter = 0
        self.window: list[float] = []
        self.window_sum = 0.0

    def _smoothed(self, value: float) -> float:
        self.window.append(value)
        self.window_sum += value
        if len(self.window) > self.p.window_size:
            self.window_sum -= self.window.pop(0)
        return self.window_sum / len(self.window)

    def step(self, current: float) -> None:
        p = self.p
        if p.smooth:
            current = self._smoothed(current)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.bad = self.good = 0
            return
        if self.warmup_counter > 0:
            self.warmup_counter -= 1
            self.bad = self.good = 0
            return
        if _is_better(p.mode, p.threshold_mode, p.threshold, current, self.best):
            self.best, self.bad = current, 0
            self.good += 1
        else:
            self.bad += 1
            self.good = 0
        if self.good > p.patience:
            self._increase()
            self.warmup_counter, self.good = p.warmup, 0
        elif self.bad > p.patience:
            self._reduce()
            self.cooldown_counter, self.bad = p.cooldown, 0

    def _reduce(self) -> bool:
        """Returns True when it reset to the initial lrs (and counts)."""
        all_at_min = True
        for g, old in enumerate(self.lrs):
            new = max(old * self.p.factor, self.min_lrs[g])
            if old - new > self.p.eps:
                self.lrs[g] = new
            if self.lrs[g] > self.min_lrs[g]:
                all_at_min = False
        if all_at_min:
            self.reset_start -= 1
            if self.reset_start <= 0:
                self.lrs = list(self.init_lrs)
                self.reset_start = self.p.reset_start
                self._reset_counts()
                return True
        return False

    def _increase(self) -> None:
        for g, old in enumerate(self.lrs):
            new = min(old / self.p.factor, self.max_lrs[g])
            if new - old > self.p.eps:
                self.lrs[g] = new
        self.reset_start = self.p.reset_start


def evaluate_greedy(params: GreedyParams, context: EvalContext) -> Curve:
    """transformers ``GreedyLR.step(metric)`` replayed over the metrics series in a compiled
    loop (:func:`._decision_loops.greedy_curve`, the very same float operations);
    :func:`replay_greedy` is the call-by-call reference, and computes the two argument sets
    whose arithmetic Python refuses (``factor=0``, a smoothing window under 1)."""
    series = _metrics(context)
    state = _Greedy(params, context)  # checks the per-group arguments
    if params.factor == 0.0 or (params.smooth and params.window_size < 1):
        return replay_greedy(params, context)
    from warmstep.schedules.adapters._decision_loops import (
        greedy_curve,  # imports numba: only when needed
    )

    lr = greedy_curve(
        series,
        maximize=params.mode == "max",
        relative=params.threshold_mode == "rel",
        smooth=params.smooth,
        counts=(
            params.patience,
            params.cooldown,
            params.warmup,
            params.reset_start,
            params.window_size if params.smooth else 1,
        ),
        numbers=(params.threshold, params.factor, params.eps),
        min_lrs=np.asarray(state.min_lrs, np.float64),
        max_lrs=np.asarray(state.max_lrs, np.float64),
        init_lrs=np.asarray(state.init_lrs, np.float64),
    )
    return Curve(lr=lr[:, : context.steps])


def replay_greedy(params: GreedyParams, context: EvalContext) -> Curve:
    """transformers ``GreedyLR.step(metric)`` called once per metric (the reference)."""
    state = _Greedy(params, context)
    history = [list(state.lrs)]
    for current in _metrics(context).tolist():
        state.step(current)
        history.append(list(state.lrs))
    return _curve(history, context)

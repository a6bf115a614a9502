"""The metric-driven schedules' decision loops in compiled code: reduce-on-plateau (torch,
transformers, timm) and transformers' GreedyLR.

Each decision depends on every metric before it, so these run one metric at a time, performing
the library's comparisons and float operations in its order
(:func:`warmstep.schedules._loops.compiled`: IEEE float64, no fast-math), ~4 ns a metric
instead of ~60-200 ns in a Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules._loops import compiled

__all__ = ["greedy_curve", "plateau_reductions", "warm"]

IntArray = npt.NDArray[np.int64]


@compiled
def _plateau_reductions(
    values: FloatArray,
    first: int,
    scale: float,
    shift: float,
    patience: int,
    cooldown: int,
    calls: IntArray,
) -> int:
    bound = np.inf * scale - shift
    bad = 0
    cool = 0
    count = 0
    for j in range(values.shape[0]):
        value = values[j]
        if value < bound:
            bad = 0
            bound = value * scale - shift
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            calls[count] = first + j
            count += 1
            cool = cooldown
            bad = 0
    return count


def plateau_reductions(
    values: FloatArray, first: int, scale: float, shift: float, patience: int, cooldown: int
) -> IntArray:
    """Calls at which a reduce-on-plateau scheduler reduces: call ``first + j`` sees
    ``values[j]`` (sign-adjusted: lower is better) and beats the best when it is below
    ``best * scale - shift`` (see :mod:`..adapters._plateau_scan`)."""
    calls = np.empty(values.shape[0], np.int64)
    count = _plateau_reductions(
        values, int(first), float(scale), float(shift), int(patience), int(cooldown), calls
    )
    return calls[:count]


@compiled
def _greedy(
    metrics: FloatArray,
    flags: IntArray,
    counts: IntArray,
    numbers: FloatArray,
    min_lrs: FloatArray,
    max_lrs: FloatArray,
    init_lrs: FloatArray,
    out: FloatArray,
) -> None:
    maximize, relative, smooth = flags[0] != 0, flags[1] != 0, flags[2] != 0
    patience, cooldown, warmup, reset_start, window = (
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
    )
    threshold, factor, eps = numbers[0], numbers[1], numbers[2]
    groups = init_lrs.shape[0]
    lrs = init_lrs.copy()
    ring = np.empty(max(min(window, metrics.shape[0]), 1), np.float64)  # what the window holds
    worst = -np.inf if maximize else np.inf
    best = worst
    bad = good = cool = warm = 0
    held = head = 0
    total = 0.0
    resets_left = reset_start
    for g in range(groups):
        out[g, 0] = lrs[g]
    for i in range(metrics.shape[0]):
        current = metrics[i]
        if smooth:  # append, then drop the oldest past the window: the library's order
            total += current
            if held < window:
                ring[(head + held) % window] = current
                held += 1
            else:
                total -= ring[head]
                ring[head] = current
                head = (head + 1) % window
            current = total / held
        if cool > 0:
            cool -= 1
            bad = good = 0
        elif warm > 0:
            warm -= 1
            bad = good = 0
        else:
            if maximize:
                better = current > (best * (threshold + 1.0) if relative else best + threshold)
            else:
                better = current < (best * (1.0 - threshold) if relative else best - threshold)
            if better:
                best = current
                bad = 0
                good += 1
            else:
                bad += 1
                good = 0
            if good > patience:
                for g in range(groups):
                    old = lrs[g]
                    up = old / factor
                    new = max_lrs[g] if max_lrs[g] < up else up  # Python's min(up, max_lr)
                    if new - old > eps:
                        lrs[g] = new
                resets_left = reset_start
                warm = warmup
                good = 0
            elif bad > patience:
                all_at_min = True
                for g in range(groups):
                    old = lrs[g]
                    down = old * factor
                    new = min_lrs[g] if min_lrs[g] > down else down  # Python's max(down, min_lr)
                    if old - new > eps:
                        lrs[g] = new
                    if lrs[g] > min_lrs[g]:
                        all_at_min = False
                if all_at_min:
                    resets_left -= 1
                    if resets_left <= 0:
                        lrs[:] = init_lrs
                        resets_left = reset_start
                        best = worst
                        good = warm = held = head = 0
                        total = 0.0
                cool = cooldown
                bad = 0
        for g in range(groups):
            out[g, i + 1] = lrs[g]


def greedy_curve(
    metrics: FloatArray,
    *,
    maximize: bool,
    relative: bool,
    smooth: bool,
    counts: tuple[int, int, int, int, int],
    numbers: tuple[float, float, float],
    min_lrs: FloatArray,
    max_lrs: FloatArray,
    init_lrs: FloatArray,
) -> FloatArray:
    """transformers' ``GreedyLR.step(metric)`` once per metric, the lrs after each: shape
    ``(groups, len(metrics) + 1)``, column 0 the initial lrs. ``counts`` is (patience, cooldown,
    warmup, reset_start, window_size), ``numbers`` (threshold, factor, eps). The caller keeps
    ``factor == 0`` (a division by zero) and a smoothing window under 1 for Python."""
    out = np.empty((init_lrs.shape[0], metrics.shape[0] + 1), np.float64)
    _greedy(
        np.ascontiguousarray(metrics, np.float64),
        np.array([maximize, relative, smooth], np.int64),
        np.array(counts, np.int64),
        np.array(numbers, np.float64),
        np.ascontiguousarray(min_lrs, np.float64),
        np.ascontiguousarray(max_lrs, np.float64),
        np.ascontiguousarray(init_lrs, np.float64),
        out,
    )
    return out


def warm() -> None:
    """Compile (or load from the disk cache) both loops."""
    floats = np.zeros(2, np.float64)
    ones = np.ones(1, np.float64)
    plateau_reductions(floats, 1, 1.0, 0.0, 10, 0)
    greedy_curve(
        floats,
        maximize=False,
        relative=False,
        smooth=True,
        counts=(1, 0, 0, 1, 2),
        numbers=(0.0, 0.5, 1e-8),
        min_lrs=ones,
        max_lrs=ones,
        init_lrs=ones,
    )

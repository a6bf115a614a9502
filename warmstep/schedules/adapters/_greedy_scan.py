"""Fast exact replay of transformers' ``GreedyLR`` (see :mod:`._transformers_metric`).

Two parts. The smoothed metric (``smooth=True``): GreedyLR keeps a running sum, adding each
metric and, once the window is full, subtracting the oldest; that is one left-to-right sum of
``[sum, +m_j, -m_{j-w}, +m_{j+1}, ...]``, which ``np.add.accumulate`` computes with the very same
roundings (accumulate is sequential; ``x - y == x + (-y)``); each mean is that sum over the
window length (:func:`window_means`, a chunk at a time since a reset empties the window). The
decisions: a tight Python loop over plain floats (the bound to beat is recomputed only when
``best`` changes, as in :mod:`._plateau_scan`); the lrs change only at increases and reductions,
which the library's own ``_increase`` / ``_reduce`` perform, so the curve is a table of lr
states repeated between those calls.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters._plateau_scan import Threshold

_FIRST_CHUNK, _LAST_CHUNK = 256, 1 << 16


class GreedyState(Protocol):
    """What the fast loop needs of ``_Greedy``: the lrs and the two lr-changing moves."""

    lrs: list[float]

    def _reduce(self) -> bool: ...  # True when it reset to the initial lrs
    def _increase(self) -> None: ...


def window_means(
    metrics: FloatArray, reset_at: int, start: int, stop: int, w: int, total: float
) -> tuple[FloatArray, float]:
    """Means for metrics ``start .. stop-1``, the window filled from ``reset_at`` on and holding
    the running sum ``total`` before ``start``; also the running sum after ``stop-1``."""
    j = np.arange(start, stop)
    count = j - reset_at + 1
    drop = count > w
    drops_before = np.concatenate([[0], np.cumsum(drop)[:-1]])
    add_at = 1 + (j - start) + drops_before
    seq = np.empty(1 + j.shape[0] + int(drop.sum()), np.float64)
    seq[0] = total
    seq[add_at] = metrics[start:stop]
    seq[add_at[drop] + 1] = -metrics[j[drop] - w]
    sums = np.add.accumulate(seq)[add_at + drop]
    return sums / np.minimum(count, w), float(sums[-1])


def greedy_calls(
    state: GreedyState,
    metrics: FloatArray,
    threshold: Threshold,
    *,
    maximize: bool,
    patience: int,
    cooldown: int,
    warmup: int,
    window: int | None,
) -> tuple[list[int], list[list[float]]]:
    """The calls at which the lrs change and the lrs after each (``state`` is advanced)."""
    sign = -1.0 if maximize else 1.0
    scale, shift = threshold.scale(maximize), threshold.shift()
    calls: list[int] = []
    states: list[list[float]] = []
    n = metrics.shape[0]
    position, reset_at, total, chunk = 0, 0, 0.0, _FIRST_CHUNK
    bound = math.inf * scale - shift
    bad = good = cool = warm = 0
    while position < n:
        stop = min(position + chunk, n) if window else n
        if window:
            means, total = window_means(metrics, reset_at, position, stop, window, total)
            values = (sign * means).tolist()
        else:
            values = (sign * metrics[position:stop]).tolist()
        chunk = min(chunk * 2, _LAST_CHUNK)
        restart = stop
        fresh = False
        for i, value in enumerate(values, position):
            if cool > 0:
                cool, bad, good = cool - 1, 0, 0
                continue
            if warm > 0:
                warm, bad, good = warm - 1, 0, 0
                continue
            if value < bound:
                bound, bad, good = value * scale - shift, 0, good + 1
            else:
                bad, good = bad + 1, 0
            if good > patience:
                state._increase()
                warm, good = warmup, 0
            elif bad > patience:
                reset = state._reduce()
                cool, bad = cooldown, 0
                if reset:
                    bound, good, warm = math.inf * scale - shift, 0, 0
                    fresh = bool(window)
            else:
                continue
            calls.append(i + 1)
            states.append(list(state.lrs))
            if fresh:  # the reset emptied the window: smooth afresh from the next metric
                restart, reset_at, total, chunk = i + 1, i + 1, 0.0, _FIRST_CHUNK
                break
        position = restart
    return calls, states

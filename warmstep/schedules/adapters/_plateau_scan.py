"""The decision loop shared by the reduce-on-plateau kinds (torch ReduceLROnPlateau and the
kinds built on it, timm's PlateauLRScheduler), written for speed, and the curve it gives.

Per call ``i`` (receiving ``metric = metrics[i-1]``): ``metric`` is better when it beats
``limit(best)`` (``metric < limit`` for mode min, ``>`` for max); better sets ``best = metric``
and zeroes the bad count, otherwise the count grows; during cooldown the count is zeroed; a
count above ``patience`` is a reduction (then the cooldown starts). It is sequential by nature,
so it stays a Python loop, but a tight one: the bound is recomputed only when ``best`` changes
(the same float as the library's, see :class:`Threshold`), max mode compares the negated values
(``-a < -l`` exactly when ``a > l``, NaN included), and only the reductions are recorded; the
curve is then a table of levels repeated between them (:func:`levels_curve`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from warmstep.schedules._core import FloatArray


@dataclass(frozen=True)
class Threshold:
    """``rel``: better means ``a < best*(1-t)`` (min) / ``a > best*(t+1)`` (max); ``abs``:
    ``a < best-t`` / ``a > best+t``. On negated values (max mode) both read ``-a < -best*s``
    resp. ``-a < -best-t``: the bound of a (sign-adjusted) best ``v`` is ``v*scale - shift``,
    exactly the library's float (negation is exact; ``x*1.0`` and ``x-0.0`` are ``x``)."""

    value: float
    relative: bool

    def scale(self, maximize: bool) -> float:
        if not self.relative:
            return 1.0
        return self.value + 1.0 if maximize else 1.0 - self.value

    def shift(self) -> float:
        return 0.0 if self.relative else self.value


def reduction_calls(
    metrics: FloatArray,
    first: int,
    threshold: Threshold,
    *,
    maximize: bool,
    patience: int,
    cooldown: int,
) -> list[int]:
    """Calls ``i >= first`` (call i receives ``metrics[i-1]``) at which a reduction happens."""
    values = (-metrics if maximize else metrics)[max(first - 1, 0) :].tolist()
    scale, shift = threshold.scale(maximize), threshold.shift()
    bound = math.inf * scale - shift
    bad = cool = 0
    calls: list[int] = []
    for i, value in enumerate(values, max(first, 1)):
        if value < bound:
            bad = 0
            bound = value * scale - shift
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            calls.append(i)
            cool = cooldown
            bad = 0
    return calls


def levels_curve(
    levels: FloatArray | list[list[float]], calls: list[int], steps: int
) -> FloatArray:
    """Per group, ``levels[g][k]`` from call ``calls[k-1]`` (level 0 from index 0) on:
    shape ``(groups, steps)``; calls at or past ``steps`` are ignored."""
    kept = [c for c in calls if c < steps]
    table = np.asarray(levels, np.float64)[:, : len(kept) + 1]
    bounds = np.asarray([0, *kept, steps], np.int64)
    return np.repeat(table, np.diff(bounds), axis=1)

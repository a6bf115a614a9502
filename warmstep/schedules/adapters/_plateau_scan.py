"""The decision loop shared by the reduce-on-plateau kinds (torch ReduceLROnPlateau and the
kinds built on it, timm's PlateauLRScheduler), written for speed, and the curve it gives.

Per call ``i`` (receiving ``metric = metrics[i-1]``): ``metric`` is better when it beats
``limit(best)`` (``metric < limit`` for mode min, ``>`` for max); better sets ``best = metric``
and zeroes the bad count, otherwise the count grows; during cooldown the count is zeroed; a
count above ``patience`` is a reduction (then the cooldown starts). It is sequential by nature,
so it runs as a compiled loop (:func:`._decision_loops.plateau_reductions`): the bound
is recomputed only when ``best`` changes (the same float as the library's, see
:class:`Threshold`), max mode compares the negated values (``-a < -l`` exactly when ``a > l``,
NaN included), and only the reductions are recorded; the curve is then a table of levels
repeated between them (:func:`levels_curve`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray

IntArray = npt.NDArray[np.int64]


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
) -> IntArray:
    """Calls ``i >= first`` (call i receives ``metrics[i-1]``) at which a reduction happens."""
    from warmstep.schedules.adapters._decision_loops import (
        plateau_reductions,  # imports numba: only when needed
    )

    start = max(first, 1)
    values = metrics[start - 1 :]
    values = -values if maximize else np.ascontiguousarray(values, np.float64)
    return plateau_reductions(
        values, start, threshold.scale(maximize), threshold.shift(), patience, cooldown
    )


def reduced_levels(start: float, count: int, reduce: Callable[[float], float]) -> list[float]:
    """``[start, reduce(start), reduce(reduce(start)) ...]``, ``count`` reductions in all.

    ``reduce`` is a function of the lr alone, so once it gives back the very same float (the lr
    has reached its floor, or a step smaller than eps is refused) every later level is that
    float: the levels past that point are copies, whatever the number of reductions.
    """
    levels = [start]
    while len(levels) <= count:
        old = levels[-1]
        new = reduce(old)
        if new == old and math.copysign(1.0, new) == math.copysign(1.0, old):
            break
        levels.append(new)
    levels.extend([levels[-1]] * (count + 1 - len(levels)))
    return levels


def levels_curve(
    levels: FloatArray | list[list[float]], calls: Sequence[int] | IntArray, steps: int
) -> FloatArray:
    """Per group, ``levels[g][k]`` from call ``calls[k-1]`` (level 0 from index 0) on:
    shape ``(groups, steps)``; calls (increasing) at or past ``steps`` are ignored."""
    at = np.asarray(calls, np.int64)
    kept = at[: int(np.searchsorted(at, steps))]
    table = np.asarray(levels, np.float64)[:, : kept.shape[0] + 1]
    bounds = np.concatenate([[0], kept, [steps]])
    return np.repeat(table, np.diff(bounds), axis=1)

"""Fast path for a chainable scheduler used on its own: its curve as a few multiplications.

A leaf that is the whole schedule receives ``step()`` at every index after construction, so
its calls are known in advance. For the chainable kinds each call is ``lr *= f`` and most
factors are exactly 1.0 (StepLR decays once every ``step_size`` calls), and ``x * 1.0 == x``
for every float, so only the calls whose factor may differ from 1 matter. :class:`Multipliers`
lists them (call index, factor) and :func:`expand_into` multiplies them left to right with
``np.multiply.accumulate`` (sequential: the very roundings torch's loop makes) and repeats each
running product until the next one. Example: StepLR(step_size=2, gamma=0.5), b=1, 6 values:
factors 0.5 at calls 1 and 3, table [1, 0.5, 0.25], curve 1, 1, 0.5, 0.5, 0.25, 0.25.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters.torch._ops import IntArray


@dataclass(frozen=True)
class Multipliers:
    """``lr *= factors[:, j]`` at call ``calls[j]`` (0-based, increasing, call ``i`` gives value
    ``i+1``); ``calls`` None means one factor per call, in order; ``written``: ``lr = ...``
    instead (only with ``calls`` None)."""

    calls: IntArray | None
    factors: FloatArray
    written: bool = False  # the factors are the lrs each call writes (LambdaLR), not factors


FOLD_MIN_CALLS = 1 << 14  # one factor per call from here on: a compiled fold, not numpy's
FILLED_RUNS = 64  # at most this many runs of one value are written as fills, not np.repeat


def expand_into(lr0: FloatArray, mult: Multipliers, out: FloatArray) -> None:
    """``out`` (groups x steps): ``lr0`` at index 0, then the lr after each call."""
    groups, steps, count = lr0.shape[0], out.shape[1], mult.factors.shape[1]
    if steps == 0:
        return
    if not mult.written and count >= FOLD_MIN_CALLS and _from_first_call(mult.calls):
        # a factor at each of the first ``count`` calls (a ramp, or every call), then none
        _folded(lr0, mult.factors, out[:, : count + 1])
        out[:, count + 1 :] = out[:, count : count + 1]
        return
    table = np.empty((groups, count + 1), np.float64)
    table[:, 0] = lr0
    table[:, 1:] = mult.factors
    if mult.written and mult.calls is None:
        out[:] = table[:, :steps]
        return
    np.multiply.accumulate(table, axis=1, out=table)  # sequential, in place
    if mult.calls is None:
        out[:] = table[:, :steps]
        return
    if count >= FILLED_RUNS:
        bounds = np.concatenate([[0], mult.calls + 1, [steps]])
        out[:] = np.repeat(table, np.diff(bounds), axis=1)
        return
    for j, (lo, hi) in enumerate(itertools.pairwise([0, *(mult.calls + 1).tolist(), steps])):
        out[:, lo:hi] = table[:, j : j + 1]


def _from_first_call(calls: IntArray | None) -> bool:
    """Whether the factors are at calls ``0, 1, ..., count - 1`` (every call: ``calls`` None,
    one factor per call)."""
    if calls is None:
        return True
    count = calls.shape[0]
    if int(calls[0]) != 0 or int(calls[-1]) != count - 1:
        return False
    return bool(np.array_equal(calls, np.arange(count)))  # (calls may repeat one index)


def epochs_hit(epochs: IntArray, total: int) -> IntArray:
    """Call indices of the epochs (>= 1) reached by ``total`` calls (epoch e is call e-1)."""
    return epochs[(epochs >= 1) & (epochs <= total)] - 1


def _folded(lr0: FloatArray, factors: FloatArray, out: FloatArray) -> None:
    """A factor at every call, multiplied in one compiled loop per group (the same roundings
    as ``np.multiply.accumulate``, at half its cost: the loop carries the lr in a register)."""
    from warmstep.schedules.adapters.torch._fold_loop import chained_multipliers  # numba

    out[:, 0] = lr0
    for g in range(lr0.shape[0]):
        row = factors[min(g, factors.shape[0] - 1)]
        chained_multipliers(float(lr0[g]), [(None, row, False)], out[g, 1:])

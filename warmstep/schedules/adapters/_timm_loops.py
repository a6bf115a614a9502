"""timm's cycled cosine (``CosineLRScheduler``) in compiled code, on every core.

With ``cycle_mul`` 1 and ``k_decay`` 1 (timm's defaults) the value at time ``t`` is
``lr_min + span_i * (1 + cos(pi * t_curr / t_initial))`` with ``i = t // t_initial``,
``t_curr = t - t_initial * i`` (ints, as timm's are: ``t_curr ** 1.0`` is ``float(t_curr)``)
and ``span_i = 0.5 * (lr_max_i - lr_min)`` per group, ``lr_min`` itself from cycle
``cycle_limit`` on: timm's own float operations in its order, with the C library's ``cos``
(:func:`warmstep.schedules._cosine.c_cos_into`: its values, mostly without the call). Each
chunk lies in one cycle: its angles, then its cosines, then each group's stores, the passes
without a call vectorized. Imported on first use (numba); :func:`warm` compiles or loads the
loop ahead of time.

Example: ``t_initial`` 4, ``lr_min`` 0, span 0.05 (a base lr of 0.1), times 0 .. 4:
``0.1, 0.085355..., 0.05, 0.014644..., 0.1`` (the second cycle starts at t = 4).
"""

from __future__ import annotations

import math

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, compiled
from warmstep.schedules._parallel import in_slices

__all__ = ["cosine_cycles", "warm"]


@compiled
def _cosine_cycles(
    lo: int,
    hi: int,
    first: int,
    period: int,
    lr_min: float,
    first_cycle: int,
    spans: FloatArray,
    limit: int,
    column: int,
    out: FloatArray,
) -> None:
    """Times ``first + lo .. first + hi - 1`` into columns ``column + lo ..`` of ``out``;
    ``spans[g, c]`` is group ``g``'s span in cycle ``first_cycle + c``."""
    angles, cosines = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    todo = np.empty(CHUNK, np.int64)
    position = lo
    while position < hi:
        t = first + position
        cycle = t // period
        stop = min(hi, position + CHUNK, (cycle + 1) * period - first)
        m = stop - position
        start = column + position
        if cycle >= limit:
            for g in range(out.shape[0]):
                row = out[g, start : start + m]
                for j in range(m):
                    row[j] = lr_min
        else:
            offset = t - period * cycle
            for j in range(m):
                angles[j] = math.pi * float(offset + j) / float(period)
            c_cos_into(angles, cosines, m, todo)
            for g in range(out.shape[0]):
                span = spans[g, cycle - first_cycle]
                row = out[g, start : start + m]
                for j in range(m):
                    row[j] = lr_min + span * (1 + cosines[j])
        position = stop


def cosine_cycles(
    first: int,
    count: int,
    period: int,
    lr_min: float,
    first_cycle: int,
    spans: FloatArray,
    limit: int,
    out: FloatArray,
    column: int,
) -> None:
    """The main curve at the ``count`` times ``first, first + 1, ...`` (``first >= 0``,
    ``period >= 1``) into columns ``column ..`` of ``out`` (C-contiguous, groups x steps), on
    every core; ``spans`` as in :func:`_cosine_cycles`, covering every cycle below ``limit``
    that the times reach."""
    in_slices(
        lambda lo, hi: _cosine_cycles(
            lo, hi, first, period, lr_min, first_cycle, spans, limit, column, out
        ),
        count,
    )


def warm() -> None:
    """Compile (or load from the disk cache) this module's loop."""
    cosine_cycles(0, 3, 2, 0.0, 0, np.ones((1, 2)), 1, np.empty((1, 3)), 0)

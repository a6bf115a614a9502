"""detectron2's ``LRMultiplier`` over fvcore's linear and cosine schedulers in compiled code,
on every core.

Value ``i`` of group ``g`` is ``base_lr[g] * scheduler(where)`` with ``where = i / max_iter``
(the correctly rounded quotient, as Python's ``/`` of two ints below 2**53): fvcore's
``end * where + start * (1 - where)`` (LinearParamScheduler) or ``end + 0.5 * (start - end) *
(1 + cos(pi * where))`` (CosineParamScheduler), float64 in fvcore's order, with the C library's
``cos`` (:func:`warmstep.schedules._cosine.c_cos_into`: its values, mostly without the call).
Neither raises at any ``where``. A chunk at a time: the scheduler's values, then each group's
stores. Imported on first use (numba); :func:`warm` compiles or loads the loop ahead of time.

Example: LinearParamScheduler(start_value=1, end_value=0), max_iter 4, base lr 0.5, 5 steps:
``0.5, 0.375, 0.25, 0.125, 0.0``.
"""

from __future__ import annotations

import math

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, compiled
from warmstep.schedules._parallel import in_slices

__all__ = ["SHAPES", "lr_multiplier", "warm"]

LINEAR, COSINE = 0, 1
SHAPES = {"linear": LINEAR, "cosine": COSINE}


@compiled
def _lr_multiplier(
    lo: int,
    hi: int,
    shape: int,
    start_value: float,
    end_value: float,
    max_iter: int,
    bases: FloatArray,
    out: FloatArray,
) -> None:
    values, angles = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    todo = np.empty(CHUNK, np.int64)
    divisor = float(max_iter)
    half_range = 0.5 * (start_value - end_value)
    for first in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - first)
        if shape == LINEAR:
            for j in range(m):
                where = float(first + j) / divisor
                values[j] = end_value * where + start_value * (1.0 - where)
        else:
            for j in range(m):
                angles[j] = math.pi * (float(first + j) / divisor)
            c_cos_into(angles, values, m, todo)
            for j in range(m):
                values[j] = end_value + half_range * (1.0 + values[j])
        for g in range(out.shape[0]):
            base = bases[g]
            row = out[g, first : first + m]
            for j in range(m):
                row[j] = base * values[j]


def lr_multiplier(
    scheduler: tuple[str, float, float], max_iter: int, bases: FloatArray, out: FloatArray
) -> None:
    """``out[g, i] = bases[g] * scheduler(i / max_iter)`` for ``scheduler`` = (its shape, one of
    :data:`SHAPES`; its start value; its end value); ``out`` C-contiguous (groups x steps),
    ``max_iter >= 1``."""
    shape_name, start, end = scheduler
    shape = SHAPES[shape_name]
    in_slices(
        lambda lo, hi: _lr_multiplier(lo, hi, shape, start, end, max_iter, bases, out),
        out.shape[1],
    )


def warm() -> None:
    """Compile (or load from the disk cache) this module's loop."""
    for shape in SHAPES:
        lr_multiplier((shape, 1.0, 0.0), 4, np.ones(1), np.empty((1, 5)))

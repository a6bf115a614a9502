"""detectron2's ``WarmupCosineLR`` after its warmup in compiled code, on every core.

There the warmup factor is 1 and ``base_lr * 1.0`` is ``base_lr``, so get_lr's ``base_lr *
warmup_factor * 0.5 * (1.0 + math.cos(math.pi * i / max_iters))`` is ``(base_lr * 0.5) * (1.0 +
cos(pi * i / max_iters))``: per chunk the angles ``(pi * i) / max_iters``, their cosines with the
C library's values (:func:`warmstep.schedules._cosine.c_cos_into`, mostly without the call),
then each group's products. Imported on first use (numba); :func:`warm` compiles or loads the
loop ahead of time.

Example: max_iters 4, base lr 1, steps 0-4 (after a warmup of 0 steps): ``1, 0.854, 0.5,
0.146, 0``.
"""

from __future__ import annotations

import math

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, compiled
from warmstep.schedules._parallel import in_slices

__all__ = ["cosine_after_warmup", "warm"]


@compiled
def _cosine(lo: int, hi: int, max_iters: int, halves: FloatArray, out: FloatArray) -> None:
    angles, values = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    divisor = float(max_iters)
    for first in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - first)
        for j in range(m):
            angles[j] = math.pi * float(first + j) / divisor
        c_cos_into(angles, values, m)
        for g in range(out.shape[0]):
            half = halves[g]
            row = out[g, first : first + m]
            for j in range(m):
                row[j] = half * (1.0 + values[j])


def cosine_after_warmup(first: int, max_iters: int, bases: FloatArray, out: FloatArray) -> None:
    """``out[g, i] = (bases[g] * 0.5) * (1.0 + cos(pi * i / max_iters))`` for the steps ``i``
    from ``first`` to the end of ``out`` (C-contiguous, groups x steps; ``max_iters != 0``)."""
    halves = np.ascontiguousarray(bases, np.float64) * 0.5

    def work(lo: int, hi: int) -> None:
        _cosine(first + lo, first + hi, max_iters, halves, out)

    in_slices(work, out.shape[1] - first)


def warm() -> None:
    """Compile (or load from the disk cache) this module's loop."""
    cosine_after_warmup(0, 4, np.ones(1), np.empty((1, 5)))

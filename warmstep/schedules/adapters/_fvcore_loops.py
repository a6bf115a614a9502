"""detectron2's ``LRMultiplier`` over fvcore's schedulers in compiled code, on every core.

Value ``i`` of group ``g`` is ``base_lr[g] * scheduler(where)`` with ``where = i / max_iter``
(the correctly rounded quotient, as Python's ``/`` of two ints below 2**53). The curve comes as
:class:`~warmstep.schedules.adapters._param_scheduler.Span` s: consecutive steps served by one
scheduler, at ``where`` or, inside a composite's 'rescaled' part, at ``(where - offset) /
length``. A span's scheduler is one of :data:`SHAPES`, in fvcore's float64 order:

- linear ``(start, end)``: ``end * where + start * (1 - where)``;
- cosine ``(start, end)``: ``end + 0.5 * (start - end) * (1 + cos(pi * where))``, with the C
  library's ``cos`` (:func:`warmstep.schedules._cosine.c_cos_into`: its values, mostly without
  the call);
- constant ``(value, _)``: ``value``; fvcore raises from ``where >= 1``;
- exponential ``(start, decay)``: ``start * decay ** where``;
- polynomial ``(base, power)``: ``base * (1 - where) ** power``; the powers with the C
  library's ``pow`` (:func:`warmstep.schedules._loops.c_pow`), the function Python's ``**``
  calls.

Where fvcore would raise, or Python's ``**`` would treat a power specially (a base that is not
positive and finite, a result that is not a normal float or zero), the pass stops and answers
False: the caller then evaluates fvcore's way, which raises or computes those values as Python
does. A chunk at a time: the progress, the scheduler's values, then each group's stores.
Imported on first use (numba); :func:`warm` compiles or loads the loops ahead of time.

A step-shaped scheduler's span (:class:`~warmstep.schedules.adapters._param_scheduler.Pieces`)
is written as fills instead, :func:`pieces_filled`: from the start of each piece, the index at
1, 2, 4, … steps on until it differs, then bisection for the first step where it does (the
index never falls), then one fill per group; a few dozen looks at the index per piece.

Example: LinearParamScheduler(start_value=1, end_value=0), max_iter 4, base lr 0.5, 5 steps:
``0.5, 0.375, 0.25, 0.125, 0.0``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import (
    CHUNK,
    SMALLEST_NORMAL,
    c_pow,
    c_pow_into,
    compiled,
    inlined,
)
from warmstep.schedules._parallel import in_slices
from warmstep.schedules.adapters._param_scheduler import WHERE_EPSILON, Pieces, Span

__all__ = ["SHAPES", "lr_multiplier", "pieces_filled", "warm"]

LINEAR, COSINE, CONSTANT, EXPONENTIAL, POLYNOMIAL = 0, 1, 2, 3, 4
SHAPES = {
    "linear": LINEAR,
    "cosine": COSINE,
    "constant": CONSTANT,
    "exponential": EXPONENTIAL,
    "polynomial": POLYNOMIAL,
}


@compiled
def _span(
    lo: int,
    hi: int,
    shape: int,
    a: float,
    b: float,
    max_iter: int,
    rescaled: bool,
    offset: float,
    length: float,
    bases: FloatArray,
    out: FloatArray,
    failed: npt.NDArray[np.bool_],
) -> None:
    where, values = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    divisor = float(max_iter)
    half_range = 0.5 * (a - b)
    finite_b = -np.inf < b < np.inf
    for first in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - first)
        for j in range(m):
            where[j] = float(first + j) / divisor
        if rescaled:
            for j in range(m):
                where[j] = (where[j] - offset) / length
        bad = False
        if shape == LINEAR:
            for j in range(m):
                values[j] = b * where[j] + a * (1.0 - where[j])
        elif shape == COSINE:
            for j in range(m):
                where[j] = math.pi * where[j]
            c_cos_into(where, values, m)
            for j in range(m):
                values[j] = b + half_range * (1.0 + values[j])
        elif shape == CONSTANT:
            for j in range(m):
                bad |= where[j] >= 1.0
                values[j] = a
        elif shape == EXPONENTIAL:
            bad = not (0.0 < b < np.inf)
            for j in range(m):
                power = c_pow(b, where[j])
                bad |= not (SMALLEST_NORMAL <= power < np.inf or power == 0.0)
                values[j] = a * power
        else:  # POLYNOMIAL
            for j in range(m):
                where[j] = 1.0 - where[j]
                bad |= not (0.0 < where[j] < np.inf and finite_b)
            if not bad:
                c_pow_into(where, b, values, m)
                for j in range(m):
                    power = values[j]
                    bad |= not (SMALLEST_NORMAL <= power < np.inf or power == 0.0)
                    values[j] = a * power
        if bad:
            failed[0] = True
            return
        for g in range(out.shape[0]):
            base = bases[g]
            row = out[g, first : first + m]
            for j in range(m):
                row[j] = base * values[j]


def lr_multiplier(spans: Sequence[Span], max_iter: int, bases: FloatArray, out: FloatArray) -> bool:
    """``out[g, i] = bases[g] * scheduler(i / max_iter)`` over each span's steps, ``out``
    C-contiguous (groups x steps), ``max_iter >= 1``. False where fvcore would raise or Python
    compute a power specially somewhere (``out`` then partly written)."""
    failed = np.zeros(1, np.bool_)
    for span in spans:
        _span_pass(span, max_iter, bases, out, failed)
        if failed[0]:
            return False
    return True


def _span_pass(
    span: Span, max_iter: int, bases: FloatArray, out: FloatArray, failed: npt.NDArray[np.bool_]
) -> None:
    shape = SHAPES[span.shape]

    def work(lo: int, hi: int) -> None:
        _span(
            span.lo + lo,
            span.lo + hi,
            shape,
            span.a,
            span.b,
            max_iter,
            span.rescaled,
            span.offset,
            span.length,
            bases,
            out,
            failed,
        )

    in_slices(work, span.hi - span.lo)


# How a span's step becomes its piece index (:meth:`Pieces.index_of` with the span's progress):
# max_iter, rescaled, offset, length, scale, milestones, searched (whether there are milestones)
IndexArithmetic = tuple[int, bool, float, float, float, FloatArray, bool]


@inlined
def _piece_index(step: int, arithmetic: IndexArithmetic) -> float:
    """:meth:`Pieces.index_of` at one step, as a float (a list index past the end or below 0
    is not converted)."""
    max_iter, rescaled, offset, length, scale, milestones, searched = arithmetic
    where = step / max_iter
    if rescaled:
        where = (where - offset) / length
    epoch = math.trunc((where + WHERE_EPSILON) * scale)
    if searched:
        return float(np.searchsorted(milestones, epoch, side="right"))
    return epoch


@compiled
def _pieces(
    lo: int,
    hi: int,
    arithmetic: IndexArithmetic,
    values: FloatArray,
    bases: FloatArray,
    out: FloatArray,
    most: int,
) -> bool:
    start = lo
    index = _piece_index(start, arithmetic)
    pieces = 0
    while start < hi:
        pieces += 1
        if not 0.0 <= index < values.shape[0] or pieces > most:
            return False
        same, step = start, 1  # same: the last step known to have this index
        while True:
            other = min(same + step, hi)
            if other == hi or _piece_index(other, arithmetic) != index:
                break
            same, step = other, 2 * step
        while other - same > 1:  # the first step with another index is in (same, other]
            middle = (same + other) // 2
            if _piece_index(middle, arithmetic) == index:
                same = middle
            else:
                other = middle
        for g in range(bases.shape[0]):
            value = bases[g] * values[int(index)]  # base_lr * scheduler(where)
            run = out[g, start:other]  # (indices from 0 vectorize; from start they do not)
            for i in range(run.shape[0]):
                run[i] = value
        start = other
        if start < hi:
            index = _piece_index(start, arithmetic)
    return True


def pieces_filled(
    span: Span, pieces: Pieces, max_iter: int, bases: FloatArray, out: FloatArray, most: int
) -> bool:
    """``out[:, span.lo:span.hi]`` as fills of ``pieces`` (``bases`` float64, ``out``
    C-contiguous); False (``out`` then partly written) where the index leaves ``values``
    somewhere or there are more than ``most`` pieces. ``pieces.where_ok`` is the caller's."""
    searched = pieces.milestones is not None
    milestones = pieces.milestones if pieces.milestones is not None else np.empty(0)
    arithmetic = (
        int(max_iter),
        bool(span.rescaled),
        float(span.offset),
        float(span.length),
        float(pieces.scale),
        milestones,
        searched,
    )
    return bool(_pieces(int(span.lo), int(span.hi), arithmetic, pieces.values, bases, out, most))


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops."""
    for shape in SHAPES:
        lr_multiplier([Span(0, 5, shape, 1.0, 0.5)], 4, np.ones(1), np.empty((1, 5)))
    for milestones in (None, np.array([2.0])):
        pieces = Pieces(4.0, milestones, np.array([1.0, 0.5, 0.25, 0.125, 0.0625]))
        span = Span(0, 5, "pieces", 0.0, 0.0, pieces=pieces)
        pieces_filled(span, pieces, 4, np.ones(1), np.empty((1, 5)), 8)

"""timm's cycled cosine, poly and tanh curves (``CosineLRScheduler``, ``PolyLRScheduler``,
``TanhLRScheduler``) in compiled code, on every core.

With ``cycle_mul`` 1 and ``k_decay`` 1 (timm's defaults) the value at time ``t`` is
``lr_min + span_i * term`` with ``i = t // t_initial``, ``t_curr = t - t_initial * i`` (ints,
as timm's are: ``t_curr ** 1.0`` is ``float(t_curr)``), the cosine's ``term = 1 + cos(pi *
t_curr / t_initial)`` and ``span_i = 0.5 * (lr_max_i - lr_min)``, the poly's ``term = (1 -
t_curr / t_initial) ** power`` and ``span_i = lr_max_i - lr_min``, the tanh's ``term = 1 -
tanh(lb * (1.0 - tr) + ub * tr)`` (``tr = t_curr / t_initial``) and the cosine's span, per
group; ``lr_min`` itself from cycle ``cycle_limit`` on: timm's own float operations in its
order, with the C library's ``cos``, ``pow`` and ``tanh``
(:func:`warmstep.schedules._cosine.c_cos_into`, :func:`warmstep.schedules._loops.c_pow_into`,
:func:`warmstep.schedules._tanh.c_tanh_into`: their values, mostly or all without the call).
Each chunk lies in one cycle: its arguments, then its cosines, powers or tanhs, then each
group's stores, every pass vectorized. Imported on first use (numba); :func:`warm` compiles or
loads the loops ahead of time.

Example: ``t_initial`` 4, ``lr_min`` 0, span 0.05 (a base lr of 0.1), times 0 .. 4:
``0.1, 0.085355..., 0.05, 0.014644..., 0.1`` (the second cycle starts at t = 4).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._libm import python_pow
from warmstep.schedules._loops import CHUNK, SMALLEST_NORMAL, c_pow_into, compiled
from warmstep.schedules._parallel import in_slices
from warmstep.schedules._tanh import c_tanh_into, emulation_agrees

__all__ = ["SHAPES", "cycles", "warm", "warmup_ramp"]


COSINE, POLY, TANH = 0, 1, 2  # the curve's shape inside a cycle
SHAPES = {"cosine": COSINE, "poly": POLY, "tanh": TANH}


@compiled
def _cycles(
    lo: int,
    hi: int,
    first: int,
    period: int,
    shape: int,
    a: float,
    b: float,
    lr_min: float,
    first_cycle: int,
    spans: FloatArray,
    limit: int,
    column: int,
    out: FloatArray,
    python: npt.NDArray[np.bool_],
    emulated: bool,
) -> int:
    """Times ``first + lo .. first + hi - 1`` into columns ``column + lo ..`` of ``out``;
    ``spans[g, c]`` is group ``g``'s span in cycle ``first_cycle + c``. POLY: ``a`` is the
    power, and ``python[i]`` marks a time whose power Python must compute (a result that is not
    a normal float); TANH: ``a`` and ``b`` are ``lb`` and ``ub``, and ``emulated`` says whether
    :func:`warmstep.schedules._tanh.c_tanh_into` may compute ``tanh`` without the call.
    Returns how many times it marked in ``python``."""
    terms, values = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    marked = 0
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
            if shape == POLY:  # every flag is written (the array comes uncleared)
                python[position:stop] = False
            position = stop
            continue
        offset = t - period * cycle
        if shape == COSINE:  # 1 + cos(pi * t_curr / t_i)
            for j in range(m):
                values[j] = math.pi * float(offset + j) / float(period)
            c_cos_into(values, terms, m)
            for j in range(m):
                terms[j] = 1 + terms[j]
        elif shape == POLY:  # (1 - t_curr / t_i) ** power, the C library's pow
            for j in range(m):
                values[j] = 1 - float(offset + j) / float(period)
            c_pow_into(values, a, terms, m)
            flags = python[position:stop]
            for j in range(m):  # (& and | not and / or: no branches)
                term = terms[j]
                flag = not (((term >= SMALLEST_NORMAL) & (term < np.inf)) | (term == 0.0))
                flags[j] = flag
                marked += flag
        else:  # 1 - tanh(lb * (1.0 - tr) + ub * tr), tr = t_curr / t_i
            for j in range(m):
                tr = float(offset + j) / float(period)
                values[j] = a * (1.0 - tr) + b * tr
            c_tanh_into(values, terms, m, emulated)
            for j in range(m):
                terms[j] = 1 - terms[j]
        for g in range(out.shape[0]):
            span = spans[g, cycle - first_cycle]
            row = out[g, start : start + m]
            for j in range(m):
                row[j] = lr_min + span * terms[j]
        position = stop
    return marked


def cycles(
    first: int,
    count: int,
    period: int,
    shape_name: str,
    arguments: tuple[float, float],
    lr_min: float,
    spans: tuple[int, FloatArray],
    limit: int,
    out: FloatArray,
    column: int,
) -> None:
    """The main curve (``shape_name`` one of :data:`SHAPES`) at the ``count`` times ``first,
    first + 1, ...`` (``first >= 0``, ``period >= 1``) into columns ``column ..`` of ``out``
    (C-contiguous, groups x steps), on every core. ``spans``: the first cycle's index and each
    group's span in it and the next ones, covering every cycle below ``limit`` that the times
    reach. POLY's powers that are not a normal float (nor 0) are Python's own, raising what it
    raises, in time order."""
    first_cycle, table = spans
    shape = SHAPES[shape_name]
    python = np.empty(count if shape == POLY else 0, np.bool_)  # _cycles writes each flag
    marked: list[int] = []  # per slice (list.append is atomic)
    emulated = shape == TANH and emulation_agrees()
    in_slices(
        lambda lo, hi: marked.append(
            _cycles(
                lo,
                hi,
                first,
                period,
                shape,
                arguments[0],
                arguments[1],
                lr_min,
                first_cycle,
                table,
                limit,
                column,
                out,
                python,
                emulated,
            )
        ),
        count,
    )
    for i in np.flatnonzero(python).tolist() if any(marked) else ():
        t = first + i
        cycle = t // period
        term = python_pow(1 - float(t - period * cycle) / float(period), arguments[0])
        out[:, column + i] = lr_min + table[:, cycle - first_cycle] * term


@compiled
def warmup_ramp(init: float, slopes: FloatArray, out: FloatArray, count: int) -> None:
    """timm's warmup, ``warmup_lr_init + t * warmup_steps[g]`` for ``t < count``, into columns
    ``0 .. count - 1`` of each row ``g`` of ``out``: one pass (numpy's expression makes three
    and two temporaries), the same two roundings per value."""
    for g in range(out.shape[0]):
        slope = slopes[g]
        row = out[g, :count]
        for t in range(count):
            row[t] = init + float(t) * slope


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops."""
    for shape in SHAPES:
        cycles(0, 3, 2, shape, (0.5, 1.0), 0.0, (0, np.ones((1, 2))), 1, np.empty((1, 3)), 0)
    warmup_ramp(0.0, np.ones(1), np.empty((1, 3)), 3)

"""The C library's ``cos`` over arrays, most values without calling it: bit for bit the floats
``math.cos`` returns, in about half the time.

A cosine schedule spends most of its time in ``cos`` (~4.4 ns a call here). glibc's ``cos``
errs by at most 0.518 ulp (its ``s_sin.c``: "Max ULP is 0.501 if |x| < 0.126, otherwise ULP is
0.518"), so wherever the exact cosine lies closer than 0.482 ulp to a float, that float is what
``cos`` returns: no other float is within 0.518 ulp of the exact value. :func:`c_cos_into`
computes the cosine to ~2^-69 absolute, enough to see where it lies, and keeps the float where
it lies more than 0.02 ulp (plus its own error) inside that reach; ~4% of the values, those
closer to a halfway point, still call ``cos``.

How: the arguments of a schedule's cosines come in runs that climb or fall slowly (``π·step/T``
and the like), so a run of them shares one point ``t = j/1024`` of a table of ``cos t`` and
``sin t`` to ~2^-108 (each a pair of floats, made at import with :mod:`decimal`): each
``x = t + d`` with ``0 <= d < 2^-9`` (``d`` exact: ``t`` is a multiple of ``x``'s last bit),
and ``cos x = cos t - sin t·d - cos t·(1 - cos d) - sin t·(sin d - d)``. The first two terms are
summed exactly (a fused multiply-add gives the product's rounding error, a two-sum the sum's),
the small rest from short Taylor series of ``d``. Branch-free, so a run of arguments is one
vectorized pass; a run is as long as its spread allows (half the reach, so that every value of
an evenly spaced run lies within reach of the point below its lowest), in whole vectors.
Arguments outside ``[0, 3.2]``, runs spread wider than the table's reach and every value where
the C library is not glibc 2.28 or later call ``cos`` itself.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import numpy.typing as npt

from warmstep.schedules._loops import (
    CHUNK,
    binade,
    compiled,
    fma,
    glibc_bounds_stated,
    inlined,
    lowest_bit,
    nan_bits,
)

__all__ = ["c_cos_into", "cosine_table", "flagged_cosines"]

FloatArray = npt.NDArray[np.float64]

_POINTS_PER_UNIT = 1024  # table points t = j / 1024
_STEP = 1.0 / _POINTS_PER_UNIT
_REACH = 2.0**-9  # d = x - t in [0, 2^-9): two table steps (the Taylor terms cover it)
_TOP = 3.2  # arguments in [0, 3.2] (0 to a little past π): a schedule's angles
_ROWS = int(_TOP * _POINTS_PER_UNIT) + 2
_FAR_FROM_ZERO = 2.0**-7  # |cos t| from which the sums of _certain_cos are ordered
_SMALL_RUN = 32  # the shortest run tried where a chunk spreads wider than half the reach
# glibc's cos errs by at most 0.518 ulp: the float is certain where the computed cosine lies
# within 0.48 ulp of it (0.02 ulp of margin) plus the computation's own error, below 2^-69
# (the Taylor terms' roundings, the largest cos t·(1 - cos d) ≤ 2^-19 times a few 2^-53).
_MARGIN = 0.02 * 2.0**-52  # times the result's binade: 0.02 ulp
_ERROR = 2.0**-66
_CERTAIN = glibc_bounds_stated()


def cosine_table(rows: int = _ROWS) -> FloatArray:
    """``(cos t, its rounding error, sin t, its rounding error)`` at ``t = j / 1024`` for ``j <
    rows``, each pair summing to the exact value within ~2^-107: 70 digits, Taylor series at
    every 64th point and rotations by ``1/1024`` between them."""
    table = np.empty((rows, 4), np.float64)
    with localcontext() as context:
        context.prec = 70
        step = Decimal(1) / _POINTS_PER_UNIT
        cos_step, sin_step = _taylor(step, 0), _taylor(step, 1)
        cos_t = sin_t = Decimal(0)
        for j in range(rows):
            if j % 64 == 0:
                t = Decimal(j) / _POINTS_PER_UNIT
                cos_t, sin_t = _taylor(t, 0), _taylor(t, 1)
            for column, value in ((0, cos_t), (2, sin_t)):
                high = float(value)  # the nearest float
                table[j, column] = high
                table[j, column + 1] = float(value - Decimal(high))
            cos_t, sin_t = cos_t * cos_step - sin_t * sin_step, sin_t * cos_step + cos_t * sin_step
    return table


def _taylor(t: Decimal, first: int) -> Decimal:
    """``cos t`` (``first`` 0) or ``sin t`` (``first`` 1) to the context's precision."""
    term = t if first else Decimal(1)
    total, k = term, first
    tiny = Decimal(10) ** -80
    while abs(term) > tiny:
        term = -term * t * t / ((k + 1) * (k + 2))
        total += term
        k += 2
    return total


_TABLE = cosine_table()


@inlined
def _two_sum(a: float, b: float, ordered: bool) -> tuple[float, float]:
    """``a + b`` rounded and its exact rounding error: Knuth's two-sum, or with ``ordered``
    (``|a| >= |b|``, or at least ``a``'s exponent at or above ``b``'s) Dekker's three
    operations."""
    total = a + b
    if ordered:
        return total, b - (total - a)
    b_part = total - a
    return total, (a - (total - b_part)) + (b - b_part)


@inlined
def _certain_cos(
    x: float,
    t: float,
    cos_t: float,
    cos_t_low: float,
    sin_t: float,
    sin_t_low: float,
    far_from_zero: bool,
) -> float:
    """``cos(x)`` as glibc's ``cos`` returns it, from the table point ``t`` (its cosine and
    sine as pairs of floats), where that is certain; else NaN (``x - t`` outside the reach,
    or the cosine too near a halfway point between floats). ``far_from_zero``: ``|cos t| >=
    2^-7``, so the sums below are ordered (``|sin t·d| <= 2^-9``, the rest below 2^-18). The
    small terms' multiply-adds are fused: one rounding each instead of two, so the error bound
    holds with fewer operations (10^6 cosines ~11% faster)."""
    d = x - t  # exact where 0 <= d (t <= x, a multiple of x's last bit)
    product = sin_t * d
    product_error = fma(sin_t, d, -product)
    d2 = d * d
    sin_rest = (d2 * d) * fma(d2, 1.0 / 120.0, -1.0 / 6.0)  # sin d - d, to d^7/7! < 2^-75
    one_minus_cos = d2 * fma(d2, fma(d2, 1.0 / 720.0, -1.0 / 24.0), 0.5)  # to d^8/8! < 2^-87
    leading, leading_error = _two_sum(cos_t, -product, far_from_zero)
    rest = (leading_error - product_error) + fma(-sin_t_low, d, cos_t_low)
    rest -= fma(sin_t, sin_rest, cos_t * one_minus_cos)
    value, value_error = _two_sum(leading, rest, far_from_zero)
    margin = fma(binade(value), _MARGIN, _ERROR)
    inside = (d >= 0.0) & (d < _REACH)
    certain = (value + (value_error + margin) == value) & (value + (value_error - margin) == value)
    return value if inside & certain else np.nan


@inlined
def c_cos_into(x: FloatArray, out: FloatArray, m: int) -> int:
    """``out[i] = cos(x[i])`` for ``i < m``, the C library's ``cos`` (``x`` and ``out``
    distinct): runs of arguments within the table's reach in
    vectorized passes of :func:`_certain_cos`, the rest (and the uncertain) by ``cos``.
    Returns how many values called ``cos``."""
    if not _CERTAIN:
        for i in range(m):
            out[i] = math.cos(x[i])
        return m
    start = 0
    called = 0
    while start < m:
        size = m - start
        spread = abs(x[start + size - 1] - x[start])
        if not spread < _REACH / 2:  # (then every value of an even run is within reach of
            guess = _SMALL_RUN  # the point below its lowest) a run as long as that allows
            if spread < np.inf:  # (NaN fails), whole vectors of 16 (no scalar remainder)
                guess = max(_SMALL_RUN, int((size - 1) * (_REACH / 2 / spread)) // 16 * 16)
            size = min(size, guess)
            if not abs(x[start + size - 1] - x[start]) < _REACH:  # spread wide: cos itself
                rest_x, rest_out = x[start:m], out[start:m]
                for i in range(m - start):  # (indices from 0: a loop from start is slower)
                    rest_out[i] = math.cos(rest_x[i])
                called += m - start
                break
        low, high = min(x[start], x[start + size - 1]), max(x[start], x[start + size - 1])
        run_x, run_out = x[start : start + size], out[start : start + size]
        if low >= 0.0 and high <= _TOP:  # (NaN fails)
            j = int(low * _POINTS_PER_UNIT)
            t = j * _STEP
            cos_t, cos_low = _TABLE[j, 0], _TABLE[j, 1]
            sin_t, sin_low = _TABLE[j, 2], _TABLE[j, 3]
            if abs(cos_t) >= _FAR_FROM_ZERO:  # one loop or the other, each vectorized
                for i in range(size):
                    run_out[i] = _certain_cos(run_x[i], t, cos_t, cos_low, sin_t, sin_low, True)
            else:
                for i in range(size):
                    run_out[i] = _certain_cos(run_x[i], t, cos_t, cos_low, sin_t, sin_low, False)
        else:  # outside the table
            for i in range(size):
                run_out[i] = math.cos(run_x[i])
            called += size
        start += size
    if called == m:  # no run within reach: nothing to look at again
        return m
    for block in range(0, m, 64):  # the uncertain, ~4% of them (and any NaN cos gave above,
        bits = nan_bits(out, block, min(m, block + 64))  # called again)
        while bits:
            i = block + lowest_bit(bits)
            out[i] = math.cos(x[i])
            called += 1
            bits &= bits - 1
    return called


@compiled
def _cosines(x: FloatArray, out: FloatArray) -> int:
    called = 0
    for start in range(0, x.shape[0], CHUNK):
        m = min(CHUNK, x.shape[0] - start)
        called += c_cos_into(x[start:], out[start:], m)
    return called


@compiled
def flagged_cosines(x: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_]) -> None:
    """``out = cos(x)``, ``python`` True where Python computes it instead: an infinity (where
    ``math.cos`` raises) or NaN."""
    _cosines(x, out)
    for i in range(x.shape[0]):
        python[i] = not -np.inf < x[i] < np.inf


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops."""
    flagged_cosines(np.zeros(2, np.float64), np.empty(2, np.float64), np.zeros(2, np.bool_))

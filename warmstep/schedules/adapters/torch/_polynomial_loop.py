"""PolynomialLR's per-call factors in compiled code, on every core.

torch's chainable PolynomialLR multiplies the lr at epoch ``e`` by
``((1.0 - e / T) / (1.0 - (e - 1) / T)) ** power`` (Python floats: ``e / T`` of two ints is the
correctly rounded quotient, as ``float(e) / float(T)`` is below 2**53). Each factor here is that
expression, its power the C library's ``pow`` as Python's ``**`` calls it (squares through
:func:`warmstep.schedules._loops.c_pow_into`); the few where Python treats the result specially
(a zero base, a result that is not a normal float) are computed by Python itself, errors
included. Imported on first use (numba); :func:`warm` compiles or loads the loop ahead of time.

Example: ``polynomial_factors(4, 2.0, 4)`` is ``[0.5625, 0.4444444444444444, 0.25, 0.0]``:
``(0.75 / 1.0) ** 2``, ``(0.5 / 0.75) ** 2``, ``(0.25 / 0.5) ** 2``, ``(0.0 / 0.25) ** 2``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules._libm import python_pow
from warmstep.schedules._loops import CHUNK, SMALLEST_NORMAL, c_pow_into, compiled
from warmstep.schedules._parallel import in_slices, in_slices_folded
from warmstep.schedules.adapters.torch._fold_loop import fold_factors

__all__ = ["polynomial_curve", "polynomial_factors", "warm"]


@compiled
def _factors(
    lo: int, hi: int, total: int, power: float, out: FloatArray, python: npt.NDArray[np.bool_]
) -> None:
    base = np.empty(CHUNK, np.float64)
    remaining = np.empty(CHUNK + 1, np.float64)
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        for k in range(m + 1):  # 1 - e/T at epochs start .. start + m: each call's numerator
            remaining[k] = 1.0 - (start + k) / total  # is the next call's denominator
        for k in range(m):
            base[k] = remaining[k + 1] / remaining[k]
        factors, flags = out[start : start + m], python[start : start + m]
        c_pow_into(base, power, factors, m)
        for k in range(m):  # no branch (& not and): a flag for every value, vectorized
            factor, value = factors[k], base[k]
            normal = (factor >= SMALLEST_NORMAL) & (factor < np.inf)
            flags[k] = not ((value > 0.0) & (value < np.inf) & normal)


def polynomial_factors(total: int, power: float, count: int) -> FloatArray:
    """The factors of epochs ``1 .. count`` (``total`` = ``total_iters`` > 0, ``count`` <= it),
    bit for bit Python's; raises what Python's ``**`` raises there."""
    out = np.empty(count, np.float64)
    python = np.zeros(count, np.bool_)
    in_slices(lambda lo, hi: _factors(lo, hi, total, power, out, python), count)
    for i in np.flatnonzero(python).tolist():
        out[i] = _python_factor(i + 1, total, power)
    return out


def polynomial_curve(lr0: FloatArray, total: int, power: float, out: FloatArray) -> None:
    """PolynomialLR stepped on its own from ``lr0`` (``total`` = ``total_iters`` > 0) into
    ``out`` ``(groups, steps)``: ``lr0``, then the lr after each ``step()``, each factor
    multiplied into the previous lr as torch does. The factors on every core; the product
    follows them slice by slice on the caller's thread (Python's own ``**`` first where the
    compiled pass flagged a factor, raising what it raises, in step order)."""
    steps = out.shape[1]
    if not steps:
        return
    out[:, 0] = lr0
    count = max(min(total, steps - 1), 0)  # epochs 1 .. count change the lr, then it stays
    factors = np.empty(count, np.float64)
    python = np.zeros(count, np.bool_)
    lr = [float(value) for value in lr0]

    def fold(lo: int, hi: int) -> None:
        for i in (lo + np.flatnonzero(python[lo:hi])).tolist():
            factors[i] = _python_factor(i + 1, total, power)
        for g in range(len(lr)):
            fold_factors(lr[g], factors[lo:hi], out[g, 1 + lo : 1 + hi])
            lr[g] = float(out[g, hi])

    in_slices_folded(lambda lo, hi: _factors(lo, hi, total, power, factors, python), fold, count)
    out[:, count + 1 :] = out[:, count : count + 1]


def _python_factor(e: int, total: int, power: float) -> float:
    """Epoch ``e``'s factor computed by Python itself (where the compiled pass flagged it)."""
    return python_pow((1.0 - e / total) / (1.0 - (e - 1) / total), power)


def warm() -> None:
    """Compile (or load from the disk cache) this module's loop."""
    polynomial_factors(3, 2.0, 3)

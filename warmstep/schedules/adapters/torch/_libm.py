"""Scalar maths exactly as CPython's ``float`` computes it, applied to numpy arrays.

numpy's ``np.power`` may use SIMD approximations (SVML) that differ from the C library's
``pow`` by one ulp, while torch's schedulers evaluate ``gamma ** e`` with Python floats, i.e. with
``libm.pow`` (correctly rounded in glibc). :func:`pow_like_python` evaluates the power in extended
precision, rounds to float64, and recomputes with :func:`math.pow` only the few elements whose
extended result lies too close to a rounding midpoint to be trusted. Example:
``pow_like_python(np.array([0.95]), np.array([7.0]))[0] == 0.95 ** 7``.
"""

from __future__ import annotations

import numpy as np

from warmstep.schedules._core import FloatArray

# Extended precision must carry at least 11 more bits than float64 for the midpoint test to work.
_EXTENDED_OK = np.finfo(np.longdouble).nmant >= 63
_MIDPOINT_MARGIN = 1e-2  # fraction of a float64 ulp


def pow_like_python(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """``base ** exponent`` elementwise, bit-identical to Python's ``float.__pow__``."""
    base, exponent = np.broadcast_arrays(
        np.asarray(base, np.float64), np.asarray(exponent, np.float64)
    )
    out = np.empty(base.shape, np.float64)
    if base.size == 0:
        return out
    uncertain = np.ones(base.shape, bool)
    if _EXTENDED_OK:
        with np.errstate(all="ignore"):
            wide = np.power(base.astype(np.longdouble), exponent.astype(np.longdouble))
            out[...] = wide.astype(np.float64)
            ulp = np.spacing(np.abs(out)).astype(np.longdouble)
            frac = np.abs(wide - out.astype(np.longdouble)) / ulp
        # Near a midpoint, at a power of two (whose lower neighbour is closer), or not finite.
        uncertain = ~(np.abs(frac - 0.5) > _MIDPOINT_MARGIN) | ~(frac < 0.5)
        uncertain |= ~np.isfinite(out) | (out == 0) | (np.frexp(out)[0] == 0.5)
    for index in zip(*np.nonzero(uncertain), strict=True):
        out[index] = _python_pow(float(base[index]), float(exponent[index]))
    return out


def _python_pow(base: float, exponent: float) -> float:
    """Python's own power; raises OverflowError / ZeroDivisionError as Python does."""
    value = base**exponent
    if isinstance(value, complex):
        raise ValueError(f"{base} ** {exponent} is complex")
    return float(value)

"""Scalar maths exactly as CPython's ``float`` computes it, applied to numpy arrays.

numpy's ``np.power`` may use SIMD approximations (SVML) that differ from the C library's
``pow`` by one ulp, while torch's schedulers evaluate ``gamma ** e`` with Python floats, i.e. with
``libm.pow`` (glibc: the correctly rounded result except within ~0.02 ulp of a rounding
midpoint, 0.52 ulp at worst). :func:`pow_like_python` computes an accurate value, rounds it to
float64, and recomputes with Python only the few elements too close to a midpoint to be trusted:

- exponent 0 or base 1: exactly 1; exponent 1: the base itself (Python's own special cases);
- exponent 2: ``x*x`` rounded once, with its exact error from Dekker's product (no extended
  precision needed), trusted unless within ``_SQUARE_MARGIN`` ulp of a midpoint;
- otherwise: the power in extended precision (``np.longdouble``), trusted unless within
  ``_MIDPOINT_MARGIN`` ulp of a midpoint.

Example: ``pow_like_python(np.array([0.95]), np.array([7.0]))[0] == 0.95 ** 7``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray

# Extended precision must carry at least 11 more bits than float64 for the midpoint test to work.
_EXTENDED_OK = np.finfo(np.longdouble).nmant >= 63
_MIDPOINT_MARGIN = 1e-2  # fraction of a float64 ulp
_SQUARE_MARGIN = 2e-2  # glibc's pow errs by up to ~0.52 ulp: 0.02 ulp beyond the rounding
_SPLIT = 134217729.0  # 2**27 + 1, Dekker's splitting constant
_SQUARE_RANGE = (2.0**-400, 2.0**400)  # |x| where the split and the error term are exact
_EXPONENT_BITS = np.uint64(0x7FF0000000000000)
_MANTISSA_BITS = np.uint64(0x000FFFFFFFFFFFFF)


def pow_like_python(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """``base ** exponent`` elementwise, bit-identical to Python's ``float.__pow__``."""
    base, exponent = np.broadcast_arrays(
        np.asarray(base, np.float64), np.asarray(exponent, np.float64)
    )
    out = np.empty(base.shape, np.float64)
    if base.size == 0:
        return out
    first = float(exponent.flat[0])
    if first in (0.0, 1.0, 2.0) and np.all(exponent == first):
        if first == 0.0:
            out[...] = 1.0
            return out
        if first == 1.0:
            out[...] = base
            return out
        uncertain = _square(base, out)
    else:
        uncertain = _extended_power(base, exponent, out)
    _fix(out, base, exponent, uncertain)
    return out


def _square(x: FloatArray, out: FloatArray) -> npt.NDArray[np.bool_]:
    """``out = x*x``; True where that may not be libm's ``pow(x, 2)``."""
    with np.errstate(all="ignore"):
        out[...] = x * x
        big = x * _SPLIT
        high = big - (big - x)
        low = x - high
        error = ((high * high - out) + 2.0 * high * low) + low * low  # x*x - out, exactly
    magnitude = np.abs(x)
    trusted = (magnitude > _SQUARE_RANGE[0]) & (magnitude < _SQUARE_RANGE[1])
    # ulp of out (normal in this range): its exponent bits, less 52, as a float
    bits = out.view(np.uint64)
    ulp = ((bits & _EXPONENT_BITS) - np.uint64(52 << 52)).view(np.float64)
    trusted &= np.abs(error) < (0.5 - _SQUARE_MARGIN) * ulp
    # below a power of two the spacing halves: trusted there only when exact
    trusted &= ((bits & _MANTISSA_BITS) != 0) | (error == 0)
    return ~trusted


def _extended_power(
    base: FloatArray, exponent: FloatArray, out: FloatArray
) -> npt.NDArray[np.bool_]:
    """``out`` = the power rounded from extended precision; True where it may not be libm's."""
    if not _EXTENDED_OK:
        return np.ones(base.shape, bool)
    with np.errstate(all="ignore"):
        wide = np.power(base.astype(np.longdouble), exponent.astype(np.longdouble))
        out[...] = wide.astype(np.float64)
        ulp = np.spacing(np.abs(out)).astype(np.longdouble)
        frac = np.abs(wide - out.astype(np.longdouble)) / ulp
    # Near a midpoint, at a power of two (whose lower neighbour is closer), or not finite.
    uncertain = ~(np.abs(frac - 0.5) > _MIDPOINT_MARGIN) | ~(frac < 0.5)
    uncertain |= ~np.isfinite(out) | (out == 0) | (np.frexp(out)[0] == 0.5)
    one = base == 1.0  # 1 ** y is exactly 1 (Python and C99 alike, y NaN included)
    out[one] = 1.0
    return np.asarray(uncertain & ~one, bool)


def _fix(
    out: FloatArray, base: FloatArray, exponent: FloatArray, uncertain: npt.NDArray[np.bool_]
) -> None:
    """Recompute the uncertain elements with Python's own power (errors included)."""
    where = np.flatnonzero(uncertain)
    if where.size == 0:
        return
    pairs = zip(base.ravel()[where].tolist(), exponent.ravel()[where].tolist(), strict=True)
    out.reshape(-1)[where] = [_python_pow(b, e) for b, e in pairs]


def _python_pow(base: float, exponent: float) -> float:
    """Python's own power; raises OverflowError / ZeroDivisionError as Python does."""
    value = base**exponent
    if isinstance(value, complex):
        raise ValueError(f"{base} ** {exponent} is complex")
    return float(value)

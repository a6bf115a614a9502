"""Python's float power and ``math.exp``, ``log``, ``tanh``, ``cos``, ``sin`` applied to numpy
arrays, bit for bit.

numpy's ``np.power`` may use SIMD approximations (SVML) that differ from the C library's ``pow``
by one ulp, and even ``x*x`` differs from ``pow(x, 2.0)`` (glibc's ``pow`` errs by up to ~0.52
ulp: about 1 square in 1,200 rounds the other way), while torch's schedulers evaluate
``gamma ** e`` with Python floats, i.e. with the C library's ``pow``. :func:`pow_like_python`
calls that very ``pow`` for every element from a compiled loop
(:func:`warmstep.schedules._loops.powers`, ~9 ns an element, split across the cores), and
leaves to Python's own ``**`` the few elements whose result Python treats specially (a base that
is not positive, non-finite values, overflow and underflow), errors included.

numpy's ``np.exp``, ``np.log`` and ``np.tanh`` likewise are not the C library's functions that
``math`` calls (on this project's AVX-512 machines ``np.tanh`` differs in the last bit for
nearly half of its arguments, ``np.exp`` for ~5%, ``np.log`` for ~0.02%: enough to move a
``floor(log(a) / log(b))`` across an integer); :func:`exp_like_python`, :func:`log_like_python`
and :func:`tanh_like_python` call the C library's the same way.

Example: ``pow_like_python(np.array([0.95]), np.array([7.0]))[0] == 0.95 ** 7``.
"""

from __future__ import annotations

import math

import numpy as np

from warmstep.schedules._core import FloatArray


def pow_like_python(base: FloatArray, exponent: FloatArray) -> FloatArray:
    """``base ** exponent`` elementwise, bit-identical to Python's ``float.__pow__`` (and raising
    what it raises: OverflowError, ZeroDivisionError, ValueError for a complex result)."""
    from warmstep.schedules._loops import powers  # imports numba: only when needed

    base, exponent = np.broadcast_arrays(
        np.asarray(base, np.float64), np.asarray(exponent, np.float64)
    )
    out = np.empty(base.shape, np.float64)
    if base.size == 0:
        return out
    flat_base = np.ascontiguousarray(base).reshape(-1)
    flat_exponent = np.ascontiguousarray(exponent).reshape(-1)
    flat_out = out.reshape(-1)
    where = np.flatnonzero(powers(flat_base, flat_exponent, flat_out))
    pairs = zip(flat_base[where].tolist(), flat_exponent[where].tolist(), strict=True)
    flat_out[where] = [_python_pow(b, e) for b, e in pairs]
    return out


def _python_pow(base: float, exponent: float) -> float:
    """Python's own power; raises OverflowError / ZeroDivisionError as Python does."""
    value = base**exponent
    if isinstance(value, complex):
        raise ValueError(f"{base} ** {exponent} is complex")
    return float(value)


def exp_like_python(x: FloatArray) -> FloatArray:
    """``math.exp`` elementwise, bit for bit (and raising its OverflowError)."""
    return unary_like_python("exp", x)


def log_like_python(x: FloatArray) -> FloatArray:
    """``math.log`` elementwise, bit for bit (and raising its ValueError at 0 or below)."""
    return unary_like_python("log", x)


def tanh_like_python(x: FloatArray) -> FloatArray:
    """``math.tanh`` elementwise, bit for bit."""
    return unary_like_python("tanh", x)


UNARY_FUNCTIONS = ("tanh", "exp", "log", "cos", "sin")


def unary_like_python(function: str, x: FloatArray) -> FloatArray:
    """``math.<function>`` elementwise, bit for bit, raising what it raises; ``function`` is
    one of :data:`UNARY_FUNCTIONS`."""
    from warmstep.schedules._loops import unary  # imports numba: only when needed

    x = np.asarray(x, np.float64)
    out = np.empty(x.shape, np.float64)
    if x.size == 0:
        return out
    flat_x = np.ascontiguousarray(x).reshape(-1)
    flat_out = out.reshape(-1)
    where = np.flatnonzero(unary(flat_x, flat_out, function))
    python = getattr(math, function)
    flat_out[where] = [python(v) for v in flat_x[where].tolist()]
    return out

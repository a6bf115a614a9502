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
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray


def pow_like_python(base: FloatArray | float, exponent: FloatArray | float) -> FloatArray:
    """``base ** exponent`` elementwise (either may be one number), bit-identical to Python's
    ``float.__pow__`` (and raising what it raises: OverflowError, ZeroDivisionError, ValueError
    for a complex result)."""
    from warmstep.schedules._loops import powers, powers_of  # imports numba: when needed

    if np.ndim(exponent) == 0 and float(exponent) == 1.0:  # x ** 1.0 is x, for every float
        return np.array(base, np.float64)
    if np.ndim(exponent) == 0:  # one exponent: no array of it

        def with_exponent(values: FloatArray, out: FloatArray) -> npt.NDArray[np.bool_]:
            return powers_of(values, float(exponent), out)

        python = float(exponent)
        return _like_python(
            with_exponent, lambda b: python_pow(b, python), np.asarray(base, np.float64)
        )
    arrays = [np.asarray(base, np.float64), np.asarray(exponent, np.float64)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    # the one number (or smaller array) written out: the loop reads plain arrays
    full = [a if a.shape == shape else np.broadcast_to(a, shape).copy() for a in arrays]
    return _like_python(powers, python_pow, *full)


def python_pow(base: float, exponent: float) -> float:
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


def cos_like_python(x: FloatArray) -> FloatArray:
    """``math.cos`` elementwise, bit for bit (and raising its ValueError at an infinity): on
    every core for long arrays, most values without the call
    (:mod:`warmstep.schedules._cosine`)."""
    return unary_like_python("cos", x)


UNARY_FUNCTIONS = ("tanh", "exp", "log", "cos", "sin")


def unary_like_python(function: str, x: FloatArray) -> FloatArray:
    """``math.<function>`` elementwise, bit for bit, raising what it raises; ``function`` is
    one of :data:`UNARY_FUNCTIONS`."""
    from warmstep.schedules._loops import unary  # imports numba: only when needed

    def compiled(values: FloatArray, out: FloatArray) -> npt.NDArray[np.bool_]:
        return unary(values, out, function)

    return _like_python(compiled, getattr(math, function), np.asarray(x, np.float64))


def _like_python(
    compiled: Callable[..., npt.NDArray[np.bool_]],
    python: Callable[..., float],
    *arguments: FloatArray,
) -> FloatArray:
    """``compiled(*flat arguments, flat out)`` over the elements (arguments of one shape), then
    ``python`` for the elements it leaves to Python (its flags), errors included."""
    out = np.empty(arguments[0].shape, np.float64)
    if out.size == 0:
        return out
    flat = [np.ascontiguousarray(a).reshape(-1) for a in arguments]
    flat_out = out.reshape(-1)
    where = np.flatnonzero(compiled(*flat, flat_out))
    columns = [values[where].tolist() for values in flat]
    flat_out[where] = [python(*element) for element in zip(*columns, strict=True)]
    return out

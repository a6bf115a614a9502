"""The C library's ``tanh`` over arrays without calling it: bit for bit the floats ``math.tanh``
returns, where this process's C library is shown to compute them the way written here.

glibc's ``tanh`` (``s_tanh.c``, from fdlibm) is not correctly rounded (up to 2 ulp), so no
accurate computation can stand in for it; the same operations in the same order can. It is
``1 - 2/(t + 2)`` with ``t = expm1(2|x|)`` for ``|x| >= 1``, ``-t/(t + 2)`` with ``t =
expm1(-2|x|)`` below, ``±1`` from ``|x| >= 22`` and ``x`` itself under ``2^-55``, the sign put
back at the end. Its ``expm1`` (fdlibm's ``s_expm1.c``; on x86-64 machines with FMA glibc runs
a build of it whose multiply-adds are fused) reduces ``x`` to ``r = x - k·ln2`` (``k`` 0 below
``0.5·ln2``, ±1 below ``1.5·ln2``, else ``trunc(x/ln2 ± 0.5)``, with ``ln2`` as a high part
exact in products and a low part, and ``c`` the reduction's rounding error), evaluates a
rational approximation of ``expm1(r)`` through a degree-5 polynomial in ``r²/2`` and puts
``2^k`` back by one of five formulas chosen by ``k``. :func:`_glibc_tanh` does all of it
branch-free (every formula computed, the right one selected), so a loop over it vectorizes:
two divisions and ~30 other operations a value, against a call of ~10 ns.

Whether the C library computes exactly this is not assumed: :func:`emulation_agrees` compares
the two on arguments at every threshold of either function and thousands spread over the whole
range, once per process, and where one differs (another C library, or glibc's build without
FMA) :func:`c_tanh_into` calls ``tanh`` at every value. ``scripts/check_certified_math.py tanh
N`` compares them on ``N`` more.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from warmstep.schedules._loops import compiled, fma, inlined

__all__ = [
    "agreement_arguments",
    "c_tanh_into",
    "emulation_agrees",
    "flagged_tanh",
    "tanh_pairs",
    "threshold_arguments",
    "warm",
]

FloatArray = npt.NDArray[np.float64]

# expm1's constants (fdlibm): ln2 as a high part (its low 32 bits zero: k·LN2_HI is exact) and
# the rest, 1/ln2, and the coefficients of its polynomial in r²/2.
_LN2_HI = float.fromhex("0x1.62e42feep-1")
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
_INV_LN2 = float.fromhex("0x1.71547652b82fep+0")
_Q1 = float.fromhex("-0x1.11111111110f4p-5")
_Q2 = float.fromhex("0x1.a01a019fe5585p-10")
_Q3 = float.fromhex("-0x1.4ce199eaadbb7p-14")
_Q4 = float.fromhex("0x1.0cfca86e65239p-18")
_Q5 = float.fromhex("-0x1.afdb76e09c32dp-23")
# Its thresholds, on the high 32 bits of |x| as it tests them, as floats: reduce from
# 0x3fd62e43 (|x| > 0.5 ln2), k = ±1 below 0x3ff0a2b2 (1.5 ln2).
_REDUCE_FROM = float.fromhex("0x1.62e43p-2")
_ONE_LN2_BELOW = float.fromhex("0x1.0a2b2p+0")
# tanh's: ±1 from 22, x itself below 2^-55, expm1(2|x|) from 1.
_SATURATED_FROM = 22.0
_TINY_BELOW = 2.0**-55


@intrinsic
def _power_of_two_intrinsic(typing_context: Any, k: Any) -> Any:
    """``2^k`` for a whole ``k`` in the normal exponents (-1022 .. 1023): its exponent bits."""
    signature = types.float64(types.float64)

    def codegen(context: Any, builder: Any, _signature: Any, args: Any) -> Any:
        integer = ir.IntType(64)
        exponent = builder.fptosi(args[0], integer)
        biased = builder.add(exponent, ir.Constant(integer, 1023))
        bits = builder.shl(biased, ir.Constant(integer, 52))
        return builder.bitcast(bits, ir.DoubleType())

    return signature, codegen


_power_of_two: Any = _power_of_two_intrinsic


@inlined
def _glibc_expm1(x: float) -> float:
    """``expm1(x)`` as glibc's FMA build computes it, for tanh's arguments: ``x`` in ``[2,
    709)`` or ``(-2, -2^-54]``, where ``k`` is never 1 (that formula is left out)."""
    size = abs(x)
    half = 0.5 if x >= 0.0 else -0.5  # fdlibm tests the sign bit: -0.0 is not in this range
    general = math.trunc(fma(_INV_LN2, x, half))  # C's int conversion: towards zero
    k = 0.0 if size < _REDUCE_FROM else (2.0 * half if size < _ONE_LN2_BELOW else general)
    high = fma(-k, _LN2_HI, x)  # k·LN2_HI is exact: x - k·LN2_HI rounded once either way
    low = k * _LN2_LO
    r = high - low
    c = (high - r) - low
    half_r = 0.5 * r
    square = r * half_r
    square2 = square * square
    r1 = fma(
        square2 * square2,
        fma(square, _Q5, _Q4),
        fma(square2, fma(square, _Q3, _Q2), fma(square, _Q1, 1.0)),
    )
    t = fma(-r1, half_r, 3.0)
    e = square * ((r1 - t) / fma(-r, t, 6.0))
    unreduced = r - fma(r, e, -square)  # k = 0
    e = fma(r, e - c, -c) - square
    scale = _power_of_two(k)
    minus_one = 0.5 * (r - e) - 0.5  # k = -1
    far = (1.0 - (e - r)) * scale - 1.0  # k <= -2 or k > 56
    near = ((1.0 - _power_of_two(-k)) - (e - r)) * scale  # 2 <= k < 20
    middle = ((r - (e + _power_of_two(-k))) + 1.0) * scale  # 20 <= k <= 56
    result = middle if k >= 20.0 else near
    result = far if (k <= -2.0) | (k > 56.0) else result
    result = minus_one if k == -1.0 else result
    return unreduced if k == 0.0 else result


@inlined
def _glibc_tanh(x: float) -> float:
    """``tanh(x)`` as glibc's ``s_tanh.c`` over its FMA ``expm1`` computes it; any float."""
    size = abs(x)
    wide = size >= 1.0
    t = _glibc_expm1(2.0 * size if wide else -2.0 * size)
    quotient = (2.0 if wide else -t) / (t + 2.0)
    z = 1.0 - quotient if wide else quotient
    z = 1.0 if size >= _SATURATED_FROM else z  # fdlibm: one - tiny, 1 when rounded
    z = -z if np.signbit(x) else z
    z = x + x if math.isnan(x) else z  # fdlibm: 1/x ± 1, x's NaN (its sign kept) quieted
    return x if size < _TINY_BELOW else z  # fdlibm: x * (1 + x), x when rounded


@inlined
def c_tanh_into(x: FloatArray, out: FloatArray, m: int, emulated: bool) -> None:
    """``out[i] = tanh(x[i])`` for ``i < m`` as the C library's ``tanh`` returns it: computed
    here where ``emulated`` (:func:`emulation_agrees`), else by the call."""
    if emulated:
        for i in range(m):
            out[i] = _glibc_tanh(x[i])
    else:
        for i in range(m):
            out[i] = math.tanh(x[i])


@compiled
def flagged_tanh(
    x: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_], emulated: bool
) -> None:
    """:func:`c_tanh_into` over all of ``x`` in the form of ``_loops.unary``'s kernels
    (``python`` untouched: tanh raises nothing and NaN gives NaN)."""
    c_tanh_into(x, out, x.shape[0], emulated)


@compiled
def _tanh_pairs(x: FloatArray, emulated: FloatArray, called: FloatArray) -> None:
    """Both ways over ``x``: :func:`_glibc_tanh` and the C library's ``tanh``."""
    c_tanh_into(x, emulated, x.shape[0], True)
    c_tanh_into(x, called, x.shape[0], False)


def tanh_pairs(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """:func:`_glibc_tanh` and the C library's ``tanh`` at every ``x``."""
    emulated, called = np.empty_like(x), np.empty_like(x)
    _tanh_pairs(np.ascontiguousarray(x, np.float64), emulated, called)
    return emulated, called


def threshold_arguments() -> FloatArray:
    """Arguments at, one ulp and ~4 ulps either side of every threshold of ``tanh`` and of its
    ``expm1`` (``2|x|`` at the reduction's bounds and where each ``k`` from 2 to 65 begins,
    the formulas changing at 20 and 56), both signs, with zeros, infinities and NaN."""
    points = [0.0, _TINY_BELOW, 1.0, _SATURATED_FROM, 0.5 * _REDUCE_FROM, 0.5 * _ONE_LN2_BELOW]
    points += [0.5 * (k - 0.5) * math.log(2.0) for k in range(2, 66)]
    points += [0.25, 0.125, 0.5, 1e-300, 5e-324]
    near = [v for p in points for v in (p, np.nextafter(p, np.inf), np.nextafter(p, -np.inf))]
    wider = [v for p in points for v in (p * (1 + 2.0**-50), p * (1 - 2.0**-50))]
    values = np.array(near + wider + [np.inf, np.nan], np.float64)
    return np.concatenate([values, -values])


def agreement_arguments(count: int = 4096, seed: int = 0) -> FloatArray:
    """:func:`threshold_arguments` and ``count`` arguments spread over every binade tanh's
    computation meets (magnitudes 2^-60 to 32, both signs)."""
    rng = np.random.default_rng(seed)
    spread = np.exp2(rng.uniform(-60.0, 5.0, count)) * rng.choice([-1.0, 1.0], count)
    return np.concatenate([threshold_arguments(), spread])


@functools.cache
def emulation_agrees() -> bool:
    """True where :func:`_glibc_tanh` gives the C library's ``tanh`` at every argument of
    :func:`agreement_arguments` (decided once per process, in well under a millisecond)."""
    emulated, called = tanh_pairs(agreement_arguments())
    return bool(np.array_equal(emulated.view(np.int64), called.view(np.int64)))  # bit for bit


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops and decide
    :func:`emulation_agrees`."""
    emulation_agrees()
    flagged_tanh(np.zeros(2), np.empty(2), np.zeros(2, np.bool_), True)

"""The engine's compiled loops: how they are compiled, and the C library's maths on arrays.

Where no numpy pass gives the library's floats, the engine runs the library's own scalar
arithmetic in numba-compiled code (:func:`compiled`): IEEE float64 without fast-math (none of
the library's operations contracted into a fused multiply-add or reassociated; the one explicit
fused multiply-add, in :func:`c_pow`, only measures a product's rounding error), so the results
are the library's floats, bit for bit, at ~1-3 ns
a value instead of ~100 ns in a Python loop. The loops live beside their schedules
(``adapters/torch/_fold_loop.py``, ``adapters/torch/_cycle_loops.py``,
``adapters/torch/_polynomial_loop.py``, ``adapters/_decision_loops.py``,
``adapters/_transformers_loops.py``, ``adapters/_timm_loops.py``,
``adapters/_fvcore_loops.py``, ``adapters/_detectron2_loops.py``); this module has the
decorator and the C library's ``pow``, ``exp``, ``log``, ``tanh``, ``cos`` and ``sin`` per
element (the functions Python's ``**`` and ``math`` call; numpy's own may differ in the last
bit), split across the cores.

Importing a loop module imports numba (~0.2 s), so callers import them when they first need a
loop; each loop is compiled on its first call and cached on disk, in a folder named after a
digest of the engine's sources (:func:`cache_folder`: under ``warmstep/schedules/__pycache__``,
or ``NUMBA_CACHE_DIR`` when set; compiled afresh in each process where neither is writable).
numba checks a cached loop against its own file only, while a loop carries the compiled code of
the helpers it calls from other files (``c_pow_into``); the digest makes a change to any of
them start a fresh cache instead of loading stale code.
``nogil``: a long evaluation on a thread leaves other threads (the front end's event loop) free.
:func:`warmstep.schedules.prepare_compiled_loops` compiles or loads every loop ahead of time.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt
from llvmlite import ir
from numba.core import types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import intrinsic

from warmstep.schedules._parallel import in_slices

__all__ = [
    "CHUNK",
    "SMALLEST_NORMAL",
    "binade",
    "c_pow",
    "c_pow_into",
    "cache_folder",
    "compiled",
    "fma",
    "glibc_bounds_stated",
    "inlined",
    "lowest_bit",
    "nan_bits",
    "powers",
    "powers_of",
    "unary",
    "warm",
]

FloatArray = npt.NDArray[np.float64]
F = TypeVar("F", bound=Callable[..., Any])

SMALLEST_NORMAL = float(np.finfo(np.float64).smallest_normal)
CHUNK = 256  # values per pass of a chunked loop: its buffers stay in the first-level cache
# glibc's pow errs by at most 0.54 ulp (its pow.c: "Worst-case error: 0.54 ULP (~=
# ulperr_exp + 1024*Ln2*relerr_log*2^53)", ulperr_exp 0.509 ULP, relerr_log 1.3 * 2^-68): it
# returns the float nearest the exact power wherever that lies more than 0.04 ulp from a halfway
# point. The 1024*Ln2 there is the largest |y * log(x)| (= |log(result)|) short of overflow; a
# result in [2^-20, 2^20) has |log| < 13.9, so its error stays below 0.509 + 13.9 * 1.3 * 2^-15
# = 0.5096 ulp, and 0.012 ulp is margin enough (over 2e8 random squares in 1e-6 .. 1e6 the
# closest-to-halfway square where pow and the product differ was 0.0089 ulp from it).
#
# Squares of bases within 2^-10 of 1 (a ratio of consecutive schedule values, as PolynomialLR's
# factors are) come closer still. There pow.c's r = y * log(x) = 2 log(x) has |r| <= 2.03 |x -
# 1| < 0.002, below ln2/256, so its exp_inline takes the table's first entry (scale exactly 1,
# tail 0) and returns 1 + tmp rounded once, tmp = r + r²(C2 + r C3) + r⁴(C4 + r C5): r is
# rounded once from the log's double-double (relative error 1.3 * 2^-68), and each step of tmp
# rounds by at most 2^-53 |r|, so before that last rounding the result lies within 3|r| + 0.0003
# ulp of the exact square (0.0003: the polynomial's own error, 0.509 - 0.5 - 1.11/N in the same
# file), below 0.0004 + 6.1 |x - 1| ulp. The margin there is 0.001 + 7 |x - 1| ulp: ~1 square in
# 300 calls pow at |x - 1| ~ 1e-4 instead of 1 in 40. Over 2.16e6 squares built within 0.015 ulp
# of a halfway point (|x - 1| from 2^-39 to 2^-10, either side of 1), pow and the product
# differed (3,997 of them) only where the exact square lay within 5.42 |x - 1| ulp of it.
_POW_MARGIN = 0.045 * 2.0**-52  # times the result's binade: 0.045 ulp
_POW_MARGIN_NEAR_ONE = 0.012 * 2.0**-52  # results in [2^-20, 2^20)
_NEAR_ONE = (2.0**-20, 2.0**20)
_CLOSE_TO_ONE = 2.0**-10  # |x - 1| below which a square's margin is the one just above
_SQUARE_MARGIN_CLOSE = 0.001 * 2.0**-52  # plus _SQUARE_MARGIN_PER_DISTANCE * |x - 1|
_SQUARE_MARGIN_PER_DISTANCE = 7.0 * 2.0**-52
_SQUARE_RANGE = (2.0**-960, 2.0**1000)  # the square and its rounding error stay normal floats
_ROOT_RANGE = (2.0**-960, 2.0**1000)  # x of a root: x - root² stays a normal float
_ROOT_SLACK = 2.0 * (1.0 - 2.0**-40)  # |remainder| / (2·root) against the bound, rounded
_EXP, _LOG, _SIN = 1, 2, 3  # the functions of _unary (cos, tanh: their own modules)
_UNARY = {"exp": _EXP, "log": _LOG, "sin": _SIN}


def sources_digest(root: Path) -> str:
    """A digest of every ``.py`` file under ``root`` (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_folder() -> str:
    """Where the compiled loops are cached: ``<base>/loops-<digest of warmstep/schedules>``,
    ``<base>`` being ``NUMBA_CACHE_DIR`` when set, else the ``__pycache__`` beside this file."""
    schedules = Path(__file__).resolve().parent
    base = os.environ.get("NUMBA_CACHE_DIR") or str(schedules / "__pycache__")
    return os.path.join(base, f"loops-{sources_digest(schedules)}")


# Read by numba when each loop below (and in the modules beside the adapters) is decorated.
numba.config.CACHE_DIR = cache_folder()  # type: ignore[attr-defined]


def compiled(function: F) -> F:
    """``numba.njit`` as every loop of the engine uses it: no GIL, numpy's float error model
    (no exception checks), cached on disk where a cache location is writable."""
    return _njit(function, {"nogil": True, "error_model": "numpy"})


def inlined(function: F) -> F:
    """:func:`compiled` for a small helper of other loops, written into each caller (a call per
    step would cost more than the helper's work)."""
    return _njit(function, {"nogil": True, "error_model": "numpy", "inline": "always"})


def _njit(function: F, options: dict[str, Any]) -> F:
    try:
        return numba.njit(cache=True, **options)(function)  # type: ignore[no-any-return]
    except RuntimeError:  # no writable cache location: compile in each process
        return numba.njit(**options)(function)  # type: ignore[no-any-return]


@intrinsic
def _fma_intrinsic(typing_context: Any, a: Any, b: Any, c: Any) -> Any:
    """``a·b + c`` rounded once (IEEE fused multiply-add)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, _signature: Any, args: Any) -> Any:
        double = ir.DoubleType()
        function_type = ir.FunctionType(double, [double, double, double])
        function = builder.module.declare_intrinsic("llvm.fma", [double], function_type)
        return builder.call(function, args)

    return signature, codegen


@intrinsic
def _binade_intrinsic(typing_context: Any, x: Any) -> Any:
    """The power of two at or below ``|x|`` (``x`` normal): its exponent bits alone."""
    signature = types.float64(types.float64)

    def codegen(context: Any, builder: Any, _signature: Any, args: Any) -> Any:
        bits = builder.bitcast(args[0], ir.IntType(64))
        exponent = builder.and_(bits, ir.Constant(ir.IntType(64), 0x7FF0000000000000))
        return builder.bitcast(exponent, ir.DoubleType())

    return signature, codegen


# An empty inline assembly block that returns its register unchanged: the optimizer no longer
# knows the value (LLVM rewrites pow(x, 2.0) as x * x, which is not the C library's pow).
_REGISTER_CONSTRAINTS = {"x86_64": "=x,0", "amd64": "=x,0", "aarch64": "=w,0", "arm64": "=w,0"}
_OPAQUE_CONSTRAINT = _REGISTER_CONSTRAINTS.get(platform.machine().lower())


@intrinsic
def _opaque_intrinsic(typing_context: Any, x: Any) -> Any:
    """``x`` itself, hidden from the optimizer (on the machines of _REGISTER_CONSTRAINTS)."""
    signature = types.float64(types.float64)

    def codegen(context: Any, builder: Any, _signature: Any, args: Any) -> Any:
        if _OPAQUE_CONSTRAINT is None:
            return args[0]
        double = ir.DoubleType()
        function_type = ir.FunctionType(double, [double])
        return builder.asm(function_type, "", _OPAQUE_CONSTRAINT, args, side_effect=True)

    return signature, codegen


# The intrinsics as compiled code calls them (numba supplies the typing context).
fma: Callable[[float, float, float], float] = _fma_intrinsic  # type: ignore[assignment]
binade: Callable[[float], float] = _binade_intrinsic  # type: ignore[assignment]
_opaque: Callable[[float], float] = _opaque_intrinsic  # type: ignore[assignment]
_trailing_zeros: Callable[[int], int] = trailing_zeros  # type: ignore[assignment]


def glibc_bounds_stated() -> bool:
    """True with glibc 2.28 or later, whose ``pow`` and ``cos`` state their error bounds (0.54
    and 0.518 ulp); elsewhere the bounds are not known here, and every square is left to
    ``pow``, every cosine to ``cos``."""
    library, version = platform.libc_ver()
    try:
        release = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return library == "glibc" and release >= (2, 28)


_CERTAIN_POWERS = _OPAQUE_CONSTRAINT is not None and glibc_bounds_stated()


@inlined
def nan_bits(values: FloatArray, start: int, stop: int) -> int:
    """Bit ``k`` set where ``values[start + k]`` is NaN, for ``start + k < stop <= start +
    64``: one vectorized pass (a branch or a gathered index per value would be a serial chain),
    after which a loop over the set bits (:func:`lowest_bit`) visits only the NaNs."""
    block = values[start:stop]  # (indices from 0: the loop vectorizes)
    bits = 0
    for k in range(stop - start):
        bits |= int(math.isnan(block[k])) << k
    return bits


@inlined
def lowest_bit(bits: int) -> int:
    """The index of the lowest set bit of a nonzero ``bits``."""
    return _trailing_zeros(bits)


@inlined
def _certain_square(x: float) -> float:
    """``x * x`` where that is surely what the C library's ``pow(x, 2.0)`` returns, else NaN:
    the IEEE product is the float nearest the exact square, and its exact rounding error (a
    fused multiply-add) shows the exact square more than 0.012 ulp (0.045 ulp outside
    [2^-20, 2^20); 0.001 + 7 |x - 1| ulp for |x - 1| < 2^-10) from a halfway point, where
    glibc's pow returns that same float (~1 square in 40 near 1 is left to pow, 1 in 11
    elsewhere, ~1 in 300 at |x - 1| ~ 1e-4). Branch-free, so a loop over it vectorizes."""
    square = x * x
    error = fma(x, x, -square)  # exact: square + error == x² (a normal square, not too big)
    near_one = (_NEAR_ONE[0] <= square) & (square < _NEAR_ONE[1])  # (& not and: no branches)
    distance = abs(x - 1.0)  # exact near 1
    close = _SQUARE_MARGIN_CLOSE + _SQUARE_MARGIN_PER_DISTANCE * distance
    relative = _POW_MARGIN_NEAR_ONE if near_one else _POW_MARGIN
    margin = binade(square) * (close if distance < _CLOSE_TO_ONE else relative)
    certain = (square + (error + margin) == square) & (square + (error - margin) == square)
    normal = (_SQUARE_RANGE[0] < square) & (square < _SQUARE_RANGE[1])
    return square if certain & normal else np.nan


@inlined
def _certain_root(x: float) -> float:
    """``sqrt(x)`` where that is surely what the C library's ``pow(x, 0.5)`` returns, else NaN:
    the IEEE square root is the float nearest the exact root, and its exact remainder
    ``x - root²`` (a fused multiply-add) is ``(exact - root)·(exact + root)``; where that puts
    the exact root more than 0.012 ulp (0.045 ulp outside [2^-20, 2^20)) from a halfway point,
    glibc's pow returns that same float (as for squares, above: ~1 root in 40 is left to pow).
    The test multiplies instead of dividing the remainder by ``2·root``: one rounding, covered
    by a 2^-40 relative slack, where a division per value costs as much as the root itself.
    (A root that is a power of two never has an exact root below it: the float under ``4^k``
    has its exact root a quarter ulp under ``2^k``, the halfway point there, and no closer;
    so the spacing above ``root`` bounds both sides.) Branch-free, so a loop over it
    vectorizes."""
    root = math.sqrt(x)
    remainder = fma(-root, root, x)  # exact (x in _ROOT_RANGE)
    near_one = (_NEAR_ONE[0] <= root) & (root < _NEAR_ONE[1])  # (& not and: no branches)
    margin = _POW_MARGIN_NEAR_ONE if near_one else _POW_MARGIN
    # |exact - root| = |remainder| / (exact + root) < half an ulp (binade·2^-52) less the margin
    limit = root * (binade(root) * ((2.0**-53 - margin) * _ROOT_SLACK))
    in_range = (_ROOT_RANGE[0] < x) & (x < _ROOT_RANGE[1])  # (NaN fails)
    return root if (abs(remainder) < limit) & in_range else np.nan


@inlined
def _certain_power(x: float, y: float) -> float:
    """:func:`_certain_square` for ``y`` 2, :func:`_certain_root` for ``y`` 0.5."""
    return _certain_square(x) if y == 2.0 else _certain_root(x)


@inlined
def c_pow(x: float, y: float) -> float:
    """``x ** y`` as the C library's ``pow`` returns it, the function Python's float ``**``
    calls (a square or square root without the call where :func:`_certain_square` or
    :func:`_certain_root` is sure of it)."""
    if y == 2.0 or y == 0.5:
        if _CERTAIN_POWERS:
            value = _certain_power(x, y)
            if not math.isnan(value):
                return value
        y = _opaque(y)  # else LLVM, knowing y here, would square (or take sqrt) instead of pow
    return float(x**y)


@inlined
def c_pow_into(x: FloatArray, y: float, out: FloatArray, m: int) -> None:
    """``out[i] = c_pow(x[i], y)`` for ``i < m``: for squares and square roots a vectorized
    pass of :func:`_certain_square` or :func:`_certain_root`, then ``pow`` where it gave NaN
    (~1 in 40 near 1, fewer for squares of bases closer to 1; at random: a test and branch per
    value would be mispredicted at every one), found 64 values at a time by :func:`nan_bits`."""
    if _CERTAIN_POWERS and (y == 2.0 or y == 0.5):
        uncertain = 0  # counted as they are written (the bit masks cost ~1 cycle a value)
        if y == 2.0:
            for i in range(m):
                value = _certain_square(x[i])
                out[i] = value
                uncertain += math.isnan(value)
        else:
            for i in range(m):
                value = _certain_root(x[i])
                out[i] = value
                uncertain += math.isnan(value)
        if uncertain:
            exponent = _opaque(y)
            for block in range(0, m, 64):
                bits = nan_bits(out, block, min(m, block + 64))
                while bits:
                    i = block + lowest_bit(bits)
                    out[i] = x[i] ** exponent
                    bits &= bits - 1
    else:
        for i in range(m):
            out[i] = x[i] ** y


# Zeros. A result of exactly 0.0 from a positive finite base and a finite exponent (or from
# ``exp``) is an underflow Python does not report: CPython's float ``**`` and ``math.exp`` clear
# the C library's ERANGE when the result is zero (``_Py_ADJUST_ERANGE1``; math's ``is_error``:
# an underflow is not an error) and return that 0.0. ``0.95 ** step`` is 0.0 from step ~14,550
# on: kept from the compiled loop, not handed to Python one element at a time. Subnormal
# results still go to Python (whether the C library sets errno there varies).


@compiled
def _powers(
    base: FloatArray, exponent: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_]
) -> None:
    for i in range(base.shape[0]):
        x = base[i]
        y = exponent[i]
        if 0.0 < x < np.inf and -np.inf < y < np.inf:  # NaN fails both
            value = c_pow(x, y)  # the C library's pow, as CPython's float.__pow__ calls it
            if SMALLEST_NORMAL <= value < np.inf or value == 0.0:  # zeros: see above
                out[i] = value
                continue
        python[i] = True


def powers(base: FloatArray, exponent: FloatArray, out: FloatArray) -> npt.NDArray[np.bool_]:
    """``out = base ** exponent`` (1-D, same length) with the C library's ``pow``, the function
    Python's ``**`` calls, on every core for long arrays; True where Python must compute it
    instead: a base that is not positive and finite, an exponent that is not finite, a result
    that is not a normal float (where Python raises, returns a complex, or checks ``errno``)."""
    return _flagged_pass(_powers, (base, exponent), out)


@compiled
def _powers_of(base: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_], y: float) -> None:
    finite_exponent = -np.inf < y < np.inf
    for start in range(0, base.shape[0], CHUNK):
        m = min(CHUNK, base.shape[0] - start)
        c_pow_into(base[start:], y, out[start:], m)
    for i in range(base.shape[0]):  # no branch: a flag for every value
        x, value = base[i], out[i]
        normal = SMALLEST_NORMAL <= value < np.inf  # NaN too: a result Python must make
        kept = normal or value == 0.0  # zeros: see above _powers
        python[i] = not (0.0 < x < np.inf and finite_exponent and kept)


def powers_of(base: FloatArray, exponent: float, out: FloatArray) -> npt.NDArray[np.bool_]:
    """:func:`powers` with one exponent for every base (squares: see :func:`c_pow_into`)."""
    return _flagged_pass(_powers_of, (base,), out, exponent)


@compiled
def _unary(x: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_], op: int) -> None:
    for i in range(x.shape[0]):
        v = x[i]
        if op == _EXP:
            value = math.exp(v)
            if SMALLEST_NORMAL <= value < np.inf or value == 0.0:  # else NaN, overflow or a
                out[i] = value  # subnormal (a zero: as for _powers)
            else:
                python[i] = True
        elif op == _LOG:
            if 0.0 < v < np.inf:  # else an error or a special value
                out[i] = math.log(v)
            else:
                python[i] = True
        elif -np.inf < v < np.inf:  # sin: inf is a domain error, NaN gives NaN
            out[i] = math.sin(v)
        else:
            python[i] = True


def unary(x: FloatArray, out: FloatArray, function: str) -> npt.NDArray[np.bool_]:
    """``out = function(x)`` (1-D) for ``function`` one of 'tanh', 'exp', 'log', 'cos', 'sin',
    with the C library's function, the one ``math`` calls, on every core for long arrays; True
    where Python must compute it instead (where ``math`` raises, returns a special value or
    checks ``errno``)."""
    if function == "cos":  # most values without the call: see warmstep.schedules._cosine
        from warmstep.schedules._cosine import flagged_cosines

        return _flagged_pass(flagged_cosines, (x,), out)
    if function == "tanh":  # without the call where this C library's is known: see _tanh
        from warmstep.schedules._tanh import emulation_agrees, flagged_tanh

        return _flagged_pass(flagged_tanh, (x,), out, emulation_agrees())
    return _flagged_pass(_unary, (x,), out, _UNARY[function])


def _flagged_pass(
    kernel: Callable[..., None], inputs: tuple[FloatArray, ...], out: FloatArray, *options: Any
) -> npt.NDArray[np.bool_]:
    """``kernel(*inputs, out, python, *options)`` over slices on every core; ``python``, the
    elements the kernel leaves to Python, comes back."""
    python = np.zeros(out.shape[0], np.bool_)

    def work(lo: int, hi: int) -> None:
        kernel(*(values[lo:hi] for values in inputs), out[lo:hi], python[lo:hi], *options)

    in_slices(work, out.shape[0])
    return python


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops."""
    floats = np.zeros(2, np.float64)
    powers(floats, floats, np.empty(2, np.float64))
    powers_of(floats, 2.0, np.empty(2, np.float64))
    unary(floats, np.empty(2, np.float64), "exp")

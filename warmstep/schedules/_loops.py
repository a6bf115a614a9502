"""The engine's compiled loops: how they are compiled, and the C library's maths on arrays.

Where no numpy pass gives the library's floats, the engine runs the library's own scalar
arithmetic in numba-compiled code (:func:`compiled`): IEEE float64 without fast-math (no fused
multiply-add, no reassociation), so the results are the library's floats, bit for bit, at ~1-3 ns
a value instead of ~100 ns in a Python loop. The loops live beside their schedules
(``adapters/torch/_fold_loop.py``, ``adapters/_decision_loops.py``,
``adapters/_transformers_loops.py``); this module has the decorator and the C library's ``pow``,
``exp``, ``log``, ``tanh``, ``cos`` and ``sin`` per element (the functions Python's ``**`` and
``math`` call; numpy's own may differ in the last bit), split across the cores.

Importing a loop module imports numba (~0.2 s), so callers import them when they first need a
loop; each loop is compiled on its first call and cached on disk (next to its file, or under
``NUMBA_CACHE_DIR``; compiled afresh in each process where no cache location is writable).
``nogil``: a long evaluation on a thread leaves other threads (the front end's event loop) free.
:func:`warmstep.schedules.prepare_compiled_loops` compiles or loads every loop ahead of time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt

from warmstep.schedules._parallel import in_slices

__all__ = ["compiled", "inlined", "powers", "unary", "warm"]

FloatArray = npt.NDArray[np.float64]
F = TypeVar("F", bound=Callable[..., Any])

_SMALLEST_NORMAL = float(np.finfo(np.float64).smallest_normal)
_TANH, _EXP, _LOG, _COS, _SIN = 0, 1, 2, 3, 4  # the functions of _unary
_UNARY = {"tanh": _TANH, "exp": _EXP, "log": _LOG, "cos": _COS, "sin": _SIN}


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


@compiled
def _powers(
    base: FloatArray, exponent: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_]
) -> None:
    for i in range(base.shape[0]):
        x = base[i]
        y = exponent[i]
        if 0.0 < x < np.inf and -np.inf < y < np.inf:  # NaN fails both
            value = x**y  # the C library's pow, as CPython's float.__pow__ calls it
            if _SMALLEST_NORMAL <= value < np.inf:
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
def _unary(x: FloatArray, out: FloatArray, python: npt.NDArray[np.bool_], op: int) -> None:
    for i in range(x.shape[0]):
        v = x[i]
        if op == _TANH:  # no errors: NaN gives NaN
            out[i] = math.tanh(v)
        elif op == _EXP:
            value = math.exp(v)
            if _SMALLEST_NORMAL <= value < np.inf:  # else NaN, overflow or underflow
                out[i] = value
            else:
                python[i] = True
        elif op == _LOG:
            if 0.0 < v < np.inf:  # else an error or a special value
                out[i] = math.log(v)
            else:
                python[i] = True
        elif -np.inf < v < np.inf:  # cos, sin: inf is a domain error, NaN gives NaN
            out[i] = math.cos(v) if op == _COS else math.sin(v)
        else:
            python[i] = True


def unary(x: FloatArray, out: FloatArray, function: str) -> npt.NDArray[np.bool_]:
    """``out = function(x)`` (1-D) for ``function`` one of 'tanh', 'exp', 'log', 'cos', 'sin',
    with the C library's function, the one ``math`` calls, on every core for long arrays; True
    where Python must compute it instead (where ``math`` raises, returns a special value or
    checks ``errno``)."""
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
    unary(floats, np.empty(2, np.float64), "exp")

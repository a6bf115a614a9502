"""Sequential loops compiled to machine code, for the recurrences no numpy pass reproduces.

Some schedules are a true recurrence: each value is computed from the previous one with
roundings that any reordering would change (torch's CosineAnnealingLR with ``eta_min``, SWALR's
anneal, a chain of mixed writes), or a decision that depends on every earlier one (the
reduce-on-plateau scans). These loops run them in numba-compiled code, one value at a time,
performing exactly the float operations CPython performs in the library, in the same order:
numba compiles IEEE float64 arithmetic without fast-math (no fused multiply-add, no
reassociation), so the results are the library's own floats, bit for bit, at ~1-3 ns a value
instead of ~100 ns in a Python loop.

Importing this module imports numba (~0.2 s), so callers import it when they first need a loop;
each loop is compiled on its first call and cached on disk (next to this file, or under
``NUMBA_CACHE_DIR``; compiled afresh in each process where no cache location is writable).
``nogil``: a long evaluation on a thread leaves other threads (the front end's event loop) free.
:func:`warm` compiles or loads every loop ahead of time.

Example: ``fold_writes(1.0, np.array([1, 1]), np.array([0.5, 0.5]), z, z)`` with
``z = np.zeros(2)`` gives ``[0.5, 0.25]`` (two ``MUL`` writes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np
import numpy.typing as npt

from warmstep.schedules._parallel import in_slices

__all__ = [
    "compiled",
    "fold_steps",
    "fold_writes",
    "greedy_curve",
    "plateau_reductions",
    "powers",
    "unary",
    "warm",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
F = TypeVar("F", bound=Callable[..., Any])

# The write codes of warmstep.schedules.adapters.torch._ops (imported there from here would be a
# cycle through the adapters; tests/warmstep/schedules/test_loops.py checks they agree).
_SET, _MUL, _AFFINE, _ADD = 0, 1, 2, 3
_SMALLEST_NORMAL = float(np.finfo(np.float64).smallest_normal)
_TANH, _EXP, _LOG, _COS, _SIN = 0, 1, 2, 3, 4  # the functions of _unary
_UNARY = {"tanh": _TANH, "exp": _EXP, "log": _LOG, "cos": _COS, "sin": _SIN}


def compiled(function: F) -> F:
    """``numba.njit`` as every loop of the engine uses it: no GIL, numpy's float error model
    (no exception checks), cached on disk where a cache location is writable."""
    options: dict[str, Any] = {"nogil": True, "error_model": "numpy"}
    try:
        return numba.njit(cache=True, **options)(function)  # type: ignore[no-any-return]
    except RuntimeError:  # no writable cache location: compile in each process
        return numba.njit(**options)(function)  # type: ignore[no-any-return]


@compiled
def _fold_steps(
    lr: float, kind: IntArray, a: FloatArray, b: FloatArray, c: FloatArray, out: FloatArray
) -> None:
    for i in range(kind.shape[1]):
        for j in range(kind.shape[0]):
            k = kind[j, i]
            x = a[j, i]
            if k == _MUL:
                lr = lr * x
            elif k == _AFFINE:
                lr = x * (lr - b[j, i]) + b[j, i]
            elif k == _SET:
                lr = x
            elif k == _ADD:
                lr = lr + x
            else:  # SWA: torch's expression; a weight of exactly 1 skips the division
                y = b[j, i]
                z = c[j, i]
                lr = z * y + z * (1 - y) if x == 1.0 else z * y + (lr - x * z) / (1 - x) * (1 - y)
        out[i] = lr


def fold_steps(
    lr: float, kind: IntArray, a: FloatArray, b: FloatArray, c: FloatArray
) -> FloatArray:
    """One param group under ``k`` writers that each write once per step, in order (a
    ChainedScheduler): parameters of shape ``(k, n)``; the lr after each step's last write,
    starting from ``lr`` (torch applies each write to the value the previous one left; see
    :mod:`..adapters.torch._ops` for the codes)."""
    out = np.empty(kind.shape[1], np.float64)
    _fold_steps(float(lr), kind, a, b, c, out)
    return out


def fold_writes(
    lr: float, kind: IntArray, a: FloatArray, b: FloatArray, c: FloatArray
) -> FloatArray:
    """The lr after each write of one param group, starting from ``lr``: one writer."""
    return fold_steps(lr, kind[None, :], a[None, :], b[None, :], c[None, :])


@compiled
def _plateau_reductions(
    values: FloatArray,
    first: int,
    scale: float,
    shift: float,
    patience: int,
    cooldown: int,
    calls: IntArray,
) -> int:
    bound = np.inf * scale - shift
    bad = 0
    cool = 0
    count = 0
    for j in range(values.shape[0]):
        value = values[j]
        if value < bound:
            bad = 0
            bound = value * scale - shift
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > patience:
            calls[count] = first + j
            count += 1
            cool = cooldown
            bad = 0
    return count


def plateau_reductions(
    values: FloatArray, first: int, scale: float, shift: float, patience: int, cooldown: int
) -> IntArray:
    """Calls at which a reduce-on-plateau scheduler reduces: call ``first + j`` sees
    ``values[j]`` (sign-adjusted: lower is better) and beats the best when it is below
    ``best * scale - shift`` (see :mod:`..adapters._plateau_scan`)."""
    calls = np.empty(values.shape[0], np.int64)
    count = _plateau_reductions(
        values, int(first), float(scale), float(shift), int(patience), int(cooldown), calls
    )
    return calls[:count]


@compiled
def _greedy(
    metrics: FloatArray,
    flags: IntArray,
    counts: IntArray,
    numbers: FloatArray,
    min_lrs: FloatArray,
    max_lrs: FloatArray,
    init_lrs: FloatArray,
    out: FloatArray,
) -> None:
    maximize, relative, smooth = flags[0] != 0, flags[1] != 0, flags[2] != 0
    patience, cooldown, warmup, reset_start, window = (
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
    )
    threshold, factor, eps = numbers[0], numbers[1], numbers[2]
    groups = init_lrs.shape[0]
    lrs = init_lrs.copy()
    ring = np.empty(max(min(window, metrics.shape[0]), 1), np.float64)  # what the window holds
    worst = -np.inf if maximize else np.inf
    best = worst
    bad = good = cool = warm = 0
    held = head = 0
    total = 0.0
    resets_left = reset_start
    for g in range(groups):
        out[g, 0] = lrs[g]
    for i in range(metrics.shape[0]):
        current = metrics[i]
        if smooth:  # append, then drop the oldest past the window: the library's order
            total += current
            if held < window:
                ring[(head + held) % window] = current
                held += 1
            else:
                total -= ring[head]
                ring[head] = current
                head = (head + 1) % window
            current = total / held
        if cool > 0:
            cool -= 1
            bad = good = 0
        elif warm > 0:
            warm -= 1
            bad = good = 0
        else:
            if maximize:
                better = current > (best * (threshold + 1.0) if relative else best + threshold)
            else:
                better = current < (best * (1.0 - threshold) if relative else best - threshold)
            if better:
                best = current
                bad = 0
                good += 1
            else:
                bad += 1
                good = 0
            if good > patience:
                for g in range(groups):
                    old = lrs[g]
                    up = old / factor
                    new = max_lrs[g] if max_lrs[g] < up else up  # Python's min(up, max_lr)
                    if new - old > eps:
                        lrs[g] = new
                resets_left = reset_start
                warm = warmup
                good = 0
            elif bad > patience:
                all_at_min = True
                for g in range(groups):
                    old = lrs[g]
                    down = old * factor
                    new = min_lrs[g] if min_lrs[g] > down else down  # Python's max(down, min_lr)
                    if old - new > eps:
                        lrs[g] = new
                    if lrs[g] > min_lrs[g]:
                        all_at_min = False
                if all_at_min:
                    resets_left -= 1
                    if resets_left <= 0:
                        lrs[:] = init_lrs
                        resets_left = reset_start
                        best = worst
                        good = warm = held = head = 0
                        total = 0.0
                cool = cooldown
                bad = 0
        for g in range(groups):
            out[g, i + 1] = lrs[g]


def greedy_curve(
    metrics: FloatArray,
    *,
    maximize: bool,
    relative: bool,
    smooth: bool,
    counts: tuple[int, int, int, int, int],
    numbers: tuple[float, float, float],
    min_lrs: FloatArray,
    max_lrs: FloatArray,
    init_lrs: FloatArray,
) -> FloatArray:
    """transformers' ``GreedyLR.step(metric)`` once per metric, the lrs after each: shape
    ``(groups, len(metrics) + 1)``, column 0 the initial lrs. ``counts`` is (patience, cooldown,
    warmup, reset_start, window_size), ``numbers`` (threshold, factor, eps). The caller keeps
    ``factor == 0`` (a division by zero) and a smoothing window under 1 for Python."""
    out = np.empty((init_lrs.shape[0], metrics.shape[0] + 1), np.float64)
    _greedy(
        np.ascontiguousarray(metrics, np.float64),
        np.array([maximize, relative, smooth], np.int64),
        np.array(counts, np.int64),
        np.array(numbers, np.float64),
        np.ascontiguousarray(min_lrs, np.float64),
        np.ascontiguousarray(max_lrs, np.float64),
        np.ascontiguousarray(init_lrs, np.float64),
        out,
    )
    return out


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
    python = np.zeros(base.shape[0], np.bool_)

    def work(lo: int, hi: int) -> None:
        _powers(base[lo:hi], exponent[lo:hi], out[lo:hi], python[lo:hi])

    in_slices(work, base.shape[0])
    return python


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
    op = _UNARY[function]
    python = np.zeros(x.shape[0], np.bool_)

    def work(lo: int, hi: int) -> None:
        _unary(x[lo:hi], out[lo:hi], python[lo:hi], op)

    in_slices(work, x.shape[0])
    return python


def warm() -> None:
    """Compile (or load from the disk cache) every loop for the argument types callers pass."""
    floats = np.zeros(2, np.float64)
    read_only = np.broadcast_to(np.float64(0.0), (2,))
    kinds = np.array([_MUL, _AFFINE], np.int64)
    fold_writes(1.0, kinds, floats, floats, floats)
    fold_writes(1.0, kinds, floats, read_only, read_only)
    plateau_reductions(floats, 1, 1.0, 0.0, 10, 0)
    powers(floats, floats, np.empty(2, np.float64))
    unary(floats, np.empty(2, np.float64), "exp")
    ones = np.ones(1, np.float64)
    greedy_curve(
        floats,
        maximize=False,
        relative=False,
        smooth=True,
        counts=(1, 0, 0, 1, 2),
        numbers=(0.0, 0.5, 1e-8),
        min_lrs=ones,
        max_lrs=ones,
        init_lrs=ones,
    )

"""transformers' LambdaLR lambdas as compiled loops, a few passes over the steps per curve.

Each loop is the library's lambda written out for one step ``s`` (the same float operations in
the same order: numba compiles IEEE float64 arithmetic without fast-math, and ``math.cos``,
``math.sqrt`` and ``**`` are the C library's, as in Python), followed by LambdaLR's
``base_lr * λ(s)`` for every param group. The steps are split across the cores
(:func:`warmstep.schedules._parallel.in_slices`). Python's ``max(0.0, x)`` keeps 0.0 unless
``x > 0.0`` (NaN included), written out as such.

The steps past the warmup go in chunks of :data:`CHUNK` through separate passes: the arguments,
then the C library's ``cos`` (:func:`warmstep.schedules._cosine.c_cos_into`: its values,
mostly without the call) / ``pow`` alone in a tight loop, then the rest of the lambda, then
the stores. One function call per step in a loop that keeps a dozen values alive (spilled and
reloaded around every call) cost ~40% more than the same calls over a buffer, and the passes
without a call vectorize. Each value is still computed alone, in the library's order.

A step where the library raises (an infinite cosine angle, a square root of a non-positive
number) stops the loop: its index comes back and the caller names it. Imported on first use
(numba); :func:`warm` compiles or loads them ahead of time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, c_pow_into, compiled, inlined
from warmstep.schedules._parallel import in_slices

__all__ = [
    "StepFailure",
    "cosine",
    "cosine_lr_rate",
    "hard_restarts",
    "inverse_sqrt",
    "linear",
    "polynomial",
    "warm",
    "wsd",
]

NO_FAILURE = -1


class StepFailure(ValueError):
    """The library raises at ``step`` (Python's math domain error or division by zero)."""

    def __init__(self, step: int) -> None:
        super().__init__(f"math domain error at step {step}")
        self.step = step


def _run(kernel: Callable[..., int], steps: int, bases: FloatArray, *args: Any) -> FloatArray:
    """``kernel(lo, hi, *args, bases, out) -> first failing step or -1`` over every slice; the
    lrs, shape ``(groups, steps)``; raises :class:`StepFailure` at the first failing step."""
    out = np.empty((bases.shape[0], steps), np.float64)
    failures: list[int] = []

    def work(lo: int, hi: int) -> None:
        failed = kernel(lo, hi, *args, bases, out)
        if failed != NO_FAILURE:
            failures.append(failed)

    in_slices(work, steps)
    if failures:
        raise StepFailure(min(failures))
    return out


@inlined
def _warmup(s: int, warmup: int) -> float:
    return float(s) / float(max(1, warmup))


@inlined
def _store_chunk(
    out: FloatArray, bases: FloatArray, start: int, values: FloatArray, m: int
) -> None:
    """LambdaLR's ``base_lr * λ(s)`` for every group, for the steps ``start .. start + m - 1``
    (``λ`` in ``values[:m]``)."""
    for g in range(bases.shape[0]):
        base, row = bases[g], out[g, start : start + m]
        for i in range(m):  # (a row slice from 0: out[g, start + i] vectorizes worse)
            row[i] = base * values[i]


@inlined
def _first_infinite(values: FloatArray, m: int) -> int:
    for i in range(m):
        if math.isinf(values[i]):
            return i
    return NO_FAILURE


@compiled
def _linear(
    lo: int, hi: int, warmup: int, training: int, bases: FloatArray, out: FloatArray
) -> int:
    values = np.empty(CHUNK, np.float64)
    _store_warmup(lo, hi, warmup, _RAMP, 0.0, bases, out, values)
    for start in range(max(lo, warmup), hi, CHUNK):
        m = min(CHUNK, hi - start)
        for i in range(m):
            value = float(training - (start + i)) / float(max(1, training - warmup))
            values[i] = value if value > 0.0 else 0.0
        _store_chunk(out, bases, start, values, m)
    return NO_FAILURE


def linear(steps: int, bases: FloatArray, warmup: int, training: int) -> FloatArray:
    """``get_linear_schedule_with_warmup``: warmup, then ``max(0, (N - s) / max(1, N - W))``."""
    return _run(_linear, steps, bases, warmup, training)


@inlined
def _store_constant(lo: int, hi: int, value: float, bases: FloatArray, out: FloatArray) -> None:
    """``base_lr * value`` at the steps ``lo .. hi - 1``."""
    for g in range(bases.shape[0]):
        out[g, lo:hi] = bases[g] * value


# How the warmup steps s < W are computed: the lambdas differ there.
_RAMP, _RAMP_AHEAD, _RAMP_FROM_RATE = 0, 1, 2


@inlined
def _store_warmup(
    lo: int,
    hi: int,
    warmup: int,
    ramp: int,
    warmup_rate: float,
    bases: FloatArray,
    out: FloatArray,
    values: FloatArray,
) -> None:
    """The warmup steps ``lo .. min(hi, warmup) - 1`` a chunk at a time (``values``: a buffer
    of :data:`CHUNK`)."""
    end = min(hi, warmup)
    for start in range(lo, end, CHUNK):
        m = min(CHUNK, end - start)
        for i in range(m):
            s = start + i
            if ramp == _RAMP_AHEAD:
                values[i] = (s + 1) / max(1, warmup)
            elif ramp == _RAMP_FROM_RATE:
                values[i] = warmup_rate + (1.0 - warmup_rate) * float(s) / float(max(1, warmup - 1))
            else:
                values[i] = _warmup(s, warmup)
        _store_chunk(out, bases, start, values, m)


@compiled
def _cosine(
    lo: int,
    hi: int,
    warmup: int,
    training: int,
    cycles: float,
    rate: float,
    with_rate: bool,
    ramp: int,
    warmup_rate: float,
    shift: int,
    bases: FloatArray,
    out: FloatArray,
) -> int:
    angles, values = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    _store_warmup(lo, hi, warmup, ramp, warmup_rate, bases, out, values)
    span = float(max(1, training - warmup))
    for start in range(max(lo, warmup), hi, CHUNK):
        m = min(CHUNK, hi - start)
        for i in range(m):
            progress = float(start + i - warmup + shift) / span
            angles[i] = math.pi * cycles * 2.0 * progress
        infinite = _first_infinite(angles, m)
        if infinite != NO_FAILURE:
            return start + infinite
        c_cos_into(angles, values, m)
        for i in range(m):
            value = 0.5 * (1.0 + values[i])
            if with_rate:
                value = value * (1 - rate) + rate
            values[i] = value if value > 0.0 else 0.0
        _store_chunk(out, bases, start, values, m)
    return NO_FAILURE


def cosine(
    steps: int,
    bases: FloatArray,
    warmup: int,
    training: int,
    cycles: float,
    rate: float | None = None,
) -> FloatArray:
    """``get_cosine_schedule_with_warmup``: warmup, then ``max(0, 0.5·(1 + cos(π·c·2·p)))``;
    with ``rate`` (``get_cosine_with_min_lr_schedule_with_warmup``) the factor ``f`` becomes
    ``f·(1 - rate) + rate`` before the ``max``."""
    with_rate = rate is not None
    args = (warmup, training, cycles, rate or 0.0, with_rate, _RAMP, 0.0, 0)
    return _run(_cosine, steps, bases, *args)


def cosine_lr_rate(
    steps: int,
    bases: FloatArray,
    warmup: int,
    training: int,
    cycles: float,
    rate: float,
    warmup_rate: float | None,
) -> FloatArray:
    """``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``: warmup ``(s + 1) / max(1, W)``
    or ``r + (1 - r)·s / max(1, W - 1)``, then the min-rate cosine of
    ``p = (s - W + 1) / max(1, N - W)``."""
    ramp = _RAMP_AHEAD if warmup_rate is None else _RAMP_FROM_RATE
    args = (warmup, training, cycles, rate, True, ramp, warmup_rate or 0.0, 1)
    return _run(_cosine, steps, bases, *args)


@compiled
def _hard_restarts(
    lo: int, hi: int, warmup: int, training: int, cycles: float, bases: FloatArray, out: FloatArray
) -> int:
    angles, values = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    _store_warmup(lo, hi, warmup, _RAMP, 0.0, bases, out, values)
    span = float(max(1, training - warmup))
    progress = np.empty(CHUNK, np.float64)
    for start in range(max(lo, warmup), hi, CHUNK):
        m = min(CHUNK, hi - start)
        for i in range(m):
            progress[i] = float(start + i - warmup) / span
            phase = np.fmod(cycles * progress[i], 1.0)
            if phase < 0.0:  # Python's x % 1.0, exactly: the sign of the divisor
                phase += 1.0  # (fmod itself is exact)
            elif phase == 0.0:
                phase = 0.0
            angles[i] = math.pi * phase
        c_cos_into(angles, values, m)
        for i in range(m):
            if progress[i] >= 1.0:
                values[i] = 0.0
            else:
                value = 0.5 * (1.0 + values[i])
                values[i] = value if value > 0.0 else 0.0
        _store_chunk(out, bases, start, values, m)
    return NO_FAILURE


def hard_restarts(
    steps: int, bases: FloatArray, warmup: int, training: int, cycles: float
) -> FloatArray:
    """``get_cosine_with_hard_restarts_schedule_with_warmup``: warmup, 0 for p ≥ 1, else
    ``max(0, 0.5·(1 + cos(π·((c·p) % 1))))``."""
    return _run(_hard_restarts, steps, bases, warmup, training, cycles)


@compiled
def _inverse_sqrt(
    lo: int, hi: int, warmup: int, timescale: int, bases: FloatArray, out: FloatArray
) -> int:
    values = np.empty(CHUNK, np.float64)
    _store_warmup(lo, hi, warmup, _RAMP, 0.0, bases, out, values)
    shift = timescale - warmup
    for start in range(max(lo, warmup), hi, CHUNK):
        m = min(CHUNK, hi - start)
        for i in range(m):
            values[i] = (start + i + shift) / timescale
        for i in range(m):
            if not values[i] > 0.0:  # Python: a domain error, or 1 / 0.0
                return start + i
        for i in range(m):
            values[i] = 1.0 / math.sqrt(values[i])
        _store_chunk(out, bases, start, values, m)
    return NO_FAILURE


def inverse_sqrt(steps: int, bases: FloatArray, warmup: int, timescale: int) -> FloatArray:
    """``get_inverse_sqrt_schedule``: warmup, then ``1 / sqrt((s + timescale - W) / timescale)``
    (``timescale`` not 0: the caller refuses it)."""
    return _run(_inverse_sqrt, steps, bases, warmup, timescale)


@compiled
def _polynomial(
    lo: int,
    hi: int,
    warmup: int,
    training: int,
    lr_end: float,
    power: float,
    lr_init: float,
    bases: FloatArray,
    out: FloatArray,
) -> int:
    values = np.empty(CHUNK, np.float64)
    _store_warmup(lo, hi, warmup, _RAMP, 0.0, bases, out, values)
    powered = np.empty(CHUNK, np.float64)
    decay_end = min(hi, training + 1)
    for start in range(max(lo, warmup), decay_end, CHUNK):
        m = min(CHUNK, decay_end - start)
        for i in range(m):
            values[i] = 1 - (start + i - warmup) / (training - warmup)
        c_pow_into(values, power, powered, m)
        for i in range(m):
            values[i] = ((lr_init - lr_end) * powered[i] + lr_end) / lr_init
        _store_chunk(out, bases, start, values, m)
    _store_constant(max(lo, warmup, training + 1), hi, lr_end / lr_init, bases, out)
    return NO_FAILURE


def polynomial(
    steps: int,
    bases: FloatArray,
    warmup: int,
    training: int,
    lr_end: float,
    power: float,
    lr_init: float,
) -> FloatArray:
    """``get_polynomial_decay_schedule_with_warmup``: warmup; ``lr_end / lr_init`` past N; else
    ``((lr_init - lr_end)·(1 - (s - W)/(N - W))**power + lr_end) / lr_init`` (N > W where that
    branch is reached, and no 0.0 to a negative power: the caller refuses both)."""
    return _run(_polynomial, steps, bases, warmup, training, lr_end, power, lr_init)


WSD_SHAPES = {"linear": 0, "cosine": 1, "1-sqrt": 2}
_LINEAR, _COSINE = WSD_SHAPES["linear"], WSD_SHAPES["cosine"]


@compiled
def _wsd(
    lo: int,
    hi: int,
    warmup: int,
    stable: int,
    decay: int,
    rise: int,
    fall: int,
    ratio: float,
    cycles: float,
    bases: FloatArray,
    out: FloatArray,
) -> int:
    values = np.empty(CHUNK, np.float64)
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        for i in range(m):
            s = start + i
            if s < warmup:
                progress = float(s) / float(max(1, warmup))
                if rise == _LINEAR:
                    factor = progress
                elif rise == _COSINE:
                    factor = 0.5 * (1.0 - math.cos(math.pi * progress))
                else:
                    factor = 1.0 - math.sqrt(1.0 - progress)
            elif s < warmup + stable:
                values[i] = 1.0
                continue
            elif s < warmup + stable + decay:
                progress = float(s - warmup - stable) / float(max(1, decay))
                if fall == _LINEAR:
                    factor = 1.0 - progress
                elif fall == _COSINE:
                    factor = 0.5 * (1.0 + math.cos(math.pi * cycles * 2.0 * progress))
                else:
                    factor = 1.0 - math.sqrt(progress)
            else:
                values[i] = ratio
                continue
            factor = factor * (1.0 - ratio) + ratio
            values[i] = factor if factor > 0.0 else 0.0
        _store_chunk(out, bases, start, values, m)
    return NO_FAILURE


def wsd(
    steps: int,
    bases: FloatArray,
    warmup: int,
    stable: int,
    decay: int,
    rise: str,
    fall: str,
    ratio: float,
    cycles: float,
) -> FloatArray:
    """``get_wsd_schedule``'s lambda, its if-chain as the library's: warmup ``s < W`` (shape
    ``rise`` of ``p = s / max(1, W)``), stable ``s < W + S`` (1), decay ``s < W + S + D``
    (shape ``fall`` of ``p = (s - W - S) / max(1, D)``), then ``ratio``; warmup and decay
    ``max(0, f·(1 - ratio) + ratio)``. Shapes: 'linear', 'cosine', '1-sqrt'."""
    args = (warmup, stable, decay, WSD_SHAPES[rise], WSD_SHAPES[fall], ratio, cycles)
    return _run(_wsd, steps, bases, *args)


def warm() -> None:
    """Compile (or load from the disk cache) every loop."""
    bases = np.ones(1, np.float64)
    linear(2, bases, 1, 2)
    cosine(2, bases, 1, 2, 0.5)
    cosine_lr_rate(2, bases, 1, 2, 0.5, 0.1, None)
    hard_restarts(2, bases, 1, 2, 1.0)
    inverse_sqrt(2, bases, 1, 1)
    polynomial(2, bases, 1, 2, 0.0, 1.0, 1.0)
    wsd(2, bases, 1, 0, 1, "linear", "cosine", 0.0, 0.5)

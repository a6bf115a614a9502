"""CyclicLR and OneCycleLR as compiled loops: every value (lr and momentum) from its epoch alone.

Both schedulers compute their lrs from the epoch, not from the previous lr, so a standalone one
is a closed form at every step: these loops write torch's ``get_lr`` for epochs ``lo .. hi-1``
straight into the curve (same float operations in the same order; ``math.cos`` is the C
library's, as in Python), split across the cores. Imported on first use (numba); :func:`warm`
compiles or loads them ahead of time.

Example (the formulas in :mod:`.cyclic`): CyclicLR with base 0.1, max 1 and 2 steps up and down
gives 0.1, 0.55, 1.0, 0.55, 0.1 at epochs 0-4: at epoch 1, ``x = 1 + 1/4 - 1 = 0.25``, the factor
``x / 0.5 = 0.5``, the lr ``0.1 + 0.9 * 0.5``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, compiled, inlined
from warmstep.schedules._parallel import in_slices

__all__ = ["PhasePass", "cyclic", "one_cycle", "warm", "warm_restarts"]


@compiled
def _cyclic(
    lo: int,
    hi: int,
    total: float,
    ratio: float,
    halving: bool,
    bases: FloatArray,
    spans: FloatArray,
    tops: FloatArray,
    momentum_spans: FloatArray,
    lr: FloatArray,
    momentum: FloatArray,
) -> None:
    with_momentum = momentum.shape[0] > 0
    factor = np.empty(CHUNK, np.float64)
    scale = np.empty(CHUNK, np.float64)
    for first in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - first)
        for i in range(m):
            x = 1.0 + float(first + i) / total
            cycle = math.floor(x)
            x = x - cycle
            factor[i] = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
            scale[i] = 1.0 / math.ldexp(1.0, int(cycle) - 1) if halving else 1.0
        for g in range(bases.shape[0]):
            out = lr[g, first : first + m]
            for i in range(m):  # base + (max - base) * factor * scale
                height = spans[g] * factor[i]
                out[i] = bases[g] + (height * scale[i] if halving else height)
            if with_momentum:
                out = momentum[g, first : first + m]
                for i in range(m):  # max_m - (max_m - base_m) * factor * scale
                    height = momentum_spans[g] * factor[i]
                    out[i] = tops[g] - (height * scale[i] if halving else height)


def cyclic(
    steps: int,
    total: float,
    ratio: float,
    halving: bool,
    bases: FloatArray,
    max_lrs: FloatArray,
    momentum_range: tuple[FloatArray, FloatArray] | None,
) -> tuple[FloatArray, FloatArray | None]:
    """CyclicLR's lrs (and momenta, from ``(base_momentum, max_momentum)``) at epochs
    ``0 .. steps-1``, shape ``(groups, steps)``: mode 'triangular', or 'triangular2' with
    ``halving`` (scale ``1 / 2.0 ** (cycle - 1)``; the caller checks that it stays finite)."""
    groups = bases.shape[0]
    lr = np.empty((groups, steps), np.float64)
    momentum = np.empty((groups if momentum_range else 0, steps), np.float64)
    spans = max_lrs - bases
    low_m, top_m = momentum_range or (np.zeros(groups), np.zeros(groups))
    momentum_spans = top_m - low_m

    def work(lo: int, hi: int) -> None:
        _cyclic(lo, hi, total, ratio, halving, bases, spans, top_m, momentum_spans, lr, momentum)

    in_slices(work, steps)
    return lr, (momentum if momentum_range else None)


@compiled
def _phase(
    lo: int,
    hi: int,
    start: float,
    end: float,
    cosine: bool,
    lr_from: FloatArray,
    lr_to: FloatArray,
    momentum_from: FloatArray,
    momentum_to: FloatArray,
    lr: FloatArray,
    momentum: FloatArray,
) -> None:
    with_momentum = momentum.shape[0] > 0
    shape, angles = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    for first in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - first)
        for i in range(m):
            shape[i] = (float(first + i) - start) / (end - start)  # pct
        if cosine:  # the C library's cos alone in its loop: no values to spill around the call
            for i in range(m):
                angles[i] = math.pi * shape[i]
            c_cos_into(angles, shape, m)
            for i in range(m):
                shape[i] = shape[i] + 1
        for g in range(lr_from.shape[0]):
            _anneal(lr_from[g], lr_to[g], cosine, shape, m, lr[g, first : first + m])
            if with_momentum:
                _anneal(
                    momentum_from[g],
                    momentum_to[g],
                    cosine,
                    shape,
                    m,
                    momentum[g, first : first + m],
                )


@inlined
def _anneal(a: float, b: float, cosine: bool, shape: FloatArray, m: int, out: FloatArray) -> None:
    """torch's anneal from ``a`` to ``b``: ``b + (a - b) / 2.0 * (cos(pi * pct) + 1)``, or
    ``(b - a) * pct + a``."""
    if cosine:
        half = (a - b) / 2.0
        for i in range(m):
            out[i] = b + half * shape[i]
    else:
        for i in range(m):
            out[i] = (b - a) * shape[i] + a


class PhasePass(NamedTuple):
    """OneCycleLR's phase from step ``start`` to ``end``, written at epochs ``lo .. hi-1``: its
    lrs annealed from ``lrs[0]`` to ``lrs[1]`` (``momenta`` likewise, None without)."""

    lo: int
    hi: int
    start: float
    end: float
    lrs: tuple[FloatArray, FloatArray]
    momenta: tuple[FloatArray, FloatArray] | None


def one_cycle(
    phases: list[PhasePass], cosine: bool, lr: FloatArray, momentum: FloatArray | None
) -> None:
    """Every phase (cosine or linear) written into its columns of ``lr`` (and ``momentum``),
    in one pass over the epochs on every core (a slice crossing a phase boundary writes the
    part of each phase it holds)."""
    empty = np.zeros((0, lr.shape[1]), np.float64)

    def work(a: int, b: int) -> None:
        for phase in phases:
            lo, hi = max(a, phase.lo), min(b, phase.hi)
            if lo >= hi:
                continue
            momentum_from, momentum_to = phase.momenta or phase.lrs
            _phase(
                lo,
                hi,
                phase.start,
                phase.end,
                cosine,
                phase.lrs[0],
                phase.lrs[1],
                momentum_from,
                momentum_to,
                lr,
                momentum if momentum is not None else empty,
            )

    in_slices(work, max((phase.hi for phase in phases), default=0))


@compiled
def _warm_restarts(
    lo: int,
    hi: int,
    first: int,
    t0: int,
    mult: int,
    bases: FloatArray,
    eta: float,
    out: FloatArray,
) -> None:
    position = first + lo
    if mult == 1:
        start, length = position // t0 * t0, t0
    else:
        start, length = 0, t0
        while start + length <= position:
            start, length = start + length, length * mult
    angle, cosine = np.empty(CHUNK, np.float64), np.empty(CHUNK, np.float64)
    for chunk in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - chunk)
        i = 0
        while i < m:  # pi * T_cur / T_i, a run within one cycle at a time (no branch inside)
            position = first + chunk + i
            if position >= start + length:
                start, length = start + length, length * mult
            run = min(m - i, start + length - position)
            offset, run_angle = position - start, angle[i : i + run]
            for k in range(run):  # (indices from 0: the loop vectorizes)
                run_angle[k] = math.pi * (offset + k) / length
            i += run
        c_cos_into(angle, cosine, m)  # the C library's cos alone in its loop
        for g in range(bases.shape[0]):
            span, row = bases[g] - eta, out[g, chunk : chunk + m]
            for i in range(m):  # eta_min + (base_lr - eta_min) * (1 + cos(...)) / 2
                row[i] = eta + span * (1 + cosine[i]) / 2


def warm_restarts(
    first: int, t0: int, mult: int, bases: FloatArray, eta: float, out: FloatArray
) -> None:
    """CosineAnnealingWarmRestarts' lrs at positions (epochs since the last reset) ``first ..
    first + n - 1`` into ``out`` (``(groups, n)``): ``T_i`` starts at ``t0`` and grows by
    ``mult`` at each restart, ``T_cur`` counts within the cycle (one position a step: the
    cycle changes at most once between two positions)."""
    in_slices(lambda lo, hi: _warm_restarts(lo, hi, first, t0, mult, bases, eta, out), out.shape[1])


def warm() -> None:
    """Compile (or load from the disk cache) this module's loops."""
    ones = np.ones(1, np.float64)
    cyclic(2, 2.0, 0.5, True, ones, ones, (ones, ones))
    lr = np.empty((1, 2), np.float64)
    one_cycle([PhasePass(0, 2, 0.0, 1.0, (ones, ones), (ones, ones))], True, lr, lr.copy())
    warm_restarts(1, 2, 2, ones, 0.0, lr)

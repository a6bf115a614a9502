"""torch's lr writes folded one after another in compiled code (see :mod:`._ops` for the writes).

torch applies each write to the value the previous one left, with one Python float operation per
write; a cosine with ``eta_min`` (``AFFINE``), a restart (``ADD``) or SWALR's anneal (``SWA``)
depends on the previous value in a way no vectorised form follows (its rounding near the bottom
of a cosine is amplified afterwards). These loops perform torch's own expressions in order, at
~2 ns a write (:func:`warmstep.schedules._loops.compiled`: IEEE float64, no fast-math).

Example: ``fold_writes(1.0, np.array([MUL, MUL]), np.array([0.5, 0.5]), z, z)`` with
``z = np.zeros(2)`` gives ``[0.5, 0.25]``.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules._cosine import c_cos_into
from warmstep.schedules._loops import CHUNK, compiled, inlined
from warmstep.schedules._parallel import in_slices, in_slices_folded
from warmstep.schedules.adapters.torch._ops import ADD, AFFINE, MUL, SET, IntArray

BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "chained_multipliers",
    "cosine_annealing",
    "cosine_ratios",
    "fold_factors",
    "fold_steps",
    "fold_writes",
    "linear_ramp",
    "warm",
]


@compiled
def _fold_steps(
    lr: float, kind: IntArray, a: FloatArray, b: FloatArray, c: FloatArray, out: FloatArray
) -> None:
    for i in range(kind.shape[1]):
        for j in range(kind.shape[0]):
            k = kind[j, i]
            x = a[j, i]
            if k == MUL:
                lr = lr * x
            elif k == AFFINE:
                lr = x * (lr - b[j, i]) + b[j, i]
            elif k == SET:
                lr = x
            elif k == ADD:
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
def _cosine_ratios(lo: int, hi: int, first: int, t: int, ratio: FloatArray) -> None:
    """``ratio[i] = (1 + cos(pi*e/t)) / (1 + cos(pi*(e-1)/t))`` at epoch ``e = first + i``, for
    ``i`` in ``lo .. hi-1``: each chunk's cosines (one more than its ratios) in a tight loop."""
    angles, values = np.empty(CHUNK + 1, np.float64), np.empty(CHUNK + 1, np.float64)
    for start in range(lo, hi, CHUNK):
        m = min(CHUNK, hi - start)
        for j in range(m + 1):
            angles[j] = math.pi * (first + start + j - 1) / t  # epoch e - 1 of ratio start + j
        c_cos_into(angles, values, m + 1)
        ratios = ratio[start : start + m]  # (a slice from 0: ratio[start + j] vectorizes worse)
        for j in range(m):
            ratios[j] = (1 + values[j + 1]) / (1 + values[j])


def cosine_ratios(first: int, t: int, n: int) -> FloatArray:
    """CosineAnnealingLR's ``step()`` factor at the epochs ``first .. first + n - 1``, torch's
    ``(1 + cos(pi*e/t)) / (1 + cos(pi*(e-1)/t))`` (inf or NaN where the divisor is 0: torch
    adds at those epochs instead), on every core."""
    ratio = np.empty(n, np.float64)
    in_slices(lambda lo, hi: _cosine_ratios(lo, hi, first, t, ratio), n)
    return ratio


_RUN = 256  # steps of one guessed run of the cosine fold (see _cosine_annealing_fold)
_MOST_SKIPPED = 16  # runs left unguessed after a run that missed, at most


@inlined
def _guessed_run(
    lr: float, eta: float, ratio: FloatArray, out: FloatArray, missed: BoolArray
) -> int:
    """torch's ``ratio[i] * (lr - eta) + eta`` at each step ``i`` of ``out``, the product of
    one step taken as the next one's ``lr - eta`` (one multiplication between steps instead of
    three), into ``out``; returns the first step after which ``lr - eta`` is not that product
    (NaN never is), the length where there is none: ``out`` holds torch's values up to and
    including that step."""
    steps: int = out.shape[0]
    product = lr - eta
    any_missed = False
    for i in range(steps):  # the checks stay off the chain
        product = ratio[i] * product
        value = product + eta
        out[i] = value
        missed[i] = value - eta != product
        any_missed |= missed[i]
    if not any_missed:
        return steps
    first_missed = 0
    while not missed[first_missed]:
        first_missed += 1
    return first_missed


@compiled
def _cosine_annealing_fold(
    lr: float, first: int, t: int, eta: float, bump: float, ratio: FloatArray, out: FloatArray
) -> float:
    """``out[i]``: the lr after the ``step()`` of epoch ``first + i``, from ``lr`` before the
    first; returns the last.

    torch's step is ``ratio * (lr - eta) + eta``: three operations, each waiting for the one
    before, and the next step waits for all three. Where ``lr - eta`` gives back the very
    product the step before added ``eta`` to (the product and ``lr`` in the same binade: ~80%
    of a cosine from 0.1 to 0.001, all but the steps just above a power of two and near the
    bottom), the next step can start from that product. Runs of :data:`_RUN` steps are
    guessed so (:func:`_guessed_run`), kept up to the first step where the guess fails, and
    continued from there the plain way; the misses come in stretches, so after a miss the next
    1, 2, 4, ... (at most :data:`_MOST_SKIPPED`) runs are not guessed. The values are torch's
    either way."""
    # eta_min 0 (torch's default) and an lr without a sign bit: ratio * (lr - 0.0) + 0.0 is
    # ratio * lr (lr - 0.0 is lr; + 0.0 changes only a -0.0, which a product of such values
    # never is): one multiplication on the chain from one step to the next instead of three.
    plain = eta == 0.0 and not math.copysign(1.0, eta) < 0 and math.copysign(1.0, lr) > 0
    restart = first + (t + 1 - first) % (2 * t)  # torch's e = t+1 (mod 2t): the next restart
    n = out.shape[0]
    missed = np.empty(_RUN, np.bool_)
    skipped = backoff = 0
    for start in range(0, n, _RUN):
        stop = min(n, start + _RUN)
        resume = start
        if plain or first + stop > restart:  # (a run with a restart: plain steps)
            pass
        elif skipped:
            skipped -= 1
        else:
            kept = _guessed_run(lr, eta, ratio[start:stop], out[start:stop], missed)
            if kept == stop - start:
                lr = out[stop - 1]
                backoff = 0
                continue
            lr = out[start + kept]
            resume = start + kept + 1
            backoff = min(_MOST_SKIPPED, max(1, 2 * backoff))
            skipped = backoff
        for i in range(resume, stop):
            if first + i == restart:
                lr = lr + bump
                restart += 2 * t
            elif plain:
                lr = ratio[i] * lr
            else:
                lr = ratio[i] * (lr - eta) + eta
            out[i] = lr
    return lr


def cosine_annealing(
    lr0: FloatArray, t: int, eta: float, bump: FloatArray, out: FloatArray
) -> None:
    """CosineAnnealingLR on its own (``T_max = t > 0``) into ``out`` ``(groups, steps)``:
    ``lr0`` after construction, then the lr after each ``step()``: ``ratio * (lr - eta) + eta``
    with torch's ratio of consecutive ``1 + cos``, or ``lr + bump[g]`` at a restart epoch. The
    ratios on every core; each group's sequential fold (each write rounds the previous one's
    result, as torch's loop does) follows them slice by slice on the caller's thread."""
    steps = out.shape[1]
    if not steps:
        return
    out[:, 0] = lr0
    ratio = np.empty(steps - 1, np.float64)
    lr = [float(value) for value in lr0]

    def fold(lo: int, hi: int) -> None:
        for g in range(len(lr)):
            lr[g] = _cosine_annealing_fold(
                lr[g], 1 + lo, t, eta, float(bump[g]), ratio[lo:hi], out[g, 1 + lo : 1 + hi]
            )

    in_slices_folded(lambda lo, hi: _cosine_ratios(lo, hi, 1, t, ratio), fold, steps - 1)


# How a chained scheduler's child multiplies (see chained_multipliers)
SPARSE, DENSE, CONSTANT = 0, 1, 2


@compiled
def _fold_chained(
    lr: float,
    mode: IntArray,
    written: npt.NDArray[np.bool_],
    value_starts: IntArray,
    values: FloatArray,
    call_starts: IntArray,
    calls: IntArray,
    out: FloatArray,
) -> None:
    children = mode.shape[0]
    done = np.zeros(children, np.int64)  # each sparse child's calls made so far
    for t in range(out.shape[0]):
        for j in range(children):
            if mode[j] == SPARSE:
                count = call_starts[j + 1] - call_starts[j]
                while done[j] < count and calls[call_starts[j] + done[j]] == t:
                    value = values[value_starts[j] + done[j]]
                    lr = value if written[j] else lr * value
                    done[j] += 1
                continue
            value = values[value_starts[j] + t] if mode[j] == DENSE else values[value_starts[j]]
            lr = value if written[j] else lr * value
        out[t] = lr


@compiled
def _fold_constant(lr: float, factor: float, out: FloatArray) -> None:
    for t in range(out.shape[0]):
        lr = lr * factor
        out[t] = lr


@compiled
def linear_ramp(scaled_start: float, span: float, out: FloatArray) -> bool:
    """LinearLR's factors at epochs ``1 .. len(out)``, torch's ``1. + (end - start) /
    (total_iters * start + (e - 1) * (end - start))`` with ``scaled_start`` = ``total_iters *
    start`` and ``span`` = ``end - start``, in one pass (was seven numpy passes and their
    temporaries); False, with ``out`` unspecified, where a denominator is 0 (torch raises)."""
    zero = False
    for i in range(out.shape[0]):
        denominator = scaled_start + float(i) * span
        zero |= denominator == 0.0
        out[i] = 1.0 + span / denominator
    return not zero


@compiled
def fold_factors(lr: float, factors: FloatArray, out: FloatArray) -> None:
    """``out[i]``: ``lr`` multiplied by ``factors[0]``, then by each next one in turn."""
    for t in range(out.shape[0]):
        lr = lr * factors[t]
        out[t] = lr


Child = tuple[IntArray | None, FloatArray, bool]


def chained_multipliers(lr0: float, children: list[Child], out: FloatArray) -> None:
    """One param group under a ChainedScheduler whose every child multiplies (or sets) the lr:
    ``out[t]`` is the lr after step ``t`` (each step's calls in child order) from ``lr0``. A
    child is ``(calls, factors, written)``: ``lr *= factors[j]`` at call ``calls[j]`` (sparse),
    or one factor per call (``calls`` None: a constant where ``factors`` repeats one value,
    zero strides), ``lr = factor`` instead where ``written``."""
    for calls, factors, _ in children:
        if calls is None and factors.shape[0] < out.shape[0]:  # the loops read one per step
            raise ValueError(f"{factors.shape[0]} factors for {out.shape[0]} steps")
    if len(children) == 1 and children[0][0] is None and not children[0][2]:
        # one factor per call (ExponentialLR, MultiplicativeLR): the bare product, whose loop
        # carries nothing but the lr (~0.7 ms for 10^6 against ~1.2 in the general loop)
        factors = children[0][1]
        if factors.shape[0] and factors.strides[0] == 0:
            _fold_constant(float(lr0), float(factors[0]), out)
        else:
            fold_factors(float(lr0), np.ascontiguousarray(factors[: out.shape[0]]), out)
        return
    mode, value_starts, call_starts, values, sparse_calls = [], [0], [0], [], []
    for calls, factors, _ in children:
        if calls is not None:
            kind, part = SPARSE, np.asarray(factors, np.float64)
            sparse_calls.append(np.asarray(calls, np.int64))
        elif factors.shape[0] and factors.strides[0] == 0:
            kind, part = CONSTANT, np.asarray(factors[:1], np.float64)
        else:
            kind, part = DENSE, np.ascontiguousarray(factors[: out.shape[0]], np.float64)
        mode.append(kind)
        values.append(part)
        value_starts.append(value_starts[-1] + part.shape[0])
        call_starts.append(call_starts[-1] + (part.shape[0] if kind == SPARSE else 0))
    _fold_chained(
        float(lr0),
        np.asarray(mode, np.int64),
        np.asarray([child[2] for child in children], np.bool_),
        np.asarray(value_starts, np.int64),
        values[0] if len(values) == 1 else np.concatenate(values),
        np.asarray(call_starts, np.int64),
        np.concatenate(sparse_calls) if sparse_calls else np.zeros(0, np.int64),
        out,
    )


def warm() -> None:
    """Compile (or load from the disk cache) the fold for the argument types callers pass."""
    floats = np.zeros(2, np.float64)
    read_only = np.broadcast_to(np.float64(0.0), (2,))
    kinds = np.array([MUL, AFFINE], np.int64)
    fold_writes(1.0, kinds, floats, floats, floats)
    fold_writes(1.0, kinds, floats, read_only, read_only)
    cosine_annealing(np.ones(1, np.float64), 2, 0.0, np.zeros(1, np.float64), np.empty((1, 3)))
    sparse = (np.array([0], np.int64), np.array([0.5]), False)
    constant = (None, np.broadcast_to(np.float64(0.5), (2,)), False)
    chained_multipliers(1.0, [sparse, constant], np.empty(2, np.float64))
    chained_multipliers(1.0, [(None, floats, False)], np.empty(2, np.float64))
    chained_multipliers(1.0, [constant], np.empty(2, np.float64))
    linear_ramp(1.0, 0.5, np.empty(2, np.float64))

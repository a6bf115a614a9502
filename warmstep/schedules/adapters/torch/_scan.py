"""Replay a sequence of lr writes (:mod:`._ops`) without a Python loop over steps.

torch applies each write to the value the previous one left, so the lr after write ``n`` is a
left fold. Runs of ``MUL`` writes are a product taken left to right, which
``np.multiply.accumulate`` computes in exactly that order (it is sequential, not pairwise), so
``[b, c1, c2, ...]`` gives ``((b*c1)*c2)...`` bit for bit, as torch does; a ``SET`` restarts the
product. The other writes (``AFFINE`` with ``eta_min != 0``, ``ADD``, ``SWA``) depend on the
previous value in a way no product can express: when there are few of them (SWALR's annealing,
cosine restarts) each is applied exactly in turn between vectorised products.

When there are many (every step of a cosine with ``eta_min != 0``) no vectorised form can follow
torch: its rounding near the bottom of the cosine (where ``lr - eta_min`` is tiny) is amplified
afterwards, so any other evaluation order drifts from torch by up to ~1e-11 relative. Those
sequences are therefore folded in plain Python floats (exact, :func:`._fold.fold`, ~0.1 us a write)
up to ``SCALAR_REPLAY_LIMIT`` writes, and beyond that evaluated as a prefix scan of affine maps
``lr -> A*lr + B`` (log2(n) vectorised passes): mathematically the same fold, not bit-exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters.torch._fold import fold
from warmstep.schedules.adapters.torch._ops import (
    ADD,
    AFFINE,
    HARD_KINDS,
    MUL,
    SET,
    SWA,
    Ops,
    apply_one,
)

# Above this many history-dependent writes, replay write by write (then, past the second limit
# of writes times groups, the approximate affine prefix scan).
EXACT_HARD_LIMIT = 256
SCALAR_REPLAY_LIMIT = 2_000_000
# Segments longer than this are multiplied one by one rather than batched by length class.
_LONG = 64
# The history-dependent kinds are the highest codes, so one comparison finds them.
_FIRST_HARD = min(HARD_KINDS)
assert set(HARD_KINDS) == set(range(_FIRST_HARD, SWA + 1)) and max(SET, MUL) < _FIRST_HARD


def replay(lr0: FloatArray, ops: Ops) -> FloatArray:
    """The lr after each write, shape ``(groups, n)``, starting from ``lr0`` (shape (groups,))."""
    kind = np.array(ops.kind, np.int64)
    a = np.array(ops.a, np.float64)
    b, c = ops.b, ops.c
    _simplify(kind, a, b, c)
    hard = np.flatnonzero(kind >= _FIRST_HARD)
    if hard.size > EXACT_HARD_LIMIT:
        if kind.size * lr0.size <= SCALAR_REPLAY_LIMIT:
            return np.stack(
                [fold(float(lr0[g]), kind, a[g], b[g], c[g]) for g in range(lr0.size)]
            ).reshape(a.shape)
        return _affine_scan(lr0, kind, a, b, c)
    values = np.concatenate([lr0[:, None], a], axis=1)
    kinds = np.concatenate([[SET], kind])
    previous = 0
    for h in hard + 1:  # positions in the shifted arrays
        before = _segment_products(values[:, previous:h], kinds[previous:h])[:, -1]
        values[:, h] = apply_one(before, int(kinds[h]), a[:, h - 1], b[:, h - 1], c[:, h - 1])
        kinds[h] = SET
        previous = int(h)
    return _segment_products(values, kinds)[:, 1:]


def _simplify(kind: npt.NDArray[np.int64], a: FloatArray, b: FloatArray, c: FloatArray) -> None:
    """Rewrite writes into exact cheaper equivalents, in place.

    ``a*(lr-0)+0 == a*lr``; SWALR before its first anneal weight is the identity and after its
    last it is ``SET swa_lr``; ``lr + d`` right after a multiplication by exactly 0 (the cosine
    bottom at ``T_max`` with ``eta_min = 0``) is ``SET d``.
    """
    affine_zero = (kind == AFFINE) & np.all(b == 0, axis=0)
    kind[affine_zero] = MUL
    swa = kind == SWA
    identity = swa & np.all((a == 0) & (b == 0) & np.isfinite(c), axis=0)
    kind[identity] = MUL
    a[:, identity] = 1.0
    settled = swa & ~identity & np.all(a == 1, axis=0)
    a[:, settled] = c[:, settled] * b[:, settled] + c[:, settled] * (1 - b[:, settled])
    kind[settled] = SET
    adds = np.flatnonzero(kind == ADD)
    if adds.size == 0:
        return
    positions = np.arange(kind.shape[0])
    zero = (kind == MUL) & np.all(a == 0, axis=0)
    last_zero = np.maximum.accumulate(np.where(zero, positions, -1))
    last_other = np.maximum.accumulate(np.where(kind != MUL, positions, -1))
    prior = adds - 1
    ok = (prior >= 0) & (last_zero[np.maximum(prior, 0)] > last_other[np.maximum(prior, 0)])
    kind[adds[ok]] = SET


def _segment_products(values: FloatArray, kinds: npt.NDArray[np.int64]) -> FloatArray:
    """Left-to-right running products restarted at every ``SET`` (``kinds[0]`` must be SET).

    A long segment is one ``np.multiply.accumulate`` of its own; short ones are grouped by
    length (powers of two) and padded with 1.0 into 2-D blocks, so one
    ``np.multiply.accumulate(axis=1)`` per length class does every segment of that class.
    """
    n = kinds.shape[0]
    starts = np.flatnonzero(kinds == SET)
    if starts.size == 1:
        return np.multiply.accumulate(values, axis=1)
    out = values.copy()  # a segment of one write is its own value
    if starts.size == n:
        return out
    lengths = np.diff(np.append(starts, n))
    for start, length in zip(
        starts[lengths > _LONG].tolist(), lengths[lengths > _LONG].tolist(), strict=True
    ):
        out[:, start : start + length] = np.multiply.accumulate(
            values[:, start : start + length], axis=1
        )
    shorter = (lengths > 1) & (lengths <= _LONG)
    starts, lengths = starts[shorter], lengths[shorter]
    width_class = np.ceil(np.log2(lengths)).astype(np.int64)
    for cls in np.flatnonzero(np.bincount(width_class)):
        chosen = width_class == cls
        width = int(2**cls)
        offsets = np.arange(width)
        index = starts[chosen][:, None] + offsets[None, :]
        valid = offsets[None, :] < lengths[chosen][:, None]
        block = np.where(valid, values[:, np.minimum(index, n - 1)], 1.0)
        block = np.multiply.accumulate(block, axis=2)
        out[:, index[valid]] = block[:, valid]
    return out


def _affine_scan(
    lr0: FloatArray, kind: npt.NDArray[np.int64], a: FloatArray, b: FloatArray, c: FloatArray
) -> FloatArray:
    """Every write as ``lr -> A*lr + B``, composed by a Hillis-Steele prefix scan."""
    scale = np.zeros_like(a)
    shift = np.zeros_like(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        for k, (s, t) in {
            SET: (np.zeros_like(a), a),
            MUL: (a, np.zeros_like(a)),
            AFFINE: (a, b - a * b),
            ADD: (np.ones_like(a), a),
            SWA: ((1 - b) / (1 - a), c * b - a * c / (1 - a) * (1 - b)),
        }.items():
            chosen = kind == k
            scale[:, chosen] = s[:, chosen]
            shift[:, chosen] = t[:, chosen]
    n = kind.shape[0]
    step = 1
    while step < n:
        new_shift = shift.copy()
        new_shift[:, step:] = scale[:, step:] * shift[:, :-step] + shift[:, step:]
        new_scale = scale.copy()
        new_scale[:, step:] = scale[:, step:] * scale[:, :-step]
        scale, shift = new_scale, new_shift
        step *= 2
    return np.asarray(scale * lr0[:, None] + shift)

"""Replay a sequence of lr writes (:mod:`._ops`) without a Python loop over steps.

torch applies each write to the value the previous one left, so the lr after write ``n`` is a
left fold. Runs of ``MUL`` writes are a product taken left to right, which
``np.multiply.accumulate`` computes in exactly that order (it is sequential, not pairwise), so
``[b, c1, c2, ...]`` gives ``((b*c1)*c2)...`` bit for bit, as torch does; a ``SET`` restarts the
product. The other writes (``AFFINE`` with ``eta_min != 0``, ``ADD``, ``SWA``) depend on the
previous value in a way no product can express, and no vectorised form can follow torch: its
rounding near the bottom of a cosine (where ``lr - eta_min`` is tiny) is amplified afterwards, so
any other evaluation order drifts from torch by up to ~1e-11 relative. A sequence with any of
them is therefore folded write by write with torch's own expressions, in compiled code
(:func:`warmstep.schedules._loops.fold_writes`, ~2 ns a write): exact at every length.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters.torch._ops import ADD, AFFINE, HARD_KINDS, MUL, SET, SWA, Ops

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
    _simplify(kind, a, b)
    if kind.size and int(kind.max()) >= _FIRST_HARD:
        from warmstep.schedules._loops import fold_writes  # imports numba: only when needed

        return np.stack(
            [fold_writes(float(lr0[g]), kind, a[g], b[g], c[g]) for g in range(lr0.size)]
        ).reshape(a.shape)
    values = np.concatenate([lr0[:, None], a], axis=1)
    kinds = np.concatenate([[SET], kind])
    return _segment_products(values, kinds)[:, 1:]


def _simplify(kind: npt.NDArray[np.int64], a: FloatArray, b: FloatArray) -> None:
    """Rewrite writes into exact cheaper equivalents, in place.

    ``a*(lr-0)+0 == a*lr`` (a cosine without ``eta_min`` is a plain product); ``lr + d`` right
    after a multiplication by exactly 0 (the cosine bottom at ``T_max`` with ``eta_min = 0``) is
    ``SET d``. SWALR's writes are left to the compiled fold, which computes torch's expression.
    """
    present = np.bincount(kind, minlength=SWA + 1) > 0
    if present[AFFINE]:
        affine_zero = (kind == AFFINE) & np.all(b == 0, axis=0)
        kind[affine_zero] = MUL
    if not present[ADD]:
        return
    adds = np.flatnonzero(kind == ADD)
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

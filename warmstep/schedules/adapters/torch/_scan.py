"""Replay a sequence of lr writes (:mod:`._ops`) without a Python loop over steps.

torch applies each write to the value the previous one left, so the lr after write ``n`` is a
left fold. Runs of ``MUL`` writes are a product taken left to right, which
``np.multiply.accumulate`` computes in exactly that order (it is sequential, not pairwise), so
``[b, c1, c2, ...]`` gives ``((b*c1)*c2)...`` bit for bit, as torch does; a ``SET`` restarts the
product. The other writes (``AFFINE``, ``ADD``, ``SWA``) depend on the previous value in a way
no product can express, and no vectorised form can follow torch: its
rounding near the bottom of a cosine (where ``lr - eta_min`` is tiny) is amplified afterwards, so
any other evaluation order drifts from torch by up to ~1e-11 relative. A sequence with any of
them is therefore folded write by write with torch's own expressions, in compiled code
(:func:`._fold_loop.fold_writes`, ~2 ns a write): exact at every length, signed
zeros included (``a*(lr - 0) + 0`` is torch's expression even without ``eta_min``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters.torch._ops import HARD_KINDS, MUL, SET, SWA, Ops

# Segments longer than this are multiplied one by one rather than batched by length class.
_LONG = 64
# The history-dependent kinds are the highest codes, so one comparison finds them.
_FIRST_HARD = min(HARD_KINDS)
assert set(HARD_KINDS) == set(range(_FIRST_HARD, SWA + 1)) and max(SET, MUL) < _FIRST_HARD


def replay(lr0: FloatArray, ops: Ops) -> FloatArray:
    """The lr after each write, shape ``(groups, n)``, starting from ``lr0`` (shape (groups,))."""
    kind = np.asarray(ops.kind, np.int64)
    if kind.size and int(kind.max()) >= _FIRST_HARD:
        from warmstep.schedules.adapters.torch._fold_loop import (
            fold_writes,  # imports numba: only when needed
        )

        a, b, c = ops.a, ops.b, ops.c
        return np.stack(
            [fold_writes(float(lr0[g]), kind, a[g], b[g], c[g]) for g in range(lr0.size)]
        ).reshape(a.shape)
    values = np.concatenate([lr0[:, None], ops.a], axis=1)
    kinds = np.concatenate([[SET], kind])
    return _segment_products(values, kinds)[:, 1:]


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

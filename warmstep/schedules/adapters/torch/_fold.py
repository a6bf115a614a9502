"""One group's writes folded exactly as torch does, in runs (see :mod:`._ops` for the writes).

torch applies each write to the value the previous one left, one Python float operation at a
time. :func:`fold` splits the writes into runs of one kind (and, for ``AFFINE``, one ``eta_min``)
and folds each run with the cheapest form that performs the very same float operations in the
same order:

- ``MUL`` / ``ADD``: ``np.multiply.accumulate`` / ``np.add.accumulate`` over ``[lr, x1, x2 ...]``
  (accumulate is sequential: ``((lr*x1)*x2)...``, one rounding per write, as in Python);
- ``SET``: the written values;
- ``AFFINE`` (``lr <- x*(lr-y)+y``, no vectorised form is exact): ``itertools.accumulate`` of a
  Python closure, driven from C (about 3x faster than an explicit loop);
- ``SWA``: write by write.

When runs are short (many kind changes) the per-run overhead would dominate, so
:func:`fold_by_write` (the write-by-write loop) is used instead; both give identical floats.
Example: ``fold(1.0, [MUL, MUL], [[0.5, 0.5]], 0, 0)`` is ``[0.5, 0.25]``.
"""

from __future__ import annotations

from itertools import accumulate

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray
from warmstep.schedules.adapters.torch._ops import ADD, AFFINE, MUL, SET

# Below this mean run length the write-by-write loop is cheaper than per-run numpy calls.
MIN_MEAN_RUN = 32


def fold(
    lr: float, kind: npt.NDArray[np.int64], a: FloatArray, b: FloatArray, c: FloatArray
) -> FloatArray:
    """The lr after each write of one group, starting from ``lr``: shape ``(n,)``."""
    n = int(kind.shape[0])
    if n == 0:
        return np.empty(0, np.float64)
    change = (kind[1:] != kind[:-1]) | ((kind[1:] == AFFINE) & (b[1:] != b[:-1]))
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    if starts.size * MIN_MEAN_RUN > n:
        return fold_by_write(lr, kind, a, b, c)
    out = np.empty(n, np.float64)
    ends = np.append(starts[1:], n)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        out[start:end] = _run(lr, int(kind[start]), a[start:end], b, c, start)
        lr = float(out[end - 1])
    return out


def _run(lr: float, k: int, a: FloatArray, b: FloatArray, c: FloatArray, start: int) -> FloatArray:
    """One run of writes of kind ``k`` (its parameters start at index ``start`` of b, c)."""
    if k == SET:
        return a
    if k in (MUL, ADD):
        ufunc = np.multiply if k == MUL else np.add
        return ufunc.accumulate(np.concatenate([[lr], a]))[1:]
    if k == AFFINE:
        y = float(b[start])
        steps = accumulate(a.tolist(), lambda v, x: x * (v - y) + y, initial=lr)
        return np.fromiter(steps, np.float64, a.shape[0] + 1)[1:]
    end = start + a.shape[0]
    kinds = np.full(a.shape[0], k, np.int64)
    return fold_by_write(lr, kinds, a, b[start:end], c[start:end])


def fold_by_write(
    lr: float, kind: npt.NDArray[np.int64], a: FloatArray, b: FloatArray, c: FloatArray
) -> FloatArray:
    """The same fold, one Python float operation per write (torch's exact expressions)."""
    out = []
    for k, x, y, z in zip(kind.tolist(), a.tolist(), b.tolist(), c.tolist(), strict=True):
        if k == MUL:
            lr = lr * x
        elif k == AFFINE:
            lr = x * (lr - y) + y
        elif k == SET:
            lr = x
        elif k == ADD:
            lr = lr + x
        else:
            lr = z * y + z * (1 - y) if x == 1 else z * y + (lr - x * z) / (1 - x) * (1 - y)
        out.append(lr)
    return np.asarray(out, np.float64)

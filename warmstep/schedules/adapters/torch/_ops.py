"""What one torch scheduler call does to ``param_group['lr']``: a small algebra of writes.

Every ``get_lr()`` of ``torch.optim.lr_scheduler`` is one of these maps of the current lr
(per param group), with the exact floating-point expression torch evaluates:

    SET     lr <- a                                         (LambdaLR, CyclicLR, closed forms ...)
    MUL     lr <- lr * a                                    (the chainable kinds; a=1: unchanged)
    AFFINE  lr <- a * (lr - b) + b                          (CosineAnnealingLR, b = eta_min)
    ADD     lr <- lr + a                                    (CosineAnnealingLR at a restart)
    SWA     lr <- c * b + (lr - a * c) / (1 - a) * (1 - b)  (SWALR: a, b the previous and current
                                                             anneal weights, c = swa_lr)

A call may also write the momentum (or Adam ``betas[0]``); ``momentum`` holds that value, or NaN
where the call writes none (whole columns: a call writes every group or none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from warmstep.schedules._core import FloatArray

IntArray = npt.NDArray[np.int64]

SET, MUL, AFFINE, ADD, SWA = 0, 1, 2, 3, 4
HARD_KINDS = (AFFINE, ADD, SWA)


@dataclass(frozen=True)
class Ops:
    """``n`` consecutive writes of one scheduler: ``kind`` shape (n,), parameters (groups, n)."""

    kind: IntArray
    a: FloatArray
    b: FloatArray
    c: FloatArray
    momentum: FloatArray

    @property
    def size(self) -> int:
        return int(self.kind.shape[0])


def make_ops(
    kind: IntArray | int,
    a: FloatArray,
    b: FloatArray | float = 0.0,
    c: FloatArray | float = 0.0,
    momentum: FloatArray | None = None,
) -> Ops:
    """Broadcast the parameters to ``(groups, n)`` (``a`` fixes the shape)."""
    a = np.asarray(a, np.float64)
    n = a.shape[1]
    # Read-only broadcast views: nothing is copied until writes of several schedulers merge.
    return Ops(
        kind=_broadcast(kind, np.int64, (n,)),
        a=a,
        b=_broadcast(b, np.float64, a.shape),
        c=_broadcast(c, np.float64, a.shape),
        momentum=_broadcast(np.nan if momentum is None else momentum, np.float64, a.shape),
    )


def _broadcast(value: object, dtype: type, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """``np.broadcast_to(np.asarray(value, dtype), shape)``; a scalar by a zero-stride view
    built directly (a short curve builds a dozen of these, and ``broadcast_to`` costs ~2 µs)."""
    array: npt.NDArray[Any] = np.asarray(value, dtype)
    if array.ndim:
        return np.broadcast_to(array, shape)
    view: npt.NDArray[Any] = np.ndarray(shape, dtype, array.reshape(1), 0, (0,) * len(shape))
    view.flags.writeable = False
    return view


def select_ops(condition: npt.NDArray[np.bool_], yes: Ops, no: Ops) -> Ops:
    """Per call, the ops of ``yes`` where ``condition`` else those of ``no``."""
    if condition.all():
        return yes
    if not condition.any():
        return no
    return Ops(
        kind=np.where(condition, yes.kind, no.kind),
        a=np.where(condition, yes.a, no.a),
        b=np.where(condition, yes.b, no.b),
        c=np.where(condition, yes.c, no.c),
        momentum=np.where(condition, yes.momentum, no.momentum),
    )


def concat_ops(parts: list[Ops], groups: int) -> Ops:
    if not parts:
        empty = np.empty((groups, 0))
        return Ops(np.empty(0, np.int64), empty, empty, empty, empty)
    return Ops(
        kind=np.concatenate([p.kind for p in parts]),
        a=np.concatenate([p.a for p in parts], axis=1),
        b=np.concatenate([p.b for p in parts], axis=1),
        c=np.concatenate([p.c for p in parts], axis=1),
        momentum=np.concatenate([p.momentum for p in parts], axis=1),
    )


def take_ops(ops: Ops, index: IntArray) -> Ops:
    return Ops(
        ops.kind[index],
        ops.a[:, index],
        ops.b[:, index],
        ops.c[:, index],
        ops.momentum[:, index],
    )


def apply_one(lr: FloatArray, kind: int, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
    """One write, elementwise over groups, in torch's exact order of operations."""
    if kind == SET:
        return a.copy()
    if kind == MUL:
        return lr * a
    if kind == AFFINE:
        return a * (lr - b) + b
    if kind == ADD:
        return lr + a
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 1, c * b + c * (1 - b), c * b + (lr - a * c) / (1 - a) * (1 - b))

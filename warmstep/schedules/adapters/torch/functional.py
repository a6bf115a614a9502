"""torch's user-function schedulers, with the function given as an expression in ``step``.

``LambdaLR``: ``lr = b * lr_lambda(e)`` (overwrites, not chainable).
``MultiplicativeLR``: ``lr *= lr_lambda(e)`` for e >= 1; nothing at construction; at a
SequentialLR milestone ``lr *= lr_lambda(0)``.
Example: ``{"type": "LambdaLR", "lr_lambda": "0.95 ** step"}`` with b=0.1 gives 0.1, 0.095, ...
``lr_lambda`` may be a list with one expression per param group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import FloatArray, KindParams
from warmstep.schedules.adapters.torch._chain import INITIAL, Calls, Leaf, Optimizer, Segment
from warmstep.schedules.adapters.torch._fast import Multipliers
from warmstep.schedules.adapters.torch._kinds import torch_kind
from warmstep.schedules.adapters.torch._ops import MUL, SET, Ops, make_ops

if TYPE_CHECKING:
    from warmstep.expressions import Expression

BLOCK = 1 << 16  # steps per block of a long curve: a block's passes stay in the L2 cache


class LambdaLRParams(KindParams):
    lr_lambda: str | list[str] = Field(description="expression in `step`, or one per group")
    last_epoch: Literal[-1] = -1


def compile_lambdas(source: str | list[str], path: str, groups: int) -> list[Expression]:
    """One compiled expression per group (torch: a list must match the number of groups)."""
    from warmstep.expressions import compile_expression

    field = f"{path}.lr_lambda"
    if isinstance(source, str):
        return [compile_expression(source, "step", field=field)] * groups
    if len(source) != groups:
        raise InvalidArgument(f"Expected {groups} lr_lambdas, but got {len(source)}", field=field)
    return [
        compile_expression(text, "step", field=f"{field}[{i}]") for i, text in enumerate(source)
    ]


def evaluate_lambdas(functions: list[Expression], epochs: np.ndarray) -> FloatArray:
    """``(groups, n)`` values of each group's function at the given epochs (a function shared
    by every group, as one expression for all of them is, is evaluated once)."""
    if epochs.size == 0:
        return np.empty((len(functions), 0))
    if all(f is functions[0] for f in functions):
        values = np.asarray(functions[0](epochs), np.float64)
        return np.broadcast_to(values, (len(functions), values.shape[0]))
    return np.stack([np.asarray(f(epochs), np.float64) for f in functions])


def lambda_rows(
    functions: list[Expression],
    first: int,
    stop: int,
    out: FloatArray,
    scale: FloatArray | None = None,
) -> None:
    """``out[g, i] = scale[g] * functions[g](first + i)`` (no ``scale``: the values alone) for
    the steps ``first .. stop-1``, a block of steps at a time: the expression's few passes over
    a block stay in the cache, where passes over a whole long curve go to memory and back.
    Blocks run in order, so an error names the first step that fails, as a single pass would."""
    shared = all(f is functions[0] for f in functions)
    for start in range(first, stop, BLOCK):
        end = min(stop, start + BLOCK)
        columns = slice(start - first, end - first)
        values = None
        for g, function in enumerate(functions):
            if values is None or not shared:
                values = function.over_steps(start, end)
            if scale is None:
                out[g, columns] = values
            elif values.strides[0] == 0:  # one value over the block (decided from its bounds)
                out[g, columns] = scale[g] * values[0]
            else:  # torch: base_lr * lmbda(epoch)
                np.multiply(scale[g], values, out=out[g, columns])


def lambda_table(
    functions: list[Expression], first: int, stop: int, scale: FloatArray | None = None
) -> FloatArray:
    """:func:`lambda_rows` as a new ``(groups, n)`` array; where no function uses ``step``, its
    values repeated (a zero-stride view: a fold reads it as one factor)."""
    n = max(stop - first, 0)
    if n and all(f.constant for f in functions):
        values = np.array([f.over_steps(first, first + 1)[0] for f in functions], np.float64)
        if scale is not None:
            values = scale * values
        return np.broadcast_to(values[:, None], (len(functions), n))
    out = np.empty((len(functions), n), np.float64)
    lambda_rows(functions, first, stop, out, scale)
    return out


class LambdaLeaf(Leaf):
    def __init__(self, p: LambdaLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.functions = compile_lambdas(p.lr_lambda, path, groups)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        values = evaluate_lambdas(self.functions, calls.epoch)
        return make_ops(SET, self.base_lrs[:, None] * values)

    def standalone(self, total: int) -> Multipliers | None:
        values = lambda_table(self.functions, 1, total + 1, self.base_lrs)
        return Multipliers(None, values, written=True)

    def segment(self, steps: int) -> Segment | None:
        """Each ``base_lr * λ(e)`` written straight into the curve, a block at a time."""

        def run(lr0: FloatArray, out: FloatArray) -> None:
            if steps:
                out[:, 0] = lr0
                lambda_rows(self.functions, 1, steps, out[:, 1:], self.base_lrs)

        return run


class MultiplicativeLeaf(Leaf):
    def __init__(self, p: LambdaLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.functions = compile_lambdas(p.lr_lambda, path, groups)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        values = evaluate_lambdas(self.functions, calls.epoch)
        return make_ops(MUL, np.where(calls.kind == INITIAL, 1.0, values))

    def standalone(self, total: int) -> Multipliers | None:
        return Multipliers(None, lambda_table(self.functions, 1, total + 1))


torch_kind(
    "LambdaLR",
    LambdaLRParams,
    LambdaLeaf,
    "torch LambdaLR: b*lr_lambda(step), lr_lambda an expression in `step`. Needs base_lr.",
)
torch_kind(
    "MultiplicativeLR",
    LambdaLRParams,
    MultiplicativeLeaf,
    "torch MultiplicativeLR: lr *= lr_lambda(step) at every step after construction. "
    "Needs base_lr.",
)

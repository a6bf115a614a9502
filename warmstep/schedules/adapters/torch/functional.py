"""torch's user-function schedulers, with the function given as an expression in ``step``.

``LambdaLR``: ``lr = b * lr_lambda(e)`` (overwrites, not chainable).
``MultiplicativeLR``: ``lr *= lr_lambda(e)`` for e >= 1; nothing at construction; at a
SequentialLR milestone ``lr *= lr_lambda(0)``.
Example: ``{"type": "LambdaLR", "lr_lambda": "0.95 ** step"}`` with b=0.1 gives 0.1, 0.095, ...
``lr_lambda`` may be a list with one expression per param group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import FloatArray, KindParams
from warmstep.schedules.adapters.torch._chain import INITIAL, Calls, Leaf, Optimizer
from warmstep.schedules.adapters.torch._fast import Multipliers
from warmstep.schedules.adapters.torch._kinds import torch_kind
from warmstep.schedules.adapters.torch._ops import MUL, SET, Ops, make_ops

Expression = Callable[[np.ndarray], FloatArray]


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


class LambdaLeaf(Leaf):
    def __init__(self, p: LambdaLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.functions = compile_lambdas(p.lr_lambda, path, groups)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        values = evaluate_lambdas(self.functions, calls.epoch)
        return make_ops(SET, self.base_lrs[:, None] * values)

    def standalone(self, total: int) -> Multipliers | None:
        values = evaluate_lambdas(self.functions, np.arange(1, total + 1))
        return Multipliers(None, self.base_lrs[:, None] * values, written=True)


class MultiplicativeLeaf(Leaf):
    def __init__(self, p: LambdaLRParams, path: str, groups: int) -> None:
        super().__init__(path, np.ones(groups))
        self.functions = compile_lambdas(p.lr_lambda, path, groups)

    def ops(self, calls: Calls, opt: Optimizer) -> Ops:
        values = evaluate_lambdas(self.functions, calls.epoch)
        return make_ops(MUL, np.where(calls.kind == INITIAL, 1.0, values))

    def standalone(self, total: int) -> Multipliers | None:
        return Multipliers(None, evaluate_lambdas(self.functions, np.arange(1, total + 1)))


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

"""Registration of torch kinds: each kind's params model builds a simulation node.

Composites build their children through :func:`build_node`, so any torch kind nests in
``SequentialLR`` / ``ChainedScheduler`` with the same arithmetic as standalone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from pydantic import ValidationInfo

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import (
    Curve,
    EvalContext,
    FloatArray,
    Kind,
    KindParams,
    Library,
    ResolvedSchedule,
)
from warmstep.schedules._registry import register
from warmstep.schedules.adapters.torch._chain import Node, simulate

P = TypeVar("P", bound=KindParams)
Builder = Callable[[Any, str, int], Node]

_BUILDERS: dict[str, Builder] = {}


def torch_kind(
    name: str,
    params: type[P],
    build: Callable[[P, str, int], Node],
    doc: str,
    *,
    needs_base_lr: bool = True,
    cycles_momentum: bool = False,
    nested_fields: tuple[str, ...] = (),
) -> Kind:
    """Register a torch kind whose evaluation simulates the node ``build`` returns."""

    def evaluate(values: Any, context: EvalContext) -> Curve:
        return simulate(build(values, context.path, context.groups), context)

    _BUILDERS[name] = build
    return register(
        Kind(
            name=name,
            library=Library.TORCH,
            params=params,
            evaluate=evaluate,
            doc=doc,
            needs_base_lr=needs_base_lr,
            cycles_momentum=cycles_momentum,
            nested_fields=nested_fields,
        )
    )


def build_node(child: ResolvedSchedule, groups: int) -> Node:
    """The node of a nested spec; only torch LRScheduler kinds can share torch's optimizer."""
    builder = _BUILDERS.get(child.kind.name)
    if child.kind.library is not Library.TORCH or builder is None:
        raise InvalidArgument(
            f"{child.kind.name!r} ({child.kind.library.value}) is not a torch LRScheduler; "
            "torch composites take torch schedulers only",
            field=f"{child.path}.type",
        )
    return builder(child.params, child.path, groups)


def per_group(value: float | Sequence[float], name: str, path: str, groups: int) -> FloatArray:
    """torch's ``_format_param``: a scalar for every group, or a list with one per group."""
    if isinstance(value, int | float):
        return np.full(groups, float(value))
    if len(value) != groups:
        raise InvalidArgument(
            f"{name} must have the same length as optimizer.param_groups. "
            f"{name} has {len(value)} values, param_groups has {groups}.",
            field=f"{path}.{name}",
        )
    return np.asarray(value, np.float64)


def column(values: FloatArray, n: int) -> FloatArray:
    """Per-group values ``(groups,)`` repeated for ``n`` calls: shape ``(groups, n)``."""
    return np.repeat(np.asarray(values, np.float64)[:, None], n, axis=1)


def invalid(info: ValidationInfo, name: str, message: str) -> InvalidArgument:
    """An error naming ``<path>.<name>`` from a model validator (whose own location is empty)."""
    path = (info.context or {}).get("path", "schedule")
    return InvalidArgument(message, field=f"{path}.{name}")

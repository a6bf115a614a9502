"""Optimizers by name from ``torch.optim``, with param groups declared in the job spec, and
the per-update setters the loop uses to apply the engine's curves."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from warmstep.errors import InvalidArgument
from warmstep.jobs import OptimizerSpec

__all__ = ["OPTIMIZERS", "assign_groups", "build_optimizer", "momentum_key"]

# LBFGS needs a closure per step and SparseAdam sparse gradients: neither fits the loop.
_EXCLUDED = {"LBFGS", "SparseAdam", "Optimizer"}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    name: cls
    for name in torch.optim.__all__
    if isinstance(cls := getattr(torch.optim, name), type)
    and issubclass(cls, torch.optim.Optimizer)
    and name not in _EXCLUDED
}


def _matches(name: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name


def assign_groups(names: Sequence[str], spec: OptimizerSpec) -> list[list[int]]:
    """Indices of ``names`` per param group, in the group order of :class:`OptimizerSpec`:
    default, explicit groups (first match wins), then ``no_decay``."""
    groups: list[list[int]] = [[] for _ in spec.group_lrs()]
    patterns = [g.params for g in spec.groups] + ([spec.no_decay] if spec.no_decay else [])
    for index, name in enumerate(names):
        slot = next(
            (g + 1 for g, pats in enumerate(patterns) if any(_matches(name, p) for p in pats)), 0
        )
        groups[slot].append(index)
    for g, members in enumerate(groups[1 : 1 + len(spec.groups)]):
        if not members:
            raise InvalidArgument(
                "matches no parameter of the model", field=f"optimizer.groups[{g}].params"
            )
    return groups


def build_optimizer(spec: OptimizerSpec, model: nn.Module) -> torch.optim.Optimizer:
    """``torch.optim.<type>(groups, lr=spec.lr, **kwargs)``; every group carries its own ``lr``
    and keyword arguments, the ``no_decay`` group ``weight_decay=0``."""
    cls = OPTIMIZERS.get(spec.type)
    if cls is None:
        raise InvalidArgument(
            f"unknown optimizer {spec.type!r}; one of {sorted(OPTIMIZERS)}", field="optimizer.type"
        )
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    members = assign_groups([n for n, _ in named], spec)
    lrs = spec.group_lrs()
    param_groups: list[dict[str, Any]] = []
    for g, indices in enumerate(members):
        extra: dict[str, Any] = {}
        if 1 <= g <= len(spec.groups):
            extra = spec.groups[g - 1].kwargs
        elif spec.no_decay and g == len(members) - 1:
            extra = {"weight_decay": 0.0}
        group = {"params": [named[i][1] for i in indices], **extra, "lr": lrs[g]}
        param_groups.append(group)
    try:
        return cls(param_groups, lr=spec.lr, **spec.kwargs)  # type: ignore[call-arg]
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"{spec.type}: {exc}", field="optimizer") from None


def momentum_key(optimizer: torch.optim.Optimizer) -> str:
    """``"betas"`` (Adam family: the curve sets ``betas[0]``) or ``"momentum"`` (SGD, RMSprop),
    as ``OneCycleLR`` / ``CyclicLR`` choose."""
    defaults = optimizer.defaults
    if "betas" in defaults:
        return "betas"
    if "momentum" in defaults:
        return "momentum"
    raise InvalidArgument(
        f"the schedule cycles momentum but {type(optimizer).__name__} has neither momentum nor "
        "betas",
        field="schedule",
    )

"""torch SequentialLR and ChainedScheduler over nested torch specs.

SequentialLR(schedulers, milestones): at global step e the child ``bisect_right(milestones, e)``
acts; at e == a milestone that child shows its own epoch-0 value (closed form); construction
resets the lr to ``initial_lr`` and re-runs the initial step of the child active at 0.
Example: ``[LinearLR(start_factor=0.1, total_iters=2), ExponentialLR(0.5)]``, milestones [2],
b=1: 0.1, 0.55, 1, 0.5, 0.25 ...

ChainedScheduler(schedulers): every child steps, in list order, on the same lr, so chainable
children multiply (ConstantLR(0.1) + ExponentialLR(0.9): 0.1*b, 0.09*b, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationInfo, model_validator

from warmstep.schedules._core import KindParams
from warmstep.schedules._registry import NestedSchedules
from warmstep.schedules.adapters.torch._chain import Chained, Node, Sequential
from warmstep.schedules.adapters.torch._kinds import build_node, invalid, torch_kind


def _no_plateau(params: KindParams, name: str, info: ValidationInfo) -> None:
    for i, child in enumerate(getattr(params, "schedulers")):  # noqa: B009
        if child.kind.name == "ReduceLROnPlateau":
            raise invalid(
                info,
                f"schedulers[{i}]",
                f"{name} does not support `ReduceLROnPlateau` scheduler as it requires "
                "additional kwargs to be specified when calling `step`, but got one at index "
                f"{i} in the given schedulers sequence.",
            )
    if not getattr(params, "schedulers"):  # noqa: B009
        raise invalid(
            info, "schedulers", f"{name} expects at least one scheduler, but got no scheduler."
        )


class SequentialLRParams(KindParams):
    schedulers: NestedSchedules
    milestones: list[int]
    last_epoch: Literal[-1] = -1

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> SequentialLRParams:
        _no_plateau(self, "SequentialLR", info)
        if len(self.milestones) != len(self.schedulers) - 1:
            raise invalid(
                info,
                "milestones",
                "Sequential Schedulers expects number of schedulers provided to be one more than "
                f"the number of milestone points, but got number of schedulers "
                f"{len(self.schedulers)} and the number of milestones to be equal to "
                f"{len(self.milestones)}",
            )
        return self


class ChainedSchedulerParams(KindParams):
    schedulers: NestedSchedules

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ChainedSchedulerParams:
        _no_plateau(self, "ChainedScheduler", info)
        return self


def build_sequential(p: SequentialLRParams, path: str, groups: int) -> Node:
    return Sequential(path, [build_node(c, groups) for c in p.schedulers], list(p.milestones))


def build_chained(p: ChainedSchedulerParams, path: str, groups: int) -> Node:
    return Chained(path, [build_node(c, groups) for c in p.schedulers])


torch_kind(
    "SequentialLR",
    SequentialLRParams,
    build_sequential,
    "torch SequentialLR: nested torch schedulers switched at milestones; each starts from its "
    "own epoch 0 (closed form) at its milestone.",
    nested_fields=("schedulers",),
)
torch_kind(
    "ChainedScheduler",
    ChainedSchedulerParams,
    build_chained,
    "torch ChainedScheduler: every nested torch scheduler steps on the same lr, in order "
    "(chainable ones multiply).",
    nested_fields=("schedulers",),
)

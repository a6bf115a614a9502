"""fvcore ``ParamScheduler`` kinds (``fvcore.common.param_scheduler``, 0.1.5.post20221221).

A bare fvcore scheduler is a function of training progress ``where ∈ [0, 1)``, not of the step.
Training loops use it through detectron2's ``LRMultiplier(optimizer, multiplier, max_iter)``, a
torch LRScheduler whose value after ``i`` calls of ``step()`` is ``base_lr * multiplier(i /
max_iter)``. So every fvcore kind here takes one extra argument, ``max_iter``, and then means
exactly that LRMultiplier:

    value i = base_lr[g] * scheduler(i / max_iter)

(``{"type": "CosineParamScheduler", "start_value": 1, "end_value": 0, "max_iter": 4}`` gives
``b * [1, 0.8535533905932737, 0.5, 0.14644660940672627, 0]``; step 4 is where = 1, past the end,
where fvcore's formulas simply extrapolate). ``max_iter`` belongs on the outermost scheduler only;
the children of a composite (``CompositeParamScheduler.schedulers``,
``WarmupParamScheduler.scheduler``, ``LRMultiplier.multiplier``) are plain functions of ``where``.
detectron2's ``LRMultiplier`` kind spells the same thing with the library's own nesting.

fvcore's own run-time errors (``ConstantParamScheduler`` at where ≥ 1, a ``StepParamScheduler``
index past its list, a complex power) become ``InvalidArgument`` naming ``max_iter``, with the
first step that raises. Arithmetic is fvcore's, operation by operation, in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field, StrictInt, ValidationInfo, field_validator

from warmstep.schedules._core import FloatArray, Kind, Library
from warmstep.schedules._libm import cos_like_python
from warmstep.schedules._registry import NestedSchedules, register
from warmstep.schedules.adapters._param_scheduler import (
    WHERE_EPSILON,
    ParamSchedulerParams,
    Pieces,
    Span,
    bound,
    checked_lengths,
    composite_at,
    composite_spans,
    evaluate_param_scheduler,
    param_scheduler_child,
    power,
    raise_if,
    range_error,
)

__all__ = [
    "CompositeParamScheduler",
    "ConstantParamScheduler",
    "CosineParamScheduler",
    "ExponentialParamScheduler",
    "LinearParamScheduler",
    "MultiStepParamScheduler",
    "PolynomialDecayParamScheduler",
    "StepParamScheduler",
    "StepWithFixedGammaParamScheduler",
]


class ConstantParamScheduler(ParamSchedulerParams):
    """``value``; fvcore raises for where ≥ 1 (LRMultiplier: step ≥ max_iter)."""

    value: float

    def at(self, where: FloatArray, path: str) -> FloatArray:
        raise_if(where >= 1.0, range_error(where))
        return np.full(where.shape, self.value)

    def pieces(self) -> Pieces:
        # no milestones: index 0 at every step
        return Pieces(0.0, np.empty(0), np.array([self.value]), lambda where: where < 1.0)

    def compiled_shape(self) -> tuple[str, float, float]:
        return "constant", self.value, 0.0


class CosineParamScheduler(ParamSchedulerParams):
    """``end + 0.5 * (start - end) * (1 + cos(π · where))``."""

    start_value: float
    end_value: float

    def at(self, where: FloatArray, path: str) -> FloatArray:
        half_range = 0.5 * (self.start_value - self.end_value)
        return self.end_value + half_range * (1.0 + cos_like_python(np.pi * where))

    def compiled_shape(self) -> tuple[str, float, float]:
        return "cosine", self.start_value, self.end_value


class ExponentialParamScheduler(ParamSchedulerParams):
    """``start_value * decay ** where`` (start_value=2, decay=0.02: 2 at 0, 0.04 at where 1)."""

    start_value: float
    decay: float

    def at(self, where: FloatArray, path: str) -> FloatArray:
        return self.start_value * power(np.full(where.shape, self.decay), where)

    def compiled_shape(self) -> tuple[str, float, float]:
        return "exponential", self.start_value, self.decay


class LinearParamScheduler(ParamSchedulerParams):
    """``end_value * where + start_value * (1 - where)``."""

    start_value: float
    end_value: float

    def at(self, where: FloatArray, path: str) -> FloatArray:
        return self.end_value * where + self.start_value * (1.0 - where)

    def compiled_shape(self) -> tuple[str, float, float]:
        return "linear", self.start_value, self.end_value


class PolynomialDecayParamScheduler(ParamSchedulerParams):
    """``base_value * (1 - where) ** power`` (past where 1 a fractional power is complex: error)."""

    base_value: float
    power: float

    def at(self, where: FloatArray, path: str) -> FloatArray:
        return self.base_value * power(1.0 - where, np.full(where.shape, self.power))

    def compiled_shape(self) -> tuple[str, float, float]:
        return "polynomial", self.base_value, self.power


class MultiStepParamScheduler(ParamSchedulerParams):
    """``values[bisect_right(milestones, int((where + 1e-6) * num_updates))]``.

    Without ``milestones`` they are multiples of ``ceil(num_updates / len(values))``; without
    ``num_updates`` the last milestone is it. values=[1, 0.1, 0.01], num_updates=90: milestones
    30, 60, so with max_iter=90 the value drops at steps 30 and 60. Raises for where > 1.
    """

    values: list[float]
    num_updates: int | None = None
    milestones: list[int] | None = Field(default=None, validate_default=True)

    @field_validator("milestones")
    @classmethod
    def _check(cls, milestones: list[int] | None, info: ValidationInfo) -> list[int] | None:
        values: list[float] = info.data.get("values", [])
        resolved, num_updates = _multistep_bounds(values, info.data.get("num_updates"), milestones)
        _check_milestone_order(resolved, num_updates, len(values))
        return milestones

    def at(self, where: FloatArray, path: str) -> FloatArray:
        raise_if(where > 1.0, range_error(where))
        pieces = self.pieces()
        return pieces.values[pieces.index_of(where)]

    def pieces(self) -> Pieces:
        milestones, num_updates = _multistep_bounds(self.values, self.num_updates, self.milestones)
        return Pieces(
            float(num_updates),
            np.asarray(milestones, dtype=np.float64),
            np.asarray(self.values, dtype=np.float64),
            lambda where: where <= 1.0,  # as at() raises
        )


def _multistep_bounds(
    values: Sequence[float], num_updates: int | None, milestones: list[int] | None
) -> tuple[list[int], int]:
    """(milestones, num_updates) as fvcore's constructor resolves them (ValueError as it does)."""
    if milestones is None:
        if num_updates is None:
            raise ValueError("num_updates and milestones cannot both be None")
        if not values:
            raise ValueError("values is empty (fvcore divides num_updates by len(values))")
        width = math.ceil(num_updates / float(len(values)))
        milestones = [width * (k + 1) for k in range(len(values) - 1)]
    else:
        expected = len(values) - int(num_updates is not None)
        if len(milestones) != expected:
            raise ValueError(f"MultiStep scheduler requires a list of {expected} miletones")
    if num_updates is None:
        if not milestones:
            raise ValueError("milestones is empty (fvcore takes its last one as num_updates)")
        return milestones[:-1], milestones[-1]
    return milestones, num_updates


def _check_milestone_order(milestones: Sequence[int], num_updates: int, n_values: int) -> None:
    if num_updates < n_values:
        raise ValueError("Total num_updates must be greater than length of param schedule")
    start = 0
    for milestone in milestones:
        if milestone >= num_updates:
            raise ValueError(
                "Milestone must be smaller than total number of updates: "
                f"num_updates={num_updates}, milestone={milestone}"
            )
        if start >= milestone:
            raise ValueError(
                f"Milestone must be smaller than start epoch: start_epoch={start}, "
                f"milestone={milestone}"
            )
        start = milestone


def _step_at(values: FloatArray, where: FloatArray) -> FloatArray:
    """``values[int((where + 1e-6) * len(values))]`` with Python's indexing (negative wraps)."""
    n = values.shape[0]
    index = np.trunc((where + WHERE_EPSILON) * n)
    raise_if((index >= n) | (index < -n), lambda k: "list index out of range")
    picked: FloatArray = values[np.where(index < 0, index + n, index).astype(np.intp)]
    return picked


def _step_pieces(values: FloatArray) -> Pieces:
    """:func:`_step_at` where it does not raise, for ``where >= 0`` (no index below 0)."""
    return Pieces(float(values.shape[0]), None, values)


class StepParamScheduler(ParamSchedulerParams):
    """``values[int((where + 1e-6) * len(values))]``; ``num_updates`` is only validated.

    values=[1, 0.1], max_iter=10: 1 for steps 0-4, 0.1 for 5-9; step 10 raises (index 2). Note
    fvcore's epsilon: with max_iter > 1e6 the last steps already index past the list and raise.
    """

    num_updates: float = Field(gt=0)
    values: list[float] = Field(min_length=1)

    def at(self, where: FloatArray, path: str) -> FloatArray:
        return _step_at(np.asarray(self.values, dtype=np.float64), where)

    def pieces(self) -> Pieces:
        return _step_pieces(np.asarray(self.values, dtype=np.float64))


class StepWithFixedGammaParamScheduler(ParamSchedulerParams):
    """A Step over ``[base_value, base_value·gamma, base_value·gamma·gamma, …]``
    (``num_decays + 1`` values, each the previous times gamma, as fvcore builds the list).
    base_value=0.1, gamma=0.1, num_decays=3, num_updates=120, max_iter=120: 0.1 for steps 0-29,
    0.01 for 30-59, 0.001 for 60-89, 0.0001 for 90-119."""

    base_value: float = Field(gt=0)
    num_decays: StrictInt = Field(gt=0, le=10_000_000)
    gamma: float = Field(gt=0)
    num_updates: StrictInt = Field(gt=0)

    def at(self, where: FloatArray, path: str) -> FloatArray:
        return _step_at(self._values(), where)

    def pieces(self) -> Pieces:
        return _step_pieces(self._values())

    def _values(self) -> FloatArray:
        factors = np.full(self.num_decays + 1, self.gamma)
        factors[0] = self.base_value
        return np.cumprod(factors)


class CompositeParamScheduler(ParamSchedulerParams):
    """fvcore schedulers run one after the other over fractions ``lengths`` of training.

    schedulers=[Constant(0.42), Cosine(0.42, 1e-4)], lengths=[0.3, 0.7],
    interval_scaling=['rescaled', 'rescaled'], max_iter=100: 0.42 for steps 0-29, then a cosine
    from 0.42 (step 30) down towards 1e-4. See :func:`composite_at` for the boundary rule.
    """

    schedulers: NestedSchedules
    lengths: list[float]
    interval_scaling: list[Literal["rescaled", "fixed"]]

    @field_validator("schedulers")
    @classmethod
    def _check_children(cls, schedulers: NestedSchedules) -> NestedSchedules:
        for child in schedulers:
            param_scheduler_child(child, "CompositeParamScheduler.schedulers")
        return schedulers

    @field_validator("lengths")
    @classmethod
    def _check_lengths(cls, lengths: list[float], info: ValidationInfo) -> list[float]:
        schedulers = info.data.get("schedulers", ())
        if len(schedulers) != len(lengths):
            raise ValueError("Schedulers and lengths must be same length")
        checked_lengths(lengths)
        return lengths

    def at(self, where: FloatArray, path: str) -> FloatArray:
        parts = [
            bound(param_scheduler_child(child, "schedulers"), child.path)
            for child in self.schedulers
        ]
        return composite_at(where, parts, checked_lengths(self.lengths), self.interval_scaling)

    def spans(self, max_iter: int, steps: int, path: str) -> list[Span] | None:
        children = [param_scheduler_child(child, "schedulers") for child in self.schedulers]
        forms = [child.part_form() for child in children]
        lengths = checked_lengths(self.lengths)
        return composite_spans(forms, lengths, self.interval_scaling, max_iter, steps)


_DOC_SUFFIX = (
    " As a training schedule (detectron2 LRMultiplier): value i = base_lr * scheduler(i / "
    "max_iter)."
)

for _params in (
    ConstantParamScheduler,
    CosineParamScheduler,
    ExponentialParamScheduler,
    LinearParamScheduler,
    MultiStepParamScheduler,
    PolynomialDecayParamScheduler,
    StepParamScheduler,
    StepWithFixedGammaParamScheduler,
    CompositeParamScheduler,
):
    register(
        Kind(
            name=_params.__name__,
            library=Library.FVCORE,
            params=_params,
            evaluate=evaluate_param_scheduler,
            doc=(_params.__doc__ or "").split("\n\n")[0].strip() + _DOC_SUFFIX,
            needs_base_lr=True,
            nested_fields=("schedulers",) if _params is CompositeParamScheduler else (),
        )
    )

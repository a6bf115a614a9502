"""What the loop reports (per-update and eval events), the hooks it calls, and how it stops."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = [
    "EvalEvent",
    "Hooks",
    "NonFiniteError",
    "RuntimeLimitExceeded",
    "StepEvent",
    "TrainingCancelled",
    "TrainingResult",
    "TrainingStopped",
]


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One optimizer update. ``step`` counts updates done (1-based, HF ``global_step``), so the
    update used ``lr = lrs[:, step - 1]``. ``loss``: mean per-sample loss over the ``samples``
    of the accumulated batch; ``grad_norm``: total gradient norm (``norm_type``) before clipping,
    after AMP unscaling; ``clipped``: clipping changed the gradient; ``nonfinite``: the loss (or,
    without fp16 loss scaling, the gradient) is NaN/inf; ``skipped``: the optimizer did not
    apply this update (fp16 overflow, or a non-finite update that ends the run)."""

    step: int
    epoch: int
    lr: tuple[float, ...]
    momentum: tuple[float, ...] | None
    loss: float
    grad_norm: float
    clipped: bool
    samples: int
    samples_per_s: float
    elapsed_s: float
    nonfinite: bool
    skipped: bool
    kind: str = "step"

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)


@dataclass(frozen=True, slots=True)
class EvalEvent:
    """Validation after ``step`` updates: mean per-sample loss, accuracy (fraction of correct
    classes / next tokens) where the task has one."""

    step: int
    epoch: int
    val_loss: float
    accuracy: float | None
    samples: int
    elapsed_s: float
    kind: str = "eval"

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)


def _fields(event: StepEvent | EvalEvent) -> dict[str, Any]:
    """The event's fields as a dict (values are immutable: no deep copy, once per update)."""
    return {name: getattr(event, name) for name in _NAMES[type(event)]}


# Field names per event class, read once: ``dataclasses.fields`` builds its tuple at every
# call, and a fast loop reports every update.
_NAMES = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (StepEvent, EvalEvent)}


@dataclass(frozen=True)
class Hooks:
    """Callbacks of a run; all optional.

    ``on_checkpoint`` receives the state every ``checkpoint_every_steps`` updates. Its tensors are
    the live ones: serialise it (``torch.save``) before returning. ``should_cancel`` is called
    before every micro-batch; returning true stops the run with :class:`TrainingCancelled`.
    ``checkpoint_now`` is asked after every update (after the cadence checkpoint); true gives
    ``on_checkpoint`` the state at that update as well (a graceful stop checkpoints where it
    stops).
    """

    on_step: Callable[[StepEvent], None] | None = None
    on_eval: Callable[[EvalEvent], None] | None = None
    on_checkpoint: Callable[[Mapping[str, Any]], None] | None = None
    should_cancel: Callable[[], bool] | None = None
    checkpoint_now: Callable[[], bool] | None = None


@dataclass(frozen=True)
class TrainingResult:
    model: nn.Module
    steps: int
    last_loss: float | None
    last_eval: EvalEvent | None
    elapsed_s: float


class TrainingStopped(Exception):
    """The run ended before its last update; ``reason`` is a stable code for the job record."""

    reason = "stopped"

    def __init__(self, message: str, *, step: int) -> None:
        super().__init__(message)
        self.message = message
        self.step = step


class NonFiniteError(TrainingStopped):
    reason = "non_finite"


class TrainingCancelled(TrainingStopped):
    reason = "cancelled"


class RuntimeLimitExceeded(TrainingStopped):
    reason = "max_runtime"

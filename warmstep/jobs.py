"""The training job spec: what a client submits, validated once, shared by every edge.

Names follow the HF ``Trainer`` / torch spelling. The domain library cannot import the worker's
model / data registry, so ``model.name`` and ``data.name`` are not checked here: the front end
checks them against the list of names the workers advertise.

Step arithmetic (DESIGN.md "Training semantics"), for ``n`` training examples, batch size ``b``
and ``k = gradient_accumulation_steps``:

* micro-batches per epoch ``= ceil(n / b)`` (the last one may be short, never dropped);
* updates per epoch ``= ceil(ceil(n / b) / k) = ceil(n / (b * k))`` (a short last accumulation
  is one update, its loss weighted by its real sample count); an accumulation never spans epochs;
* total updates ``= max_steps`` when given, else ``epochs * updates_per_epoch``;
* ``warmup_steps`` when given, else ``ceil(warmup_ratio * total_updates)`` (HF Trainer).

Example: ``n = 1437`` (digits, 80 %), ``b = 32``, ``k = 4``: 45 micro-batches, 12 updates per
epoch (the 12th sums 1 micro-batch of 29 samples), 3 epochs -> 36 updates, ratio 0.1 -> 4 warmup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from warmstep.errors import InvalidArgument
from warmstep.plan import PlanRequest, plan

__all__ = [
    "DataSpec",
    "JobSpec",
    "ModelSpec",
    "OptimizerSpec",
    "ParamGroupSpec",
    "TrainingPlan",
    "parse_job_spec",
    "plan_training",
]

MAX_STEPS = 10_000_000
_Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]


def _norm_type(value: Any) -> float | str:
    if value == "inf":
        return "inf"
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return math.inf if math.isinf(value) else float(value)
    raise ValueError("norm_type is a number > 0 or 'inf'")


NormType = Annotated[
    float | str,
    PlainValidator(_norm_type),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "inf"}]}),
]


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    """Named component whose remaining keys are the component's own keyword arguments; the
    worker's registry validates them (``model.hidden_sizes`` ...)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ModelSpec(_Open):
    """``{"name": "mlp", "hidden_sizes": [64, 64], ...}``."""

    name: _Name


class DataSpec(_Open):
    """``{"name": "digits", "validation_fraction": 0.2, ...}``; the split is fixed by the seed."""

    name: _Name
    validation_fraction: float = Field(0.2, ge=0.0, lt=1.0)


class ParamGroupSpec(_Open):
    """One explicit param group: parameters whose dotted name matches a pattern, with their own
    optimizer keyword arguments (``{"params": ["head.*"], "lr": 1e-3}``). A pattern with
    ``*?[`` is an ``fnmatch`` glob on the full name, otherwise a substring of it."""

    params: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=100
    )
    lr: float | None = Field(None, ge=0.0)


class OptimizerSpec(_Open):
    """A ``torch.optim`` class by name with its own keyword arguments.

    Param groups, in this order (the order of the rows of the LR curve):

    0. the default group: every parameter no later group claims (may be empty);
    1..n. ``groups``, in the order given; a parameter joins the first group that matches it;
    last. when ``no_decay`` is set, a group with ``weight_decay=0`` for the parameters whose name
       matches one of its patterns (``["bias", "norm"]``) and no earlier explicit group claimed.
    """

    type: _Name
    lr: float = Field(1e-3, ge=0.0)
    groups: list[ParamGroupSpec] = Field(default_factory=list, max_length=32)
    no_decay: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = None

    def group_lrs(self) -> list[float]:
        """Base LR of every param group, in group order (the engine's ``base_lrs``)."""
        explicit = [self.lr if g.lr is None else g.lr for g in self.groups]
        return [self.lr, *explicit, *([self.lr] if self.no_decay else [])]


class JobSpec(_Forbid):
    """A training job. One *step* is one optimizer update (HF Trainer meaning)."""

    name: str | None = Field(None, max_length=200)
    labels: dict[Annotated[str, Field(max_length=100)], Annotated[str, Field(max_length=500)]] = (
        Field(default_factory=dict, max_length=32)
    )
    model: ModelSpec
    data: DataSpec
    optimizer: OptimizerSpec
    schedule: dict[str, Any] | None = None
    scheduler_interval: Literal["step", "epoch"] = "step"
    batch_size: int = Field(32, ge=1, le=65_536)
    gradient_accumulation_steps: int = Field(1, ge=1, le=65_536)
    epochs: int | None = Field(None, ge=1, le=100_000)
    max_steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    warmup_steps: int | None = Field(None, ge=0, le=MAX_STEPS)
    warmup_ratio: float | None = Field(None, ge=0.0, le=1.0)
    max_grad_norm: float | None = Field(None, gt=0.0)
    norm_type: NormType = 2.0
    clip_value: float | None = Field(None, gt=0.0)
    eval_every_steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    checkpoint_every_steps: int | None = Field(None, ge=1, le=MAX_STEPS)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    batchnorm_momentum: float | None = Field(None, gt=0.0, le=1.0)
    max_runtime_s: float | None = Field(None, gt=0.0)

    @model_validator(mode="after")
    def _check_combinations(self) -> JobSpec:
        # InvalidArgument (not ValueError) passes through pydantic untouched and names the field.
        if self.epochs is not None and self.max_steps is not None:
            raise InvalidArgument("give epochs or max_steps, not both", field="max_steps")
        if self.max_grad_norm is not None and self.clip_value is not None:
            raise InvalidArgument(
                "clip by norm (max_grad_norm) or by value (clip_value), not both",
                field="clip_value",
            )
        if self.warmup_steps is not None and self.warmup_ratio is not None:
            raise InvalidArgument(
                "give warmup_steps or warmup_ratio, not both", field="warmup_ratio"
            )
        if self.schedule is not None and not isinstance(self.schedule.get("type"), str):
            raise InvalidArgument("missing schedule 'type'", field="schedule.type")
        return self

    @property
    def norm_type_value(self) -> float:
        """``norm_type`` as the float torch takes (``'inf'`` -> ``math.inf``)."""
        return math.inf if self.norm_type == "inf" else float(self.norm_type)  # 'inf': JSON

    @property
    def num_groups(self) -> int:
        return len(self.optimizer.group_lrs())


def parse_job_spec(data: Any) -> JobSpec:
    """Validate a submitted job; every error is an :class:`InvalidArgument` naming its field
    (``{"batch_size": 0}`` -> field ``batch_size``; ``optimizer.lr`` for nested ones)."""
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        raise InvalidArgument.from_validation(exc, unknown="unknown field") from None


@dataclass(frozen=True)
class TrainingPlan:
    """The resolved totals of a job (the module docstring has the arithmetic)."""

    train_examples: int
    micro_batches_per_epoch: int
    updates_per_epoch: int
    epochs: int
    total_updates: int
    warmup_steps: int


def plan_training(spec: JobSpec, train_examples: int) -> TrainingPlan:
    """Resolve the step totals of ``spec`` for a training split of ``train_examples``: the
    arithmetic of :func:`warmstep.plan.plan` (the query API's plan), applied to the job."""
    if train_examples < 1:
        raise InvalidArgument("the training split is empty", field="data.validation_fraction")
    request = PlanRequest(
        examples=train_examples,
        batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        epochs=spec.epochs,
        max_steps=spec.max_steps,
        warmup_steps=spec.warmup_steps,
        warmup_ratio=spec.warmup_ratio,
        scheduler_interval=spec.scheduler_interval,
    )
    result = plan(request)
    if result.total_updates > MAX_STEPS:
        raise InvalidArgument(
            f"{result.total_updates} updates is over the bound {MAX_STEPS}", field="epochs"
        )
    return TrainingPlan(
        train_examples,
        result.micro_batches_per_epoch,
        result.updates_per_epoch,
        result.epochs,
        result.total_updates,
        result.warmup_steps,
    )

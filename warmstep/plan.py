"""The plan helper: the step arithmetic users get wrong, as HF ``Trainer`` does it.

For ``n = examples``, ``b = batch_size``, ``k = gradient_accumulation_steps``:

* micro-batches per epoch ``m = ceil(n / b)``; the last one is short (``n - (m - 1) * b``
  samples) unless ``drop_last``, which makes ``m = floor(n / b)`` and drops ``n mod b`` samples;
* optimizer updates per epoch ``U = ceil(m / k)``: a short last accumulation (``m - (U - 1) * k``
  micro-batches) is still one update, as in HF ``Trainer`` (its loss is averaged over its real
  sample count, not divided by ``k``); an accumulation never spans two epochs;
* total updates ``T = max_steps`` when given (it overrides ``epochs``, and ``epochs`` becomes
  ``ceil(T / U)``, the last one partial), else ``epochs * U``; neither given means one epoch,
  as a training job does;
* warmup ``= warmup_steps``, or ``ceil(T * warmup_ratio)`` in floating point as HF
  ``TrainingArguments.get_warmup_steps`` computes it, or 0.

Example (seed 000, pytorch-transformers' ``num_train_optimization_steps = examples / batch_size /
gradient_accumulation_steps``): 24 examples, batch 3, k = 2 -> 8 micro-batches, 4 updates per
epoch, the same 4 updates as batch 6 without accumulation. With 25 examples: 9 micro-batches
(the last holds 1 sample), 5 updates per epoch, the 5th made of 1 micro-batch; the seed's
``int(25 / 3 / 2) = 4`` would undercount.

``scheduler_interval='epoch'`` steps the scheduler once per epoch (torch's classic loop), so the
schedule needs ``epochs`` values and every update of epoch ``e`` uses value ``e``
(:func:`expand_per_epoch`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from warmstep.errors import InvalidArgument

__all__ = ["PlanRequest", "PlanResult", "expand_per_epoch", "plan"]

FloatArray = npt.NDArray[np.float64]
MAX_UPDATES = 10**12  # a plan is arithmetic only; this bound keeps the answer a sane number


class PlanRequest(BaseModel):
    """A training setup, spelled as HF ``TrainingArguments`` spells it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    examples: int = Field(ge=1, le=10**12, description="training examples per epoch")
    batch_size: int = Field(ge=1, le=10**9, description="samples per micro-batch")
    gradient_accumulation_steps: int = Field(1, ge=1, le=10**6)
    epochs: int | None = Field(None, ge=1, le=10**6)
    max_steps: int | None = Field(None, ge=1, le=MAX_UPDATES, description="overrides epochs")
    warmup_steps: int | None = Field(None, ge=0, le=MAX_UPDATES)
    warmup_ratio: float | None = Field(None, ge=0.0, le=1.0)
    drop_last: bool = False
    scheduler_interval: Literal["step", "epoch"] = "step"

    @field_validator("warmup_ratio")
    @classmethod
    def _one_warmup(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and info.data.get("warmup_steps") is not None:
            raise ValueError("give warmup_steps or warmup_ratio, not both")
        return value


class PlanResult(BaseModel):
    """The resolved counts; ``notes`` explains the choices made for this request."""

    model_config = ConfigDict(frozen=True)

    micro_batches_per_epoch: int
    updates_per_epoch: int
    total_updates: int
    warmup_steps: int
    epochs: int
    last_accumulation_micro_batches: int = Field(
        description="micro-batches summed by the last update of each epoch (1..k)"
    )
    last_micro_batch_samples: int = Field(description="samples in the last micro-batch of an epoch")
    samples_per_update: int = Field(description="batch_size * gradient_accumulation_steps")
    dropped_examples_per_epoch: int = Field(description="examples drop_last leaves out")
    scheduler_steps: int = Field(
        description="values the schedule must provide: total_updates, or epochs when stepped "
        "per epoch"
    )
    notes: list[str]


def plan(request: PlanRequest) -> PlanResult:
    """Resolve the counts of ``request`` (module docstring: the arithmetic and an example)."""
    n, b, k = request.examples, request.batch_size, request.gradient_accumulation_steps
    micro = n // b if request.drop_last else -(-n // b)
    if micro == 0:
        raise InvalidArgument(
            f"drop_last with batch_size {b} > examples {n} leaves no batch", field="batch_size"
        )
    per_epoch = -(-micro // k)
    last_accumulation = micro - (per_epoch - 1) * k
    last_micro = b if request.drop_last else n - (micro - 1) * b
    notes = [_batches_note(n, b, micro, last_micro, request.drop_last)]
    notes.append(_accumulation_note(k, micro, per_epoch, last_accumulation))
    if request.max_steps is not None:
        total, epochs = request.max_steps, -(-request.max_steps // per_epoch)
        notes.append(_max_steps_note(request, total, per_epoch, epochs))
    else:
        epochs = request.epochs if request.epochs is not None else 1
        total = epochs * per_epoch
        if request.epochs is None:
            notes.append("neither epochs nor max_steps given: one epoch, as a training job does")
    if total > MAX_UPDATES:
        raise InvalidArgument(f"{total} updates is over the bound {MAX_UPDATES}", field="epochs")
    warmup = _warmup(request, total, notes)
    scheduler_steps = total if request.scheduler_interval == "step" else epochs
    if request.scheduler_interval == "epoch":
        notes.append(
            f"scheduler_interval='epoch': the schedule is stepped {epochs} times, once per "
            f"epoch; updates e*{per_epoch} .. (e+1)*{per_epoch}-1 use its value e, and its "
            "own step counts (T_max, warmup ...) are in epochs"
        )
    return PlanResult(
        micro_batches_per_epoch=micro,
        updates_per_epoch=per_epoch,
        total_updates=total,
        warmup_steps=warmup,
        epochs=epochs,
        last_accumulation_micro_batches=last_accumulation,
        last_micro_batch_samples=last_micro,
        samples_per_update=b * k,
        dropped_examples_per_epoch=n - micro * b if request.drop_last else 0,
        scheduler_steps=scheduler_steps,
        notes=notes,
    )


def _batches_note(n: int, b: int, micro: int, last_micro: int, drop_last: bool) -> str:
    if n % b == 0:
        return f"{n} examples / batch_size {b} = {micro} full micro-batches per epoch"
    if drop_last:
        return (
            f"drop_last: floor({n} / {b}) = {micro} micro-batches per epoch, the last "
            f"{n - micro * b} examples are not seen in an epoch"
        )
    return (
        f"ceil({n} / {b}) = {micro} micro-batches per epoch; the last holds {last_micro} "
        "sample(s) (kept: drop_last is false)"
    )


def _accumulation_note(k: int, micro: int, per_epoch: int, last_accumulation: int) -> str:
    if k == 1:
        return f"no gradient accumulation: one update per micro-batch, {per_epoch} per epoch"
    text = f"ceil({micro} / {k}) = {per_epoch} optimizer updates per epoch"
    if last_accumulation == k:
        return text
    return (
        f"{text}; the last one accumulates only {last_accumulation} micro-batch(es) and is still "
        "one update (HF Trainer), its loss averaged over its real sample count, not divided by "
        f"{k}; an accumulation never spans two epochs"
    )


def _max_steps_note(request: PlanRequest, total: int, per_epoch: int, epochs: int) -> str:
    text = f"max_steps {total}: ceil({total} / {per_epoch}) = {epochs} epoch(s)"
    if total % per_epoch:
        text += f", the last one stops after {total - (epochs - 1) * per_epoch} update(s)"
    if request.epochs is not None and request.epochs != epochs:
        text += f"; max_steps overrides epochs={request.epochs} (HF Trainer)"
    return text


def _warmup(request: PlanRequest, total: int, notes: list[str]) -> int:
    if request.warmup_steps is not None:
        warmup = request.warmup_steps
    elif request.warmup_ratio is not None:
        ratio = request.warmup_ratio
        warmup = math.ceil(total * ratio)  # HF TrainingArguments.get_warmup_steps, in float
        notes.append(f"warmup_ratio {ratio}: ceil({total} * {ratio}) = {warmup} warmup steps")
        decimal = math.ceil(total * Fraction(repr(ratio)))
        if decimal != warmup:
            notes.append(
                f"in exact decimal arithmetic this would be {decimal}; {warmup} is what HF "
                f"computes ({total} * {ratio} = {total * ratio!r} in floating point)"
            )
    else:
        return 0
    if warmup > total:
        notes.append(f"warmup {warmup} exceeds the {total} updates: training ends in warmup")
    return warmup


def expand_per_epoch(
    values_per_epoch: npt.ArrayLike, updates_per_epoch: int, total_updates: int
) -> FloatArray:
    """Per-update values of a schedule stepped once per epoch: ``out[..., u] =
    values_per_epoch[..., u // updates_per_epoch]`` along the last axis (a leading axis may hold
    param groups). Example: ``[1.0, 0.5]``, 3 updates per epoch, 5 updates ->
    ``[1.0, 1.0, 1.0, 0.5, 0.5]``. Needs ``ceil(total_updates / updates_per_epoch)`` values."""
    values = np.asarray(values_per_epoch, dtype=np.float64)
    if updates_per_epoch < 1:
        raise InvalidArgument("updates_per_epoch must be >= 1", field="updates_per_epoch")
    if total_updates < 0:
        raise InvalidArgument("total_updates must be >= 0", field="total_updates")
    needed = -(-total_updates // updates_per_epoch)
    if values.ndim == 0 or values.shape[-1] < needed:
        have = values.shape[-1] if values.ndim else 0
        raise InvalidArgument(
            f"{total_updates} updates at {updates_per_epoch} per epoch need {needed} per-epoch "
            f"values, got {have}",
            field="schedule",
        )
    epoch_of_update = np.arange(total_updates) // updates_per_epoch
    return np.asarray(values[..., epoch_of_update], dtype=np.float64)

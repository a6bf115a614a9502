"""The engine's vocabulary: what a schedule kind is, what it is evaluated against, what it returns.

A *kind* is one library's public schedule callable (``torch.optim.lr_scheduler.OneCycleLR``,
``transformers.get_cosine_schedule_with_warmup``, ``optax.warmup_cosine_decay_schedule`` ...).
It is described once by a :class:`Kind`: its library, its keyword arguments as a pydantic model
spelled exactly as the library spells them (that model is also the JSON Schema the catalog shows),
and a pure ``evaluate`` function from (arguments, :class:`EvalContext`) to a :class:`Curve`.

Index convention (DESIGN.md): ``Curve.lr[g, i]`` is the learning rate that the library's own
training loop uses for optimizer update ``i`` (0-based) in param group ``g``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from warmstep.errors import InvalidArgument

FloatArray = npt.NDArray[np.float64]


class Library(enum.StrEnum):
    TORCH = "torch"
    TRANSFORMERS = "transformers"
    PYTORCH_TRANSFORMERS = "pytorch_transformers"
    TIMM = "timm"
    KERAS = "keras"
    OPTAX = "optax"
    FVCORE = "fvcore"
    DETECTRON2 = "detectron2"
    MASKRCNN_BENCHMARK = "maskrcnn_benchmark"
    MXNET = "mxnet"
    FAIRSEQ = "fairseq"
    TENSORFLOW = "tensorflow"
    WARMSTEP = "warmstep"  # kinds named by the project's seeds that no single library has


class KindParams(BaseModel):
    """Base of every kind's argument model: unknown arguments are refused, never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True)
class Curve:
    """Per-group learning rates, shape ``(groups, steps)``, and the momentum (or Adam beta1) curve
    for kinds that cycle it (``OneCycleLR``, ``CyclicLR``), else ``None``. Always float64; kinds
    that compute in float32 (keras, optax) hold float32 values widened exactly to float64."""

    lr: FloatArray
    momentum: FloatArray | None = None


# Resolves a nested spec (a plain mapping as the user wrote it) into its kind's evaluation.
# Composite kinds use it for their children; ``path`` names the field for error messages.
NestedResolver = Callable[[Mapping[str, Any], str], "ResolvedSchedule"]


@dataclass(frozen=True)
class EvalContext:
    """Everything an evaluation may depend on besides the kind's own arguments.

    ``steps``: how many values to produce (indices ``0 .. steps-1``).
    ``base_lrs``: one float64 per param group; for kinds whose arguments are absolute values
    (keras, optax, MXNet, CyclicLR, OneCycleLR ...) they only fix the number of groups.
    ``metrics``: for metric-driven kinds; call ``i`` receives ``metrics[i-1]`` (value 0 sees none).
    ``path``: dotted location of this spec inside the request, for error messages
    (``"schedule"``, ``"schedule.schedulers[1]"``).
    """

    steps: int
    base_lrs: FloatArray
    metrics: FloatArray | None = None
    path: str = "schedule"
    resolve: NestedResolver | None = field(default=None, compare=False, repr=False)

    @property
    def groups(self) -> int:
        return int(self.base_lrs.shape[0])

    def child(self, path: str) -> EvalContext:
        return EvalContext(self.steps, self.base_lrs, self.metrics, path, self.resolve)

    def with_steps(self, steps: int) -> EvalContext:
        return EvalContext(steps, self.base_lrs, self.metrics, self.path, self.resolve)


Evaluate = Callable[[Any, EvalContext], Curve]


@dataclass(frozen=True)
class Kind:
    """One library schedule. ``name`` is the library's own spelling; ``params`` its arguments."""

    name: str
    library: Library
    params: type[KindParams]
    evaluate: Evaluate
    doc: str
    needs_base_lr: bool
    takes_metrics: bool = False
    cycles_momentum: bool = False
    # Composite kinds: names of the fields that hold nested specs (schema shows them as objects).
    nested_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResolvedSchedule:
    """A validated spec: its kind and parsed arguments, ready to evaluate any number of times."""

    kind: Kind
    params: KindParams
    path: str

    def evaluate(self, context: EvalContext) -> Curve:
        """The kind's curve. Arithmetic the library itself could not do with these arguments
        (Python's OverflowError, ZeroDivisionError, a math domain error, a float64 overflow)
        becomes an InvalidArgument naming this spec, as the library's own exception would stop
        its loop."""
        try:
            # Overflow and invalid operations raise (FloatingPointError) rather than answer inf
            # or NaN silently; underflow to 0 is a normal end of a decay.
            with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
                return self.kind.evaluate(self.params, context.child(self.path))
        except (ArithmeticError, ValueError) as exc:
            raise InvalidArgument(
                f"{self.kind.name} cannot be computed with these arguments "
                f"({type(exc).__name__}: {exc})",
                field=self.path,
            ) from None

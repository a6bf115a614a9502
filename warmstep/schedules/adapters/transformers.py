"""transformers 5.23 ``transformers.optimization`` schedules, reproduced bit for bit.

Every ``get_*_schedule*`` returns a torch ``LambdaLR(optimizer, λ)``, so value i (the lr of
optimizer update i) is ``b_g · λ(i)`` for each group's base lr ``b_g``, computed in float64 with
the library's own operation order: the linear, cosine (both min-lr kinds too), hard-restart,
polynomial, inverse-sqrt and warmup-stable-decay lambdas as compiled loops
(:mod:`._transformers_loops`), the others with numpy. ``optimizer`` is implied and
``last_epoch`` is not an argument.
``get_reduce_on_plateau_schedule`` and ``get_greedy_schedule`` are metric-driven
(:mod:`._transformers_metric`); ``get_scheduler`` dispatches by name.

Hidden input made explicit: ``get_polynomial_decay_schedule_with_warmup`` and the two
``cosine_with_min_lr`` kinds (with ``min_lr``) read ``optimizer.defaults['lr']``, the lr given
to the optimizer constructor, and use it for every group. Here it is the optional argument
``optimizer_lr``; when omitted it is the first group's base lr.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import ValidationInfo, model_validator

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import (
    Curve,
    EvalContext,
    Evaluate,
    FloatArray,
    Kind,
    KindParams,
    Library,
    ResolvedSchedule,
)
from warmstep.schedules._registry import register, resolve_spec
from warmstep.schedules.adapters import _transformers_metric as metric
from warmstep.schedules.adapters.torch import plateau as torch_plateau

__all__ = [
    "TRANSFORMERS_KINDS",
    "evaluate_constant_warmup",
    "evaluate_cosine",
    "evaluate_hard_restarts",
    "evaluate_linear",
]


def _fail(info: ValidationInfo, name: str, message: str) -> InvalidArgument:
    path = (info.context or {}).get("path", "schedule")
    return InvalidArgument(message, field=f"{path}.{name}")


# The helpers below work in place on the fresh float64 arrays their callers hand them (each pass
# over a 10^6-step curve then writes memory already in cache, not a new array); every operation
# and its order are those of the Python expression it replaces (IEEE + and * commute exactly).


def _scaled(context: EvalContext, lam: FloatArray) -> Curve:
    """LambdaLR: ``base_lr * λ(e)`` per group (one group: in place into ``lam``)."""
    if context.base_lrs.shape[0] == 1:
        np.multiply(lam, context.base_lrs[0], out=lam)
        return Curve(lr=lam[None, :])
    return Curve(lr=context.base_lrs[:, None] * lam[None, :])


def _warmup(s: FloatArray, warmup: int, body: FloatArray) -> FloatArray:
    """``float(s) / float(max(1, W))`` for s < W, else ``body`` (written into ``body``); ``s`` is
    the increasing step index (:func:`_steps`), so the warmup is a prefix: only it is computed."""
    ramp = int(np.searchsorted(s, warmup, side="left"))
    body[:ramp] = s[:ramp] / float(max(1, warmup))
    return body


def _optimizer_lr(value: float | None, context: EvalContext) -> float:
    return float(context.base_lrs[0]) if value is None else value


class ConstantParams(KindParams):
    """``get_constant_schedule(optimizer)``: λ = 1. b=0.1: 0.1, 0.1, …"""


class ConstantWarmupParams(KindParams):
    """``get_constant_schedule_with_warmup(optimizer, num_warmup_steps)``:
    λ = s/max(1, W) for s < W, else 1. W=4, b=1: 0, 0.25, 0.5, 0.75, 1, 1, …"""

    num_warmup_steps: int


class LinearParams(KindParams):
    """``get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps)``:
    warmup, then ``max(0, (N - s) / max(1, N - W))``. W=2, N=6, b=1: 0, 0.5, 1, 0.75, 0.5, 0.25,
    0, 0, …"""

    num_warmup_steps: int
    num_training_steps: int


class CosineParams(LinearParams):
    """``get_cosine_schedule_with_warmup(…, num_cycles=0.5)``: warmup, then with
    ``p = (s - W) / max(1, N - W)``: ``max(0, 0.5·(1 + cos(π·num_cycles·2·p)))``, not clamped
    past N (it rises again). W=0, N=4, b=1: 1, 0.854, 0.5, 0.146, 0, 0.146, …"""

    num_cycles: float = 0.5


class HardRestartsParams(LinearParams):
    """``get_cosine_with_hard_restarts_schedule_with_warmup(…, num_cycles=1)``: warmup, then
    0 for p ≥ 1, else ``max(0, 0.5·(1 + cos(π·((num_cycles·p) mod 1))))``.
    W=0, N=4, num_cycles=2, b=1: 1, 0.5, 1, 0.5, 0, 0, …"""

    num_cycles: float = 1


class PolynomialParams(LinearParams):
    """``get_polynomial_decay_schedule_with_warmup(…, lr_end=1e-7, power=1.0)``: with
    ``lr_init = optimizer_lr`` (torch: ``optimizer.defaults['lr']``; default the first group's
    base lr): warmup; ``lr_end / lr_init`` for s > N; else
    ``((lr_init - lr_end)·(1 - (s-W)/(N-W))^power + lr_end) / lr_init``. Every group is scaled
    by the same ratio. lr_init must exceed lr_end; N == W divides by zero at step N.
    W=0, N=4, lr_end=0, power=2, b=1: 1, 0.5625, 0.25, 0.0625, 0, 0, …"""

    lr_end: float = 1e-7
    power: float = 1.0
    optimizer_lr: float | None = None


class InverseSqrtParams(KindParams):
    """``get_inverse_sqrt_schedule(optimizer, num_warmup_steps, timescale=None)``: timescale
    defaults to ``W or 10000``; warmup, then ``1 / sqrt((s + timescale - W) / timescale)``.
    W=4, b=1: 0, 0.25, 0.5, 0.75, 1, 0.894, 0.816, …"""

    num_warmup_steps: int
    timescale: int | None = None


class _MinLrBase(LinearParams):
    num_cycles: float = 0.5
    min_lr: float | None = None
    min_lr_rate: float | None = None
    optimizer_lr: float | None = None

    @model_validator(mode="after")
    def _one_of(self, info: ValidationInfo) -> _MinLrBase:
        if self.min_lr is not None and self.min_lr_rate is not None:
            raise _fail(info, "min_lr", "Only one of min_lr or min_lr_rate should be set")
        if self.min_lr is None and self.min_lr_rate is None:
            raise _fail(info, "min_lr_rate", "One of min_lr or min_lr_rate should be set")
        return self

    def rate(self, context: EvalContext) -> float:
        if self.min_lr_rate is not None:
            return self.min_lr_rate
        assert self.min_lr is not None
        lr = _optimizer_lr(self.optimizer_lr, context)
        if lr == 0.0:
            raise InvalidArgument(
                "min_lr / optimizer.defaults['lr'] divides by zero",
                field=f"{context.path}.optimizer_lr",
            )
        return self.min_lr / lr


class MinLrParams(_MinLrBase):
    """``get_cosine_with_min_lr_schedule_with_warmup(…, num_cycles=0.5, min_lr=None,
    min_lr_rate=None)``: exactly one of min_lr (rate = min_lr / optimizer_lr) or min_lr_rate;
    warmup, then ``max(0, f·(1 - rate) + rate)`` with f the cosine factor of
    ``get_cosine_schedule_with_warmup`` (not clamped past N).
    W=0, N=2, min_lr_rate=0.1, b=1: 1, 0.55, 0.1, 0.55, …"""


class MinLrRateParams(_MinLrBase):
    """``get_cosine_with_min_lr_schedule_with_warmup_lr_rate(…, warmup_lr_rate=None)``: warmup
    ``(s + 1) / max(1, W)`` (warmup_lr_rate None: non-zero at s=0, 1 at s=W-1) or
    ``r + (1 - r)·s / max(1, W - 1)``; then the min-rate cosine of ``p = (s - W + 1) /
    max(1, N - W)``. W=2, N=4, min_lr_rate=0, b=1: 0.5, 1, 0.5, 0, 0.5, …"""

    warmup_lr_rate: float | None = None


Shape = Literal["linear", "cosine", "1-sqrt"]


class WsdParams(KindParams):
    """``get_wsd_schedule(optimizer, num_warmup_steps, num_decay_steps, num_training_steps=None,
    num_stable_steps=None, warmup_type='linear', decay_type='cosine', min_lr_ratio=0,
    num_cycles=0.5)``: S = num_stable_steps, else N - W - D. Warmup p = s/max(1,W) (linear p,
    cosine 0.5(1 - cos πp), 1-sqrt 1 - sqrt(1-p)); stable 1; decay p = (s-W-S)/max(1,D)
    (linear 1-p, cosine 0.5(1 + cos 2π·num_cycles·p), 1-sqrt 1 - sqrt p); warmup and decay map
    ``max(0, f(1-m) + m)``, m = min_lr_ratio, which is also the value after the decay.
    W=2, D=2, N=6, linear/linear, b=1: 0, 0.5, 1, 1, 1, 0.5, 0, …"""

    num_warmup_steps: int
    num_decay_steps: int
    num_training_steps: int | None = None
    num_stable_steps: int | None = None
    warmup_type: Shape = "linear"
    decay_type: Shape = "cosine"
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5

    @model_validator(mode="after")
    def _stable(self, info: ValidationInfo) -> WsdParams:
        if self.num_training_steps is None and self.num_stable_steps is None:
            raise _fail(
                info,
                "num_training_steps",
                "Either num_training_steps or num_stable_steps must be specified.",
            )
        return self

    @property
    def stable(self) -> int:
        if self.num_stable_steps is not None:
            return self.num_stable_steps
        assert self.num_training_steps is not None
        return self.num_training_steps - self.num_warmup_steps - self.num_decay_steps


def _steps(context: EvalContext) -> FloatArray:
    return np.arange(context.steps, dtype=np.float64)


def _constant(p: ConstantParams, context: EvalContext) -> Curve:
    return _scaled(context, np.ones(context.steps))


def evaluate_constant_warmup(p: ConstantWarmupParams, context: EvalContext) -> Curve:
    s = _steps(context)
    return _scaled(context, _warmup(s, p.num_warmup_steps, np.ones(context.steps)))


def evaluate_linear(p: LinearParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    lr = loops.linear(context.steps, context.base_lrs, p.num_warmup_steps, p.num_training_steps)
    return Curve(lr=lr)


def evaluate_cosine(p: CosineParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    w, n, cycles = p.num_warmup_steps, p.num_training_steps, float(p.num_cycles)
    return Curve(lr=loops.cosine(context.steps, context.base_lrs, w, n, cycles))


def evaluate_hard_restarts(p: HardRestartsParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    w, n, cycles = p.num_warmup_steps, p.num_training_steps, float(p.num_cycles)
    return Curve(lr=loops.hard_restarts(context.steps, context.base_lrs, w, n, cycles))


def _polynomial(p: PolynomialParams, context: EvalContext) -> Curve:
    lr_init = _optimizer_lr(p.optimizer_lr, context)
    if not lr_init > p.lr_end:
        raise InvalidArgument(
            f"lr_end ({p.lr_end}) must be smaller than initial lr ({lr_init})",
            field=f"{context.path}.lr_end",
        )
    w, n = p.num_warmup_steps, p.num_training_steps
    if n == w and context.steps > n >= 0:
        raise InvalidArgument(
            f"transformers divides by num_training_steps - num_warmup_steps = 0 at step {n} "
            "(ZeroDivisionError)",
            field=f"{context.path}.num_training_steps",
        )
    if p.power < 0 and context.steps > n >= w:
        raise InvalidArgument(
            f"transformers raises 0.0 ** {p.power} (ZeroDivisionError) at step {n}",
            field=f"{context.path}.power",
        )
    from warmstep.schedules.adapters import _transformers_loops as loops

    return Curve(
        lr=loops.polynomial(context.steps, context.base_lrs, w, n, p.lr_end, p.power, lr_init)
    )


def _inverse_sqrt(p: InverseSqrtParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    w = p.num_warmup_steps
    timescale = (w or 10_000) if p.timescale is None else p.timescale
    try:
        if timescale == 0 and context.steps > w:
            raise loops.StepFailure(w)  # Python divides by timescale = 0
        return Curve(lr=loops.inverse_sqrt(context.steps, context.base_lrs, w, timescale))
    except loops.StepFailure as failure:
        raise InvalidArgument(
            f"transformers fails at step {failure.step}: 1 / sqrt((step + timescale - W) / "
            f"timescale) with timescale={timescale} is undefined",
            field=f"{context.path}.timescale",
        ) from None


def _min_lr(p: MinLrParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    rate = p.rate(context)
    w, n, cycles = p.num_warmup_steps, p.num_training_steps, float(p.num_cycles)
    return Curve(lr=loops.cosine(context.steps, context.base_lrs, w, n, cycles, rate))


def _min_lr_rate(p: MinLrRateParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    rate = p.rate(context)
    w, n, cycles = p.num_warmup_steps, p.num_training_steps, float(p.num_cycles)
    warmup_rate = None if p.warmup_lr_rate is None else float(p.warmup_lr_rate)
    lr = loops.cosine_lr_rate(context.steps, context.base_lrs, w, n, cycles, rate, warmup_rate)
    return Curve(lr=lr)


def _wsd(p: WsdParams, context: EvalContext) -> Curve:
    from warmstep.schedules.adapters import _transformers_loops as loops

    lr = loops.wsd(
        context.steps,
        context.base_lrs,
        p.num_warmup_steps,
        p.stable,
        p.num_decay_steps,
        p.warmup_type,
        p.decay_type,
        float(p.min_lr_ratio),
        float(p.num_cycles),
    )
    return Curve(lr=lr)


_MATHS: dict[str, tuple[type[KindParams], Evaluate, str]] = {
    "get_constant_schedule": (ConstantParams, _constant, "constant"),
    "get_constant_schedule_with_warmup": (
        ConstantWarmupParams,
        evaluate_constant_warmup,
        "constant_with_warmup",
    ),
    "get_linear_schedule_with_warmup": (LinearParams, evaluate_linear, "linear"),
    "get_cosine_schedule_with_warmup": (CosineParams, evaluate_cosine, "cosine"),
    "get_cosine_with_hard_restarts_schedule_with_warmup": (
        HardRestartsParams,
        evaluate_hard_restarts,
        "cosine_with_restarts",
    ),
    "get_polynomial_decay_schedule_with_warmup": (PolynomialParams, _polynomial, "polynomial"),
    "get_inverse_sqrt_schedule": (InverseSqrtParams, _inverse_sqrt, "inverse_sqrt"),
    "get_reduce_on_plateau_schedule": (
        torch_plateau.ReduceLROnPlateauParams,
        torch_plateau.evaluate,
        "reduce_lr_on_plateau",
    ),
    "get_cosine_with_min_lr_schedule_with_warmup": (MinLrParams, _min_lr, "cosine_with_min_lr"),
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": (
        MinLrRateParams,
        _min_lr_rate,
        "cosine_warmup_with_min_lr",
    ),
    "get_wsd_schedule": (WsdParams, _wsd, "warmup_stable_decay"),
    "get_greedy_schedule": (metric.GreedyParams, metric.evaluate_greedy, "greedy"),
}
_BY_NAME = {alias: name for name, (_, _, alias) in _MATHS.items()}
_METRIC_DRIVEN = ("reduce_lr_on_plateau", "greedy")

SchedulerName = Literal[
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
    "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr",
    "cosine_warmup_with_min_lr", "warmup_stable_decay", "greedy",
]  # fmt: skip


class GetSchedulerParams(KindParams):
    """``get_scheduler(name, optimizer, num_warmup_steps=None, num_training_steps=None,
    scheduler_specific_kwargs=None)``, dispatching exactly as transformers does: 'constant'
    ignores everything else; 'reduce_lr_on_plateau' / 'greedy' take only the kwargs;
    'constant_with_warmup' takes W only (kwargs ignored); 'inverse_sqrt' W + kwargs;
    'warmup_stable_decay' W, N + kwargs; the rest need W and N. A missing W or N, or a kwarg the
    target does not take, is an error. ``optimizer_lr`` goes into the kwargs of 'polynomial' and
    'cosine_with_min_lr' / 'cosine_warmup_with_min_lr'."""

    name: SchedulerName
    num_warmup_steps: int | None = None
    num_training_steps: int | None = None
    scheduler_specific_kwargs: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _dispatch(self, info: ValidationInfo) -> GetSchedulerParams:
        self.target(str((info.context or {}).get("path", "schedule")))
        return self

    def target(self, path: str) -> ResolvedSchedule:
        """The function ``get_scheduler`` calls, with its validated arguments."""
        target = _BY_NAME[self.name]
        kwargs = dict(self.scheduler_specific_kwargs or {})
        named: dict[str, int | None] = {}
        if self.name in ("constant", "constant_with_warmup"):
            kwargs = {}
        if self.name not in ("constant", *_METRIC_DRIVEN):
            if self.num_warmup_steps is None:
                raise InvalidArgument(
                    f"{self.name} requires `num_warmup_steps`, please provide that argument.",
                    field=f"{path}.num_warmup_steps",
                )
            named["num_warmup_steps"] = self.num_warmup_steps
        if self.name in ("warmup_stable_decay",):
            named["num_training_steps"] = self.num_training_steps
        elif self.name not in ("constant", "constant_with_warmup", "inverse_sqrt", *_METRIC_DRIVEN):
            if self.num_training_steps is None:
                raise InvalidArgument(
                    f"{self.name} requires `num_training_steps`, please provide that argument.",
                    field=f"{path}.num_training_steps",
                )
            named["num_training_steps"] = self.num_training_steps
        sub = f"{path}.scheduler_specific_kwargs"
        for key in sorted(kwargs):
            if key in named:
                raise InvalidArgument(
                    f"got multiple values for keyword argument {key!r}", field=f"{sub}.{key}"
                )
            if key in ("type", "library"):
                raise InvalidArgument("unknown argument", field=f"{sub}.{key}")
        spec = {"type": target, "library": Library.TRANSFORMERS.value, **named, **kwargs}
        return resolve_spec(spec, sub)


def _get_scheduler(p: GetSchedulerParams, context: EvalContext) -> Curve:
    return p.target(context.path).evaluate(context)


_LAMBDA_DOC = " Value i = b·λ(i) (LambdaLR after i step() calls); scales each group's base lr."
_METRIC_DOC = (
    " Metric-driven: value i = lr after step(metrics[0]) … step(metrics[i-1]); value 0 = the "
    "base lr of each group."
)


def _first_line(text: str | None) -> str:
    return " ".join((text or "").split())


TRANSFORMERS_KINDS = [
    register(
        Kind(
            name=name,
            library=Library.TRANSFORMERS,
            params=params,
            evaluate=evaluate,
            doc=_first_line(params.__doc__)
            + (_METRIC_DOC if alias in _METRIC_DRIVEN else _LAMBDA_DOC),
            needs_base_lr=True,
            takes_metrics=alias in _METRIC_DRIVEN,
        )
    )
    for name, (params, evaluate, alias) in _MATHS.items()
] + [
    register(
        Kind(
            name="get_scheduler",
            library=Library.TRANSFORMERS,
            params=GetSchedulerParams,
            evaluate=_get_scheduler,
            doc=_first_line(GetSchedulerParams.__doc__) + " The metric-driven names need a "
            "metrics series.",
            needs_base_lr=True,
        )
    )
]

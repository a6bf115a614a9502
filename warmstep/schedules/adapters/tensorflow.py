"""TensorFlow 1.x ``tf.compat.v1.train.polynomial_decay`` and BERT's warmup in front of it.

TF converts a Python ``learning_rate`` to a float32 tensor and casts everything else
(global_step, decay_steps, end_learning_rate, power) to that dtype, so the whole computation is
float32; it is reproduced here in float32 with the same operation order and widened exactly to
float64. Index: an update with ``global_step = i`` uses the lr computed from ``i`` and then
increments it, so **value i = polynomial_decay(global_step=i)**. The learning rates are absolute
(from the spec); every param group gets the same curve.

``pow`` for ``power != 1`` is numpy's float32 power; TF's Eigen kernel may differ from it by an
ulp (power = 1, the default and BERT's value, is exact in both).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from warmstep.errors import InvalidArgument
from warmstep.schedules._core import Curve, EvalContext, Kind, KindParams, Library
from warmstep.schedules._registry import register

__all__ = ["BertPolynomialDecayParams", "PolynomialDecayParams", "polynomial_decay_f32"]

F32 = np.float32
Float32Array = npt.NDArray[np.float32]


class PolynomialDecayParams(KindParams):
    """``tf.compat.v1.train.polynomial_decay(learning_rate, global_step, decay_steps,
    end_learning_rate=0.0001, power=1.0, cycle=False)``, global_step implied, in float32::

        step = min(step, decay_steps)                            (cycle=False)
        decay_steps = decay_steps · max(1, ceil(step / decay_steps))  (cycle=True; 1 at step 0)
        lr = (learning_rate - end_learning_rate) · (1 - step / decay_steps) ^ power
             + end_learning_rate

    learning_rate=0.1, decay_steps=4, end=0: 0.1, 0.075, 0.05, 0.025, 0, 0, … (float32:
    value 0 is 0.10000000149011612). decay_steps = 0 gives NaN in TF and is refused."""

    learning_rate: float
    decay_steps: int
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False


def polynomial_decay_f32(p: PolynomialDecayParams, steps: int, path: str) -> Float32Array:
    """The float32 values of ``polynomial_decay`` at global_step = 0 … steps-1."""
    if p.decay_steps == 0:
        raise InvalidArgument(
            "TensorFlow computes step / decay_steps with decay_steps = 0: NaN learning rates",
            field=f"{path}.decay_steps",
        )
    lr0, end, power = F32(p.learning_rate), F32(p.end_learning_rate), F32(p.power)
    step = np.arange(steps, dtype=np.int64).astype(F32)
    decay_steps = F32(p.decay_steps)
    if p.cycle:
        multiplier = np.where(step == 0, F32(1.0), np.ceil(step / decay_steps))
        span = decay_steps * multiplier
    else:
        step = np.minimum(step, decay_steps)
        span = np.full_like(step, decay_steps)
    fraction = step / span
    with np.errstate(all="ignore"):  # a negative decay_steps gives a negative base, as in TF
        decayed = np.power(F32(1) - fraction, power)
    out: Float32Array = (lr0 - end) * decayed + end
    return out


class BertPolynomialDecayParams(KindParams):
    """BERT's ``optimization.create_optimizer(loss, init_lr, num_train_steps,
    num_warmup_steps, …)`` learning rate: ``polynomial_decay(init_lr, global_step,
    num_train_steps, end_learning_rate=0.0, power=1.0, cycle=False)`` (BERT fixes those three;
    they are arguments here with BERT's values as defaults) and, if num_warmup_steps is non-zero,
    ``is_warmup = float(step < num_warmup_steps)``,
    ``lr = (1 - is_warmup)·decayed + is_warmup·(init_lr · step / num_warmup_steps)``, all float32.
    init_lr=1e-4, num_train_steps=10, num_warmup_steps=2: 0, 5e-5, 8e-5, 7e-5, 6e-5, … (each
    rounded to float32)."""

    init_lr: float
    num_train_steps: int
    num_warmup_steps: int
    end_learning_rate: float = 0.0
    power: float = 1.0
    cycle: bool = False


def _curve(values: Float32Array, context: EvalContext) -> Curve:
    row = values.astype(np.float64)
    return Curve(lr=np.repeat(row[None, :], context.groups, axis=0))


def _polynomial(p: PolynomialDecayParams, context: EvalContext) -> Curve:
    return _curve(polynomial_decay_f32(p, context.steps, context.path), context)


def _bert(p: BertPolynomialDecayParams, context: EvalContext) -> Curve:
    decay = PolynomialDecayParams(
        learning_rate=p.init_lr,
        decay_steps=p.num_train_steps,
        end_learning_rate=p.end_learning_rate,
        power=p.power,
        cycle=p.cycle,
    )
    try:
        lr = polynomial_decay_f32(decay, context.steps, context.path)
    except InvalidArgument as exc:
        raise InvalidArgument(exc.message, field=f"{context.path}.num_train_steps") from None
    if p.num_warmup_steps:
        step = np.arange(context.steps, dtype=np.int64)
        is_warmup = (step < p.num_warmup_steps).astype(F32)
        done = step.astype(F32) / F32(p.num_warmup_steps)
        warmup_lr = F32(p.init_lr) * done
        lr = (F32(1.0) - is_warmup) * lr + is_warmup * warmup_lr
    return _curve(lr, context)


_SUFFIX = (
    " Value i = the lr at global_step i (float32, widened). Absolute: every group gets this curve."
)

TENSORFLOW_KINDS = [
    register(
        Kind(
            name=name,
            library=Library.TENSORFLOW,
            params=params,
            evaluate=evaluate,
            doc=" ".join((params.__doc__ or "").split()) + _SUFFIX,
            needs_base_lr=False,
        )
    )
    for name, params, evaluate in (
        ("polynomial_decay", PolynomialDecayParams, _polynomial),
        ("bert_polynomial_decay_with_warmup", BertPolynomialDecayParams, _bert),
    )
]
